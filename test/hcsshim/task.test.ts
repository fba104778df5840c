/**
 * hcsshim §5.2 (`task_hcs_test.go`, H1–H19) through the node, the task actor
 * and the simulated HCS.
 *
 * Adapted: upstream builds a task whose init and extra exec are both
 * `created` out of fakes. Through a real system an exec can only be added
 * while the init runs (hcsshim's own CreateExec rule), so the setup starts
 * the init first. Where upstream relied on fake statuses (ForceExit giving 1,
 * Kill giving 0) the real statuses are asserted: a deleted created init is 0
 * (hcsshim's comment on H11), a SIGTERM'd `sleep` is 143.
 * H20–H23 test Windows-only helpers (isolated job container `cmd /c`
 * wrapping, CPU affinity on a silo job object) that podvisor has no
 * counterpart for: it runs no job containers and pins no CPUs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FaultHandle } from '../../src/hcs/sim/faults.ts';
import { harness, linux, rejection, type Harness } from '../helpers/harness.ts';

const T = 'task1';
const E = 'extra1';
let h: Harness;

beforeEach(async () => {
  h = harness();
  await h.node.create({ id: T, spec: linux('sleep inf') });
});
afterEach(async () => {
  if ((await h.node.list()).tasks.length > 0) {
    await h.node.kill({ id: T, signal: 9, all: true }).catch(() => undefined);
    await h.node.wait({ id: T });
    await h.node.delete({ id: T });
  }
  expect(await h.close()).toEqual({ openSystems: 0, tasks: 0 });
});

async function withExtra(start: boolean): Promise<void> {
  await h.node.start({ id: T });
  await h.node.exec({ id: T, execId: E, spec: { args: ['sh', '-c', 'sleep inf'] } });
  if (start) await h.node.start({ id: T, execId: E });
}

const st = (execId = '') => h.node.state({ id: T, execId });

/** Holds the container's shutdown so the teardown's effect on execs can be told apart from a kill's. */
function holdTeardown(): FaultHandle {
  return h.backend.faults.inject({ op: 'shutdownSystem', systemId: T, action: { type: 'hang' } });
}

describe('task (§5.2)', () => {
  it('H1 the task answers with its id', async () => {
    expect((await st()).id).toBe(T);
  });

  it('H2 exec "" is the init, reported with the task id as exec id', async () => {
    expect(await st('')).toMatchObject({ id: T, execId: T, status: 'created' });
  });

  it('H3 an unknown exec is not_found', async () => {
    expect((await rejection(st('shouldnotmatch'))).code).toBe('not_found');
  });

  it('H4 the extra exec is found by its id', async () => {
    await withExtra(false);
    expect(await st(E)).toMatchObject({ id: T, execId: E, status: 'created', pid: 0 });
  });

  it('H5 kill of an unknown exec is not_found', async () => {
    expect((await rejection(h.node.kill({ id: T, execId: 'thisshouldnotmatch', signal: 15 }))).code).toBe('not_found');
  });

  it('H6 kill of the init without all leaves the extra exec alone', async () => {
    await withExtra(false);
    const hold = holdTeardown();
    await h.node.kill({ id: T, signal: 15 });
    await h.advance(0);
    expect((await st()).status).toBe('stopped');
    expect((await st(E)).status).toBe('created');
    hold.release();
  });

  it('H7 kill of the init with all exits the extra exec too', async () => {
    await withExtra(false);
    const hold = holdTeardown();
    await h.node.kill({ id: T, signal: 15, all: true });
    await h.advance(0);
    expect((await st()).status).toBe('stopped');
    expect(await st(E)).toMatchObject({ status: 'stopped', exitStatus: 1 });
    hold.release();
  });

  it('H8 kill of the extra exec exits it', async () => {
    await withExtra(false);
    await h.node.kill({ id: T, execId: E, signal: 15 });
    expect((await st(E)).status).toBe('stopped');
    expect((await st()).status).toBe('running');
  });

  it('H9 kill of the extra exec with all is failed_precondition', async () => {
    await withExtra(false);
    expect((await rejection(h.node.kill({ id: T, execId: E, signal: 15, all: true }))).code).toBe('failed_precondition');
    expect((await st(E)).status).toBe('created');
  });

  it('H10 delete of an unknown exec is not_found', async () => {
    expect((await rejection(h.node.delete({ id: T, execId: 'thisshouldnotmatch' }))).code).toBe('not_found');
  });

  it('H11 delete of a created init succeeds with pid 0 and status 0', async () => {
    const reply = await h.node.delete({ id: T });
    expect(reply).toMatchObject({ pid: 0, exitStatus: 0 });
    expect(reply.exitedAt).not.toBeNull();
    expect(h.sink.topics(T)).toEqual(['create', `exit:${T}`, 'delete:']);
  });

  it('H12 delete of a running init is failed_precondition and changes nothing', async () => {
    const { pid } = await h.node.start({ id: T });
    expect((await rejection(h.node.delete({ id: T }))).code).toBe('failed_precondition');
    expect(await st()).toMatchObject({ status: 'running', pid });
  });

  it('H13 delete of an init exited through kill returns its pid, status and exit time', async () => {
    const { pid } = await h.node.start({ id: T });
    await h.node.kill({ id: T, signal: 15 });
    const waited = await h.node.wait({ id: T });
    const reply = await h.node.delete({ id: T });
    expect(reply).toEqual({ pid, exitStatus: 143, exitedAt: waited.exitedAt });
  });

  it('H14 delete of a running init fails, and still exits the created extra exec', async () => {
    await withExtra(false);
    expect((await rejection(h.node.delete({ id: T }))).code).toBe('failed_precondition');
    expect(await st(E)).toMatchObject({ status: 'stopped', exitStatus: 1 });
    expect((await st()).status).toBe('running');
  });

  it('H15 delete of a running init fails, and still exits the running extra exec', async () => {
    await withExtra(true);
    expect((await rejection(h.node.delete({ id: T }))).code).toBe('failed_precondition');
    expect(await h.node.wait({ id: T, execId: E })).toMatchObject({ exitStatus: 137 });
    expect((await st()).status).toBe('running');
  });

  it('H16 delete of an exited init with an exited extra exec returns the init values', async () => {
    await withExtra(true);
    await h.node.kill({ id: T, execId: E, signal: 9 });
    await h.node.wait({ id: T, execId: E });
    const { pid } = await st();
    await h.node.kill({ id: T, signal: 15 });
    await h.node.wait({ id: T });
    expect(await h.node.delete({ id: T })).toMatchObject({ pid, exitStatus: 143 });
    expect(h.sink.topics(T).at(-1)).toBe('delete:');
  });

  it('H17 delete of a created extra exec returns its final values (pid 0, status 0) and removes it', async () => {
    await withExtra(false);
    const reply = await h.node.delete({ id: T, execId: E });
    expect(reply).toMatchObject({ pid: 0, exitStatus: 0 });
    expect((await rejection(st(E))).code).toBe('not_found');
  });

  it('H18 delete of a running extra exec is failed_precondition and changes nothing', async () => {
    await withExtra(true);
    const before = await st(E);
    expect((await rejection(h.node.delete({ id: T, execId: E }))).code).toBe('failed_precondition');
    expect(await st(E)).toEqual(before);
  });

  it('H19 with init and extra exec exited, delete of the extra exec returns its values', async () => {
    await withExtra(true);
    const { pid } = await st(E);
    await h.node.kill({ id: T, signal: 9 });
    await h.node.wait({ id: T });
    const exited = await st(E);
    expect(exited.status).toBe('stopped');
    expect(await h.node.delete({ id: T, execId: E })).toEqual({ pid, exitStatus: exited.exitStatus, exitedAt: exited.exitedAt });
    expect(h.sink.topics(T)).toEqual(['create', 'start', `exec-added:${E}`, `exec-started:${E}`, `exit:${E}`, `exit:${T}`, `delete:${E}`]);
  });
});
