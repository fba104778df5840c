/**
 * Every operation and every error code over a real nats-server, through the
 * NATS services protocol.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm } from '@nats-io/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATIONS } from '../../src/actors/operations.ts';
import type { Podvisor } from '../../src/bus/server.ts';
import type { SimBackend } from '../../src/hcs/sim/backend.ts';
import { linux, sandboxOf } from '../helpers/harness.ts';
import { request, serveNode, startTestNats, type ServedNode, type TestNats } from '../helpers/nats.ts';

let nats: TestNats;
let served: ServedNode;
let pv: Podvisor;
let nc: NatsConnection;
let backend: SimBackend;
const cmd = (op: string, body: unknown = {}, timeout?: number) => request(nc, `podvisor.n1.task.${op}`, body, timeout);

beforeAll(async () => {
  nats = await startTestNats();
  served = await serveNode(nats, 'n1');
  ({ pv, backend } = served);
  nc = await nats.client();
});
afterAll(async () => {
  await served?.stop();
  await nats?.stop();
});

describe('commands over NATS', () => {
  it('$SRV.INFO lists one endpoint per operation on <prefix>.<node>.task.<op>', async () => {
    const infos = await new Svcm(nc).client().info('podvisor');
    const all = [];
    for await (const i of infos) all.push(i);
    const mine = all.find((i) => i.metadata?.['node'] === 'n1');
    expect(mine?.endpoints.map((e) => e.subject).sort()).toEqual(OPERATIONS.map((op) => `podvisor.n1.task.${op}`).sort());
  });

  it('$SRV.PING answers for the node', async () => {
    const pings = [];
    for await (const p of await new Svcm(nc).client().ping('podvisor')) pings.push(p);
    expect(pings.some((p) => p.metadata?.['node'] === 'n1')).toBe(true);
  });

  it('drives a task through create, start, exec, state, pids, stats, update, pause, resume, resize, close-io, wait, kill, delete', async () => {
    expect(await cmd('create', { id: 't1', terminal: true, spec: linux('sleep inf') })).toMatchObject({ ok: true, body: { pid: 0 } });
    const started = await cmd('start', { id: 't1' });
    expect(started.ok).toBe(true);
    expect(await cmd('exec', { id: 't1', execId: 'e1', spec: { args: ['sh', '-c', 'exit 5'] } })).toMatchObject({ ok: true, body: {} });
    expect((await cmd('start', { id: 't1', execId: 'e1' })).ok).toBe(true);
    expect(await cmd('wait', { id: 't1', execId: 'e1' })).toMatchObject({ ok: true, body: { exitStatus: 5 } });
    expect(await cmd('state', { id: 't1' })).toMatchObject({ ok: true, body: { id: 't1', execId: 't1', status: 'running', pid: started.body['pid'], exitedAt: null, exitStatus: 255 } });
    expect((await cmd('pids', { id: 't1' })).body['processes']).toHaveLength(1);
    expect((await cmd('stats', { id: 't1' })).body['stats']).toMatchObject({ processCount: 1 });
    expect(await cmd('update', { id: 't1', resources: { memory: { limit: 1048576 } } })).toMatchObject({ ok: true });
    expect(await cmd('pause', { id: 't1' })).toMatchObject({ ok: true });
    expect(await cmd('resume', { id: 't1' })).toMatchObject({ ok: true });
    expect(await cmd('resize-pty', { id: 't1', width: 100, height: 30 })).toMatchObject({ ok: true });
    expect(await cmd('close-io', { id: 't1', stdin: true })).toMatchObject({ ok: true });
    expect(await cmd('connect', { id: 't1' })).toMatchObject({ ok: true, body: { shimPid: process.pid, taskPid: started.body['pid'] } });
    expect((await cmd('list')).body['tasks']).toEqual([expect.objectContaining({ id: 't1', podId: 't1', status: 'running' })]);
    const waited = cmd('wait', { id: 't1' });
    expect(await cmd('kill', { id: 't1', signal: 9 })).toMatchObject({ ok: true });
    expect(await waited).toMatchObject({ ok: true, body: { exitStatus: 137 } });
    expect(await cmd('delete', { id: 't1' })).toMatchObject({ ok: true, body: { exitStatus: 137 } });
    expect(await cmd('shutdown', { id: 't1' })).toMatchObject({ ok: true });
  });

  it('a wait longer than any request timeout: the caller sets its own', async () => {
    await cmd('create', { id: 'slow', spec: linux('sleep 1.5; exit 9') });
    await cmd('start', { id: 'slow' });
    // The default request timeout elsewhere in this suite is 5 s; this one is 10 s and the
    // process outlives several typical 500 ms client timeouts.
    expect(await cmd('wait', { id: 'slow' }, 10_000)).toMatchObject({ ok: true, body: { exitStatus: 9 } });
    await cmd('delete', { id: 'slow' });
  });

  const errors: [string, string, unknown, string, string, RegExp][] = [
    ['invalid_argument', 'malformed JSON', '{not json', 'create', '400', /not JSON/],
    ['invalid_argument', 'an unknown field', { id: 'x', bogus: 1 }, 'state', '400', /unknown field 'bogus'/],
    ['invalid_argument', 'an unknown nested field', { id: 'x', rootfs: [{ type: 'bind', bogus: 1 }] }, 'create', '400', /unknown field 'rootfs\.0\.bogus'/],
    ['invalid_argument', 'a wrong type', { id: 'x', signal: 'TERM' }, 'kill', '400', /field 'signal'/],
    ['invalid_argument', 'a missing field', { id: 'x' }, 'kill', '400', /field 'signal'/],
    ['invalid_argument', 'a bad id', { id: 'a.b' }, 'state', '400', /field 'id'/],
    ['invalid_argument', 'a bad signal', { id: 'pod1', signal: 99 }, 'kill', '400', /signal 99/],
    ['not_found', 'an unknown task', { id: 'ghost' }, 'state', '404', /task 'ghost' not found/],
    ['already_exists', 'a task id in use', { id: 'pod1', spec: linux('true') }, 'create', '409', /'pod1' already exists/],
    ['failed_precondition', 'a start of a running task', { id: 'pod1' }, 'start', '412', /'running' for start/],
    ['not_implemented', 'checkpoint', { id: 'pod1' }, 'checkpoint', '501', /checkpoint/],
  ];
  for (const [code, what, body, op, number, names] of errors) {
    it(`${code} (${number}) for ${what}, with the service error headers and JSON body`, async () => {
      if ((await cmd('state', { id: 'pod1' })).errorCode === 'not_found') {
        await cmd('create', { id: 'pod1', spec: linux('sleep inf', sandboxOf('pod1')) });
        await cmd('start', { id: 'pod1' });
      }
      const answer = await cmd(op, body);
      expect(answer.ok).toBe(false);
      expect(answer.headerCode).toBe(number);
      expect(answer.errorCode).toBe(code);
      expect((answer.body['error'] as { message: string }).message).toMatch(names);
    });
  }

  it('internal (500) when the backend fails, naming the backend error', async () => {
    await cmd('create', { id: 'broken', spec: linux('sleep inf') });
    backend.faults.inject({ op: 'startSystem', systemId: 'broken', action: { type: 'error', hresult: 0x80004005 } });
    const answer = await cmd('start', { id: 'broken' });
    expect(answer).toMatchObject({ ok: false, headerCode: '500', errorCode: 'internal' });
    expect((answer.body['error'] as { message: string }).message).toMatch(/0x80004005/);
    await cmd('wait', { id: 'broken' });
    await cmd('delete', { id: 'broken' });
  });

  it('unavailable (503) while the node drains', async () => {
    const other = await serveNode(nats, 'n2');
    await other.pv.node.close();
    const answer = await request(nc, 'podvisor.n2.task.list', {});
    expect(answer).toMatchObject({ ok: false, headerCode: '503', errorCode: 'unavailable' });
    await other.stop();
  });
});
