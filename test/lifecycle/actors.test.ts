/**
 * The actor system's own guarantees: operations on one actor are
 * linearisable (decision 5), actors of different tasks never wait on each
 * other, failures never escape as unhandled errors, and the development
 * build of XState is the one under test.
 */
import { PassThrough } from 'node:stream';
import { Subject } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createActor, createMachine } from 'xstate';
import { MemorySink } from '../../src/actors/memory-sink.ts';
import { Node } from '../../src/actors/node.ts';
import { VirtualClock, settle } from '../../src/clock.ts';
import { SimBackend } from '../../src/hcs/sim/backend.ts';
import { HRESULT } from '../../src/hcs/hresults.ts';
import { createLogger, silentLogger } from '../../src/log.ts';
import { harness, linux, rejection, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  expect((await h.close()).openSystems).toBe(0);
});

async function finish(id: string): Promise<void> {
  await h.node.kill({ id, signal: 9, all: true }).catch(() => undefined);
  await h.node.wait({ id });
  await h.node.delete({ id });
}

describe('linearisable per actor (decision 5)', () => {
  it('a kill sent while the start is in flight takes effect after it, never fails because of the overlap', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    const hang = h.backend.faults.inject({ op: 'createProcess', systemId: 't1', action: { type: 'hang' } });
    const started = h.node.start({ id: 't1' });
    const killed = h.node.kill({ id: 't1', signal: 15 });
    await settle();
    expect((await h.node.state({ id: 't1' })).status).toBe('created');
    hang.release();
    const { pid } = await started;
    await killed;
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 143 });
    expect(h.sink.topics('t1')).toEqual(['create', 'start', 'exit:t1']);
    expect(pid).toBeGreaterThan(0);
    await h.node.delete({ id: 't1' });
  });

  it('two concurrent creates of one id: one succeeds, the other is already_exists', async () => {
    const results = await Promise.allSettled([
      h.node.create({ id: 'same', spec: linux('true') }),
      h.node.create({ id: 'same', spec: linux('true') }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(failed.reason.code).toBe('already_exists');
    await h.node.delete({ id: 'same' });
  });

  it('two concurrent starts of one exec: the first starts it, the second is failed_precondition', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['sh', '-c', 'sleep inf'] } });
    const results = await Promise.allSettled([h.node.start({ id: 't1', execId: 'e1' }), h.node.start({ id: 't1', execId: 'e1' })]);
    expect(results[0]?.status).toBe('fulfilled');
    expect(results[1]?.status === 'rejected' && results[1].reason.code).toBe('failed_precondition');
    expect(h.sink.topics('t1').filter((t) => t === 'exec-started:e1')).toHaveLength(1);
    await finish('t1');
  });
});

describe('independent actors', () => {
  it('a task whose backend call hangs does not delay another task', async () => {
    await h.node.create({ id: 'slow', spec: linux('sleep inf') });
    await h.node.create({ id: 'fast', spec: linux('sleep inf') });
    const hang = h.backend.faults.inject({ op: 'startSystem', systemId: 'slow', action: { type: 'hang' } });
    const slow = h.node.start({ id: 'slow' });
    await h.node.start({ id: 'fast' });
    await h.node.exec({ id: 'fast', execId: 'e1', spec: { args: ['true'] } });
    await h.node.start({ id: 'fast', execId: 'e1' });
    expect(await h.node.wait({ id: 'fast', execId: 'e1' })).toMatchObject({ exitStatus: 0 });
    await finish('fast');
    expect((await h.node.state({ id: 'slow' })).status).toBe('created');
    hang.release();
    await slow;
    await finish('slow');
    expect(hang.hits).toBe(1);
  });

  it('a backend error becomes a typed error and the task stays usable', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    h.backend.faults.inject({ op: 'startSystem', systemId: 't1', action: { type: 'error', hresult: HRESULT.ERROR_ACCESS_DENIED } });
    const err = await rejection(h.node.start({ id: 't1' }));
    expect(err.code).toBe('internal');
    expect(err.message).toMatch(/task 't1'.*0x00000005/);
    // hcsshim: a failed start leaves the process exited with status 1, and the task is torn down.
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 1 });
    await h.node.delete({ id: 't1' });
  });
});

describe('failures never escape', () => {
  it('a backend whose notification stream fails drains the node instead of crashing the process', async () => {
    const uncaught = vi.fn();
    process.on('uncaughtException', uncaught);
    try {
      const backend = new SimBackend({ clock: new VirtualClock() });
      const failing = new Subject<never>();
      Object.defineProperty(backend, 'notifications', { value: failing.asObservable() });
      const node = new Node({ backend, sink: new MemorySink(), log: silentLogger() });
      failing.error(new Error('notification channel broke'));
      await settle();
      expect(node.status).toBe('draining');
      expect((await rejection(node.list())).code).toBe('unavailable');
      await node.close();
      await backend.close();
      expect(uncaught).not.toHaveBeenCalled();
    } finally {
      process.off('uncaughtException', uncaught);
    }
  });

  it('a sink that fails to publish is logged, not thrown into the lifecycle', async () => {
    const backend = new SimBackend({ clock: new VirtualClock() });
    const logged = new PassThrough();
    let lines = '';
    logged.on('data', (c: Buffer) => (lines += c.toString()));
    const node = new Node({
      backend,
      sink: { publish: () => Promise.reject(new Error('NATS is down')) },
      log: createLogger({ level: 'error', destination: logged }),
    });
    await node.create({ id: 't1', spec: linux('exit 2') });
    await node.start({ id: 't1' });
    expect(await node.wait({ id: 't1' })).toMatchObject({ exitStatus: 2 });
    await node.delete({ id: 't1' });
    await node.close();
    await backend.close();
    const errors = lines.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; taskId: string; topic: string });
    expect(errors.map((e) => e.topic)).toEqual(['create', 'start', 'exit', 'delete']);
    expect(errors.every((e) => e.msg === 'publishing a lifecycle event failed' && e.taskId === 't1')).toBe(true);
  });

  it("an exec's log lines carry its pod, task and exec ids, and the init's carry no exec id", async () => {
    // Each actor's child logger is made on its first line: the bindings must still be there.
    const backend = new SimBackend({ clock: new VirtualClock() });
    const logged = new PassThrough();
    let lines = '';
    logged.on('data', (c: Buffer) => (lines += c.toString()));
    const node = new Node({ backend, sink: { publish: async () => undefined }, log: createLogger({ level: 'warn', destination: logged }) });
    await node.create({ id: 't1', spec: linux('sleep 1000') });
    await node.start({ id: 't1' });
    await node.exec({ id: 't1', execId: 'e1', spec: { args: ['no-such-program'] } });
    await rejection(node.start({ id: 't1', execId: 'e1' }));
    await node.create({ id: 't2', spec: { process: { args: ['no-such-program'] }, linux: {} } });
    await rejection(node.start({ id: 't2' }));
    await node.close();
    await backend.close();
    const failed = lines.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l['msg'] === 'start failed');
    expect(failed.map(({ podId, taskId, execId }) => ({ podId, taskId, execId }))).toEqual([
      { podId: 't1', taskId: 't1', execId: 'e1' },
      { podId: 't2', taskId: 't2', execId: undefined },
    ]);
  });

  it('runs against the development build of XState (its stopped-actor warning is there)', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const actor = createActor(createMachine({}));
    actor.start();
    actor.stop();
    actor.send({ type: 'PING' });
    expect(warn.mock.calls.flat().join(' ')).toMatch(/stopped actor/);
    warn.mockRestore();
  });
});
