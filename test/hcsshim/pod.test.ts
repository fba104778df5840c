/**
 * reference/hcsshim.md §5.3 (`pod_test.go`, P1–P21) through the node: a
 * Linux pod on the simulated HCS whose sandbox runs `sleep inf` with one
 * extra exec, and workload tasks created in it. P22 is in rules.test.ts.
 *
 * Adapted: upstream's pod is made of fakes (a fake sandbox task with a fake
 * init of pid 10 and an extra exec, fake workloads without execs). Here the
 * sandbox is a real container (an LCOW-style pod has one, §3.2), pids are
 * what `start` returned, and a SIGTERM'd `sleep inf` exits 143. P13 and P14
 * are vacuous upstream (the fake workload has no extra execs); here the
 * workload has them, so the rule they state is actually exercised.
 *
 * Adapted by decision 6: hcsshim never removes the sandbox (its shim dies
 * with the pod), so upstream's P15 finds the sandbox after deleting it and
 * P17 deletes it twice. podvisor's node outlives its pods: deleting the
 * sandbox removes the pod (later lookups are not_found), and is
 * failed_precondition while workload tasks remain.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FaultHandle } from '../../src/hcs/sim/faults.ts';
import { harness, linux, rejection, sandboxOf, workloadOf, type Harness } from '../helpers/harness.ts';

const POD = 'p-pod';
const SBX = 'p-sbexec';
let h: Harness;
let sandboxPid: number;
let sbxPid: number;

beforeEach(async () => {
  h = harness();
  await h.node.create({ id: POD, spec: linux('sleep inf', sandboxOf(POD)) });
  sandboxPid = (await h.node.start({ id: POD })).pid;
  await h.node.exec({ id: POD, execId: SBX, spec: { args: ['sh', '-c', 'sleep inf'] } });
  sbxPid = (await h.node.start({ id: POD, execId: SBX })).pid;
});

afterEach(async () => {
  h.backend.faults.clear();
  // Workloads before their sandbox (decision 6).
  const tasks = (await h.node.list()).tasks.sort((a, b) => Number(a.id === a.podId) - Number(b.id === b.podId));
  for (const t of tasks) {
    if (t.status !== 'stopped') await h.node.kill({ id: t.id, signal: 9, all: true }).catch(() => undefined);
    await h.node.wait({ id: t.id });
    await h.node.delete({ id: t.id });
  }
  expect(await h.close()).toEqual({ openSystems: 0, tasks: 0 });
});

/** A running workload task in the pod, with `execs` running extra execs named `<id>-x<n>`; resolves to its init pid. */
async function workload(id: string, execs = 0): Promise<number> {
  await h.node.create({ id, spec: linux('sleep inf', workloadOf(POD)) });
  const { pid } = await h.node.start({ id });
  for (let n = 1; n <= execs; n++) {
    await h.node.exec({ id, execId: `${id}-x${n}`, spec: { args: ['sh', '-c', 'sleep inf'] } });
    await h.node.start({ id, execId: `${id}-x${n}` });
  }
  return pid;
}

/** Holds a container's shutdown (its teardown), so only a kill can end its processes. */
function holdShutdown(systemId: string): FaultHandle {
  return h.backend.faults.inject({ op: 'shutdownSystem', systemId, action: { type: 'hang' } });
}

/** The promise's value, failing at once (not at the test timeout) if it is still pending once the actors have settled. */
async function soon<T>(p: Promise<T>, what: string): Promise<T> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  for (let i = 0; i < 10 && !settled; i++) await h.advance(0);
  if (!settled) throw new Error(`still pending: ${what}`);
  return p;
}

const state = (id: string, execId = '') => h.node.state({ id, execId });
const status = async (id: string, execId = '') => {
  const s = await state(id, execId);
  return { status: s.status, exitStatus: s.exitStatus };
};
const RUNNING = { status: 'running', exitStatus: 255 };
const TERMED = { status: 'stopped', exitStatus: 143 };

/** Every task and exec of the node with its status, for "nothing changed" assertions. */
async function snapshot(): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const t of (await h.node.list()).tasks) {
    out.push(t);
    if (t.id === POD) out.push(await state(POD, SBX).catch((e: { code: string }) => e.code));
  }
  return out;
}

describe('pod (§5.3)', () => {
  it('P1 the pod is known by its id: its sandbox task has that id and is its own pod', async () => {
    const s = await state(POD);
    expect(s.id).toBe(POD);
    expect((await h.node.list()).tasks.map((t) => [t.id, t.podId])).toEqual([[POD, POD]]);
  });

  it('P2 the pod id addresses the sandbox task: its init and its extra exec', async () => {
    expect(await state(POD)).toMatchObject({ id: POD, execId: POD, pid: sandboxPid, status: 'running' });
    expect(await state(POD, SBX)).toMatchObject({ id: POD, execId: SBX, pid: sbxPid, status: 'running' });
  });

  it('P3 a task id that is not in the pod is not_found', async () => {
    expect((await rejection(state('thisshouldnotmatch'))).code).toBe('not_found');
  });

  it('P4 a workload task is found by its id, in the pod', async () => {
    const pid = await workload('p4-w');
    expect(await state('p4-w')).toMatchObject({ id: 'p4-w', execId: 'p4-w', pid, status: 'running' });
    expect((await h.node.list()).tasks.map((t) => [t.id, t.podId])).toEqual([
      [POD, POD],
      ['p4-w', POD],
    ]);
  });

  it('P5 kill of a task that does not exist is not_found and changes nothing', async () => {
    const before = await snapshot();
    expect((await rejection(h.node.kill({ id: 'thisshouldnotmatch', signal: 15 }))).code).toBe('not_found');
    await h.advance(0);
    expect(await snapshot()).toEqual(before);
  });

  it('P6 kill of an exec the sandbox does not have is not_found and changes nothing', async () => {
    const before = await snapshot();
    expect((await rejection(h.node.kill({ id: POD, execId: 'thisshouldnotmatch', signal: 15 }))).code).toBe('not_found');
    await h.advance(0);
    expect(await snapshot()).toEqual(before);
  });

  it('P7 kill of the sandbox init succeeds; the sandbox ends, its exec exit published before its init exit', async () => {
    expect(await h.node.kill({ id: POD, signal: 15 })).toEqual({});
    expect((await h.node.wait({ id: POD })).exitStatus).toBe(143);
    // The exec was not signalled by the kill: the container's teardown ended it (a SIGTERM too).
    expect(await status(POD, SBX)).toEqual(TERMED);
    expect(h.sink.topics(POD)).toEqual(['create', 'start', `exec-added:${SBX}`, `exec-started:${SBX}`, `exit:${SBX}`, `exit:${POD}`]);
  });

  it('P8 kill with all of the pod reaches every workload and the sandbox', async () => {
    await workload('p8-a');
    await workload('p8-b');
    // The sandbox's teardown is held, so only the kill itself can end the sandbox's extra exec.
    const hold = holdShutdown(POD);
    expect(await h.node.kill({ id: POD, signal: 15, all: true })).toEqual({});
    expect((await soon(h.node.wait({ id: POD, execId: SBX }), 'the kill ending the sandbox exec')).exitStatus).toBe(143);
    hold.release();
    for (const id of ['p8-a', 'p8-b', POD]) expect((await h.node.wait({ id })).exitStatus).toBe(143);
    expect(h.sink.topics('p8-a')).toEqual(['create', 'start', 'exit:p8-a']);
    expect(h.sink.topics('p8-b')).toEqual(['create', 'start', 'exit:p8-b']);
    expect(h.sink.topics(POD).slice(-2)).toEqual([`exit:${SBX}`, `exit:${POD}`]);
  });

  it('P9 kill of the sandbox extra exec succeeds and ends only that exec', async () => {
    expect(await h.node.kill({ id: POD, execId: SBX, signal: 15 })).toEqual({});
    expect((await h.node.wait({ id: POD, execId: SBX })).exitStatus).toBe(143);
    expect(await status(POD)).toEqual(RUNNING);
    expect(h.sink.topics(POD)).toEqual(['create', 'start', `exec-added:${SBX}`, `exec-started:${SBX}`, `exit:${SBX}`]);
  });

  it('P10 kill of the sandbox extra exec with all is failed_precondition and changes nothing', async () => {
    const before = await snapshot();
    expect((await rejection(h.node.kill({ id: POD, execId: SBX, signal: 15, all: true }))).code).toBe('failed_precondition');
    await h.advance(0);
    expect(await snapshot()).toEqual(before);
  });

  it('P11 kill of a workload init succeeds and ends that workload only', async () => {
    await workload('p11-w');
    expect(await h.node.kill({ id: 'p11-w', signal: 15 })).toEqual({});
    expect((await h.node.wait({ id: 'p11-w' })).exitStatus).toBe(143);
    expect(await status(POD)).toEqual(RUNNING);
    expect(await status(POD, SBX)).toEqual(RUNNING);
  });

  it('P12 kill of a workload with all ends its init and its execs; the sandbox is untouched', async () => {
    // Adapted: the workload has an extra exec, so that `all` has something to reach; its container's
    // teardown is held, so only the kill itself can end that exec.
    await workload('p12-w', 1);
    const hold = holdShutdown('p12-w');
    expect(await h.node.kill({ id: 'p12-w', signal: 15, all: true })).toEqual({});
    expect((await soon(h.node.wait({ id: 'p12-w', execId: 'p12-w-x1' }), 'the kill ending the exec')).exitStatus).toBe(143);
    hold.release();
    expect((await h.node.wait({ id: 'p12-w' })).exitStatus).toBe(143);
    expect(h.sink.topics('p12-w')).toEqual(['create', 'start', 'exec-added:p12-w-x1', 'exec-started:p12-w-x1', 'exit:p12-w-x1', 'exit:p12-w']);
    expect(await status(POD)).toEqual(RUNNING);
    expect(await status(POD, SBX)).toEqual(RUNNING);
  });

  it('P13 kill of each workload extra exec succeeds and ends only that exec', async () => {
    await workload('p13-w', 2);
    for (const x of ['p13-w-x1', 'p13-w-x2']) {
      expect(await h.node.kill({ id: 'p13-w', execId: x, signal: 15 })).toEqual({});
      expect((await h.node.wait({ id: 'p13-w', execId: x })).exitStatus).toBe(143);
    }
    expect(await status('p13-w')).toEqual(RUNNING);
    expect(await status(POD)).toEqual(RUNNING);
  });

  it('P14 kill of a workload extra exec with all is failed_precondition and changes nothing', async () => {
    await workload('p14-w', 1);
    const before = await snapshot();
    const exec = await state('p14-w', 'p14-w-x1');
    expect((await rejection(h.node.kill({ id: 'p14-w', execId: 'p14-w-x1', signal: 15, all: true }))).code).toBe('failed_precondition');
    await h.advance(0);
    expect(await snapshot()).toEqual(before);
    expect(await state('p14-w', 'p14-w-x1')).toEqual(exec);
  });

  it('P15 kill with all, then delete of the sandbox: both succeed, and the pod is gone (decision 6)', async () => {
    await h.node.kill({ id: POD, signal: 15, all: true });
    const exit = await h.node.wait({ id: POD });
    expect(await h.node.delete({ id: POD })).toEqual({ pid: sandboxPid, exitStatus: 143, exitedAt: exit.exitedAt });
    // Upstream finds the sandbox still there; podvisor removes the pod with it.
    expect((await rejection(state(POD))).code).toBe('not_found');
    expect((await h.node.list()).tasks).toEqual([]);
    expect(h.node.podCount).toBe(0);
    expect(h.backend.openSystems).toBe(0);
    expect(h.sink.topics(POD).slice(-3)).toEqual([`exit:${SBX}`, `exit:${POD}`, 'delete:']);
    // The pod can no longer take workloads.
    expect((await rejection(h.node.create({ id: 'p15-late', spec: linux('sleep inf', workloadOf(POD)) }))).code).toBe('not_found');
  });

  it('P15 (decision 6) while a workload exists the sandbox delete is failed_precondition; after its delete, it succeeds', async () => {
    await workload('p15-w');
    await h.node.kill({ id: POD, signal: 15, all: true });
    await h.node.wait({ id: 'p15-w' });
    await h.node.wait({ id: POD });
    const before = await snapshot();
    expect((await rejection(h.node.delete({ id: POD }))).code).toBe('failed_precondition');
    expect(await snapshot()).toEqual(before);
    expect(h.sink.topics(POD)).not.toContain('delete:');
    await h.node.delete({ id: 'p15-w' });
    expect((await h.node.delete({ id: POD })).exitStatus).toBe(143);
    expect((await h.node.list()).tasks).toEqual([]);
  });

  it('P16 delete of a running sandbox is failed_precondition; its init is unchanged', async () => {
    const init = await state(POD);
    expect((await rejection(h.node.delete({ id: POD }))).code).toBe('failed_precondition');
    await h.advance(0);
    expect(await state(POD)).toEqual(init);
    expect(h.node.podCount).toBe(1);
    // Upstream calls the pod's DeleteTask alone. Through the service, as here, hcsshim's task delete
    // first force-exits the extra execs even though the delete is then refused (H15): the exec ends.
    expect((await soon(h.node.wait({ id: POD, execId: SBX }), 'the refused delete ending the exec')).exitStatus).toBe(137);
    expect(h.sink.topics(POD)).toEqual(['create', 'start', `exec-added:${SBX}`, `exec-started:${SBX}`, `exit:${SBX}`]);
  });

  it('P17 after kill with all, the first sandbox delete succeeds and a second is not_found (decision 6)', async () => {
    // Upstream: both succeed, because hcsshim's sandbox is never removed.
    await h.node.kill({ id: POD, signal: 15, all: true });
    await h.node.wait({ id: POD });
    expect((await h.node.delete({ id: POD })).pid).toBe(sandboxPid);
    expect((await rejection(h.node.delete({ id: POD }))).code).toBe('not_found');
    expect(h.sink.topics(POD).filter((t) => t === 'delete:')).toHaveLength(1);
  });

  it('P18 a workload killed with all is deleted, then not found; the pod stays', async () => {
    const pid = await workload('p18-w');
    await h.node.kill({ id: 'p18-w', signal: 15, all: true });
    const exit = await h.node.wait({ id: 'p18-w' });
    expect(await h.node.delete({ id: 'p18-w' })).toEqual({ pid, exitStatus: 143, exitedAt: exit.exitedAt });
    expect((await rejection(state('p18-w'))).code).toBe('not_found');
    expect((await h.node.list()).tasks.map((t) => t.id)).toEqual([POD]);
    expect(await status(POD)).toEqual(RUNNING);
    expect(h.sink.topics('p18-w')).toEqual(['create', 'start', 'exit:p18-w', 'delete:']);
  });

  it('P19 delete of a running workload is failed_precondition; the sandbox and the workload are unchanged', async () => {
    const pid = await workload('p19-w');
    const before = await snapshot();
    expect((await rejection(h.node.delete({ id: 'p19-w' }))).code).toBe('failed_precondition');
    await h.advance(0);
    expect(await snapshot()).toEqual(before);
    expect(await state('p19-w')).toMatchObject({ pid, status: 'running' });
    expect(h.sink.topics('p19-w')).toEqual(['create', 'start']);
  });

  it('P20 a second delete of a deleted workload is not_found', async () => {
    await workload('p20-w');
    await h.node.kill({ id: 'p20-w', signal: 15, all: true });
    await h.node.wait({ id: 'p20-w' });
    await h.node.delete({ id: 'p20-w' });
    expect((await rejection(h.node.delete({ id: 'p20-w' }))).code).toBe('not_found');
    expect(h.sink.topics('p20-w').filter((t) => t === 'delete:')).toHaveLength(1);
  });

  it('P21 kill with all of a task that was never created is not_found and reaches nothing', async () => {
    await workload('p21-a');
    await workload('p21-b');
    const before = await snapshot();
    expect((await rejection(h.node.kill({ id: 'neverCreated-7f3a', signal: 15, all: true }))).code).toBe('not_found');
    await h.advance(0);
    expect(await snapshot()).toEqual(before);
  });
});
