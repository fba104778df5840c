/**
 * reference/hcsshim.md §5.1 (E1–E12): the stand-in init of a Hyper-V
 * isolated WCOW pod sandbox. Such a pod has no sandbox container, so its
 * sandbox task's init is a stand-in: pid 1 once started, a kill ends it with
 * status 0 from running and 1 from created, a resize is always refused
 * (it has no console), closing its IO always works.
 *
 * How these differ from upstream: hcsshim's tests call the exec object
 * directly. Here every step goes through the node (state, start, kill,
 * resize-pty, close-io, wait) to the real task and exec actors, so "Pid()",
 * "State()" and "Status()" are all read from the `state` reply, and "Wait"
 * is the node's wait on the init, which answers after the task's
 * teardown and its init `exit` event (decision 8). The test name is used as
 * the pod id, and its bundle is `/bundles/<name>`, as upstream uses the test
 * name for both.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTimestamp } from '../../src/clock.ts';
import { harness, rejection, sandboxOf, windows, type Harness } from '../helpers/harness.ts';

let h: Harness;
let pod: string;

/** A Hyper-V isolated WCOW pod sandbox, created and not started. */
async function createPod(id: string): Promise<void> {
  pod = id;
  await h.node.create({ id, bundle: `/bundles/${id}`, spec: windows('cmd /c ping -t 127.0.0.1 > nul', sandboxOf(id), true) });
}

const state = () => h.node.state({ id: pod });
const now = () => formatTimestamp(h.clock.nowNs());

/** Resolves to 'pending' if the promise has not settled once every actor has settled. */
async function settledOrPending<T>(p: Promise<T>): Promise<T | 'pending'> {
  let value: T | 'pending' = 'pending';
  void p.then((v) => (value = v), () => undefined);
  await h.advance(0);
  return value;
}

beforeEach(() => {
  h = harness();
});

afterEach(async () => {
  // Whatever a test left: end it and delete it, so nothing may leak.
  for (const t of (await h.node.list()).tasks) {
    if (t.status !== 'stopped') await h.node.kill({ id: t.id, signal: 9 });
    await h.node.wait({ id: t.id });
    await h.node.delete({ id: t.id });
  }
  expect(await h.close()).toEqual({ openSystems: 0, tasks: 0 });
});

/** 'ok' or the error code, so a wrong answer shows as a value rather than a thrown error. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  }
}

const NO_STDIO = { stdin: '', stdout: '', stderr: '', terminal: false };

describe('WCOW pod sandbox stand-in init (§5.1)', () => {
  it('E1 a new sandbox init is created: pid 0, status 255, no exit time, no stdio, no terminal', async () => {
    await createPod('E1');
    expect(await state()).toEqual({
      id: 'E1',
      execId: 'E1',
      bundle: '/bundles/E1',
      pid: 0,
      status: 'created',
      exitStatus: 255,
      exitedAt: null,
      ...NO_STDIO,
    });
    // A stand-in: no compute system exists for a Hyper-V WCOW pod's sandbox.
    expect(h.backend.openSystems).toBe(0);
    expect(h.backend.systems()).toEqual([]);
    expect(h.sink.topics('E1')).toEqual(['create']);
    expect(h.sink.events[0]?.event).toMatchObject({ topic: 'create', podId: 'E1', taskId: 'E1', event: { containerId: 'E1', pid: 0 } });
  });

  it('E1 the stand-in reports no stdio and no terminal even when the create named some', async () => {
    // §1.8: the stand-in holds no IO at all; its status always has empty stdio and terminal false.
    pod = 'E1b';
    await h.node.create({ id: 'E1b', terminal: true, stdin: '', stdout: '', spec: windows('cmd /c ping -t 127.0.0.1 > nul', sandboxOf('E1b'), true) });
    expect(await state()).toMatchObject({ pid: 0, status: 'created', ...NO_STDIO });
  });

  it('E2 the sandbox init is addressed with exec id "" and reports the task id as its exec id', async () => {
    await createPod('E2');
    const s = await h.node.state({ id: 'E2', execId: '' });
    expect(s.id).toBe('E2');
    expect(s.execId).toBe('E2');
    // Listing shows it as the pod's own task.
    expect((await h.node.list()).tasks.map((t) => [t.id, t.execId, t.podId])).toEqual([['E2', 'E2', 'E2']]);
  });

  it('E3 pid is 0 before start, 1 after start, and still 1 after kill(0)', async () => {
    await createPod('E3');
    expect((await state()).pid).toBe(0);
    expect(await h.node.start({ id: 'E3' })).toEqual({ pid: 1 });
    expect((await state()).pid).toBe(1);
    expect(await h.node.kill({ id: 'E3', signal: 0 })).toEqual({});
    await h.node.wait({ id: 'E3' });
    expect(await state()).toMatchObject({ pid: 1, status: 'stopped' });
    await h.node.delete({ id: 'E3' });
  });

  it('E4 the state goes created, then running after start, then stopped after kill', async () => {
    await createPod('E4');
    const seen = [(await state()).status];
    await h.node.start({ id: 'E4' });
    seen.push((await state()).status);
    await h.node.kill({ id: 'E4', signal: 0 });
    await h.node.wait({ id: 'E4' });
    seen.push((await state()).status);
    expect(seen).toEqual(['created', 'running', 'stopped']);
    await h.node.delete({ id: 'E4' });
  });

  it('E5 the status while created, after start, and after kill', async () => {
    await createPod('E5');
    const base = { id: 'E5', execId: 'E5', bundle: '/bundles/E5', ...NO_STDIO };
    expect(await state()).toEqual({ ...base, status: 'created', pid: 0, exitStatus: 255, exitedAt: null });
    await h.node.start({ id: 'E5' });
    expect(await state()).toEqual({ ...base, status: 'running', pid: 1, exitStatus: 255, exitedAt: null });
    await h.advance(2_000);
    const killedAt = now();
    await h.node.kill({ id: 'E5', signal: 0 });
    await h.node.wait({ id: 'E5' });
    expect(await state()).toEqual({ ...base, status: 'stopped', pid: 1, exitStatus: 0, exitedAt: killedAt });
    expect(h.sink.topics('E5')).toEqual(['create', 'start', 'exit:E5']);
    expect(h.sink.events.find((r) => r.event.topic === 'start')?.event.event).toEqual({ containerId: 'E5', pid: 1 });
    expect(h.sink.events.find((r) => r.event.topic === 'exit')?.event.event).toEqual({
      containerId: 'E5',
      id: 'E5',
      pid: 1,
      exitStatus: 0,
      exitedAt: killedAt,
    });
    await h.node.delete({ id: 'E5' });
  });

  it('E6 a second start is failed_precondition and changes nothing', async () => {
    await createPod('E6');
    expect(await h.node.start({ id: 'E6' })).toEqual({ pid: 1 });
    const before = await state();
    expect(before.status).toBe('running');
    const err = await rejection(h.node.start({ id: 'E6' }));
    expect(err.code).toBe('failed_precondition');
    expect(await state()).toEqual(before);
    // One start, one start event.
    expect(h.sink.topics('E6')).toEqual(['create', 'start']);
  });

  it('E7 kill(0) of a created sandbox init stops it; a second kill is not_found', async () => {
    await createPod('E7');
    expect(await h.node.kill({ id: 'E7', signal: 0 })).toEqual({});
    await h.node.wait({ id: 'E7' });
    const after = await state();
    expect(after).toMatchObject({ status: 'stopped', pid: 0, exitStatus: 1 });
    expect((await rejection(h.node.kill({ id: 'E7', signal: 0 }))).code).toBe('not_found');
    expect(await state()).toEqual(after);
    // Never started: no start event, but the task's init exit still comes (api.md, pid 0).
    expect(h.sink.topics('E7')).toEqual(['create', 'exit:E7']);
    await h.node.delete({ id: 'E7' });
  });

  it('E8 kill(0) of a started sandbox init stops it with 0; a second kill is not_found', async () => {
    await createPod('E8');
    await h.node.start({ id: 'E8' });
    expect(await h.node.kill({ id: 'E8', signal: 0 })).toEqual({});
    await h.node.wait({ id: 'E8' });
    const after = await state();
    expect(after).toMatchObject({ status: 'stopped', pid: 1, exitStatus: 0 });
    expect((await rejection(h.node.kill({ id: 'E8', signal: 0 }))).code).toBe('not_found');
    expect(await state()).toEqual(after);
    expect(h.sink.topics('E8')).toEqual(['create', 'start', 'exit:E8']);
    await h.node.delete({ id: 'E8' });
  });

  it('E9 resize-pty is failed_precondition while created, running and stopped, and changes nothing', async () => {
    await createPod('E9');
    const resize = () => rejection(h.node.resizePty({ id: 'E9', width: 10, height: 10 }));
    const codes: string[] = [];
    for (const step of ['created', 'running', 'stopped'] as const) {
      if (step === 'running') await h.node.start({ id: 'E9' });
      if (step === 'stopped') {
        await h.node.kill({ id: 'E9', signal: 0 });
        await h.node.wait({ id: 'E9' });
      }
      const before = await state();
      expect(before.status).toBe(step);
      const err = await resize();
      codes.push(err.code);
      expect(err.message).toMatch(/tty/);
      expect(await state()).toEqual(before);
    }
    expect(codes).toEqual(['failed_precondition', 'failed_precondition', 'failed_precondition']);
    await h.node.delete({ id: 'E9' });
  });

  it('E9 resize-pty is failed_precondition even when the sandbox was created with a terminal', async () => {
    // §1.8: "always FailedPrecondition": the stand-in never has a console, whatever the create asked.
    pod = 'E9b';
    await h.node.create({ id: 'E9b', terminal: true, spec: windows('cmd /c ping -t 127.0.0.1 > nul', sandboxOf('E9b'), true) });
    const codes = [await outcome(h.node.resizePty({ id: 'E9b', width: 10, height: 10 }))];
    await h.node.start({ id: 'E9b' });
    codes.push(await outcome(h.node.resizePty({ id: 'E9b', width: 10, height: 10 })));
    expect(codes).toEqual(['failed_precondition', 'failed_precondition']);
  });

  it('E10 close-io succeeds while created, running and stopped, and changes nothing', async () => {
    await createPod('E10');
    for (const step of ['created', 'running', 'stopped'] as const) {
      if (step === 'running') await h.node.start({ id: 'E10' });
      if (step === 'stopped') {
        await h.node.kill({ id: 'E10', signal: 0 });
        await h.node.wait({ id: 'E10' });
      }
      const before = await state();
      expect(before.status).toBe(step);
      expect(await h.node.closeIo({ id: 'E10', stdin: true })).toEqual({});
      expect(await state()).toEqual(before);
    }
    await h.node.delete({ id: 'E10' });
  });

  it('E11 a wait pending on a created sandbox init answers the kill: status 1, pid 0, exit time of the kill', async () => {
    await createPod('E11');
    const waiting = h.node.wait({ id: 'E11' });
    expect(await settledOrPending(waiting)).toBe('pending');
    await h.advance(1_500);
    const before = now();
    await h.node.kill({ id: 'E11', signal: 0 });
    const reply = await waiting;
    expect(reply.exitStatus).toBe(1);
    expect(reply.exitedAt).not.toBeNull();
    expect(reply.exitedAt! >= before).toBe(true);
    expect(reply.exitedAt! <= now()).toBe(true);
    expect(await state()).toMatchObject({ status: 'stopped', pid: 0, exitStatus: 1, exitedAt: reply.exitedAt });
    // A later wait answers at once with the same status.
    expect(await settledOrPending(h.node.wait({ id: 'E11' }))).toEqual(reply);
    await h.node.delete({ id: 'E11' });
  });

  it('E12 a wait pending from before start answers the kill after start: status 0, pid 1', async () => {
    await createPod('E12');
    const waiting = h.node.wait({ id: 'E12' });
    await h.node.start({ id: 'E12' });
    expect(await settledOrPending(waiting)).toBe('pending');
    await h.advance(3_000);
    const before = now();
    await h.node.kill({ id: 'E12', signal: 0 });
    const reply = await waiting;
    expect(reply.exitStatus).toBe(0);
    expect(reply.exitedAt! >= before).toBe(true);
    expect(reply.exitedAt! <= now()).toBe(true);
    expect(await state()).toMatchObject({ status: 'stopped', pid: 1, exitStatus: 0, exitedAt: reply.exitedAt });
    expect(await settledOrPending(h.node.wait({ id: 'E12' }))).toEqual(reply);
    await h.node.delete({ id: 'E12' });
  });
});
