/**
 * hcsshim §5.1 (`exec_wcow_podsandbox_test.go`, E1–E12): the fake init of a
 * Hyper-V WCOW pod sandbox, through the whole actor system. The pod's
 * sandbox task has no container: start gives pid 1, a kill ends it with 0
 * from running and 1 from created, a resize is always refused.
 *
 * Adapted: upstream calls the exec object directly; here each step is the
 * node operation that reaches it (state, start, kill, resize-pty,
 * close-io, wait). "Wait" on the init replies after the task's teardown
 * (decision 8), which for a fake task is immediate.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatTimestamp } from '../../src/clock.ts';
import { harness, rejection, sandboxOf, windows, type Harness } from '../helpers/harness.ts';

const POD = 'hvpod';
let h: Harness;
beforeEach(async () => {
  h = harness();
  await h.node.create({ id: POD, bundle: '/bundles/hvpod', spec: windows('cmd /c ping -t 127.0.0.1', sandboxOf(POD), true) });
});
afterEach(async () => {
  const state = await h.node.state({ id: POD }).catch(() => null);
  if (state !== null) {
    if (state.status !== 'stopped') await h.node.kill({ id: POD, signal: 9 });
    await h.node.wait({ id: POD });
    await h.node.delete({ id: POD });
  }
  expect(await h.close()).toEqual({ openSystems: 0, tasks: 0 });
});

const state = () => h.node.state({ id: POD });
const ZERO_STDIO = { stdin: '', stdout: '', stderr: '', terminal: false };

describe('WCOW pod sandbox exec (§5.1)', () => {
  it('E1 a new sandbox exec is created with pid 0, status 255, no exit time, no stdio', async () => {
    expect(await state()).toEqual({ id: POD, execId: POD, bundle: '/bundles/hvpod', pid: 0, status: 'created', exitStatus: 255, exitedAt: null, ...ZERO_STDIO });
    // No container behind it: the simulator holds no system for the pod.
    expect(h.backend.openSystems).toBe(0);
  });

  it('E2 its id is the task id', async () => {
    expect((await state()).execId).toBe(POD);
  });

  it('E3 pid is 0 before start, 1 after start, and still 1 after a kill', async () => {
    expect((await state()).pid).toBe(0);
    expect(await h.node.start({ id: POD })).toEqual({ pid: 1 });
    expect((await state()).pid).toBe(1);
    await h.node.kill({ id: POD, signal: 0 });
    expect((await state()).pid).toBe(1);
  });

  it('E4 state goes created → running → stopped', async () => {
    const seen = [(await state()).status];
    await h.node.start({ id: POD });
    seen.push((await state()).status);
    await h.node.kill({ id: POD, signal: 0 });
    seen.push((await state()).status);
    expect(seen).toEqual(['created', 'running', 'stopped']);
  });

  it('E5 status while created, running, and after a kill', async () => {
    expect(await state()).toMatchObject({ status: 'created', pid: 0, exitStatus: 255, exitedAt: null });
    await h.node.start({ id: POD });
    expect(await state()).toMatchObject({ status: 'running', pid: 1, exitStatus: 255, exitedAt: null });
    await h.node.kill({ id: POD, signal: 0 });
    const stopped = await state();
    expect(stopped).toMatchObject({ status: 'stopped', pid: 1, exitStatus: 0 });
    expect(stopped.exitedAt).not.toBeNull();
  });

  it('E6 a second start is failed_precondition and leaves it running', async () => {
    await h.node.start({ id: POD });
    expect((await rejection(h.node.start({ id: POD }))).code).toBe('failed_precondition');
    expect((await state()).status).toBe('running');
    expect(h.sink.topics(POD)).toEqual(['create', 'start']);
  });

  it('E7 a kill while created exits it; a second kill is not_found', async () => {
    await h.node.kill({ id: POD, signal: 0 });
    expect(await state()).toMatchObject({ status: 'stopped', exitStatus: 1, pid: 0 });
    expect((await rejection(h.node.kill({ id: POD, signal: 0 }))).code).toBe('not_found');
  });

  it('E8 a kill while running exits it with 0; a second kill is not_found', async () => {
    await h.node.start({ id: POD });
    await h.node.kill({ id: POD, signal: 0 });
    expect(await state()).toMatchObject({ status: 'stopped', exitStatus: 0 });
    expect((await rejection(h.node.kill({ id: POD, signal: 0 }))).code).toBe('not_found');
  });

  it('E9 resize is failed_precondition while created, running and exited', async () => {
    const codes: string[] = [];
    codes.push((await rejection(h.node.resizePty({ id: POD, width: 10, height: 10 }))).code);
    await h.node.start({ id: POD });
    codes.push((await rejection(h.node.resizePty({ id: POD, width: 10, height: 10 }))).code);
    await h.node.kill({ id: POD, signal: 0 });
    codes.push((await rejection(h.node.resizePty({ id: POD, width: 10, height: 10 }))).code);
    expect(codes).toEqual(['failed_precondition', 'failed_precondition', 'failed_precondition']);
  });

  it('E10 close-io succeeds while created, running and exited', async () => {
    await expect(h.node.closeIo({ id: POD, stdin: true })).resolves.toEqual({});
    await h.node.start({ id: POD });
    await expect(h.node.closeIo({ id: POD, stdin: true })).resolves.toEqual({});
    await h.node.kill({ id: POD, signal: 0 });
    await expect(h.node.closeIo({ id: POD, stdin: true })).resolves.toEqual({});
  });

  it('E11 a wait pending while created returns exit 1, pid 0 after a kill; a later wait returns the same at once', async () => {
    const waited = h.node.wait({ id: POD });
    await h.advance(1000);
    const before = formatTimestamp(h.clock.nowNs());
    await h.node.kill({ id: POD, signal: 0 });
    const first = await waited;
    expect(first.exitStatus).toBe(1);
    expect((await state()).pid).toBe(0);
    expect(first.exitedAt).not.toBeNull();
    expect(String(first.exitedAt) >= before).toBe(true);
    expect(await h.node.wait({ id: POD })).toEqual(first);
  });

  it('E12 a wait pending from before start returns exit 0 after start and kill; the init exit event says pid 1', async () => {
    const waited = h.node.wait({ id: POD });
    await h.node.start({ id: POD });
    await h.node.kill({ id: POD, signal: 0 });
    const first = await waited;
    expect(first.exitStatus).toBe(0);
    expect(await h.node.wait({ id: POD })).toEqual(first);
    expect(h.sink.topics(POD)).toEqual(['create', 'start', `exit:${POD}`]);
    expect(h.sink.events.find((r) => r.event.topic === 'exit')?.event.event).toMatchObject({ pid: 1, exitStatus: 0 });
  });

  it('the fake sandbox task runs no execs: exec is not_implemented (hcsshim §2.7)', async () => {
    await h.node.start({ id: POD });
    const err = await rejection(h.node.exec({ id: POD, execId: 'e1', spec: { commandLine: 'cmd /c echo hi' } }));
    expect(err.code).toBe('not_implemented');
    expect(h.sink.topics(POD)).toEqual(['create', 'start']);
  });

  it('a HostProcess pod (process-isolated, hostprocess annotation) also gets the fake sandbox', async () => {
    await h.node.create({
      id: 'hpc',
      spec: windows('cmd /c ping -t 127.0.0.1', { ...sandboxOf('hpc'), 'microsoft.com/hostprocess-container': 'true' }),
    });
    expect(await h.node.start({ id: 'hpc' })).toEqual({ pid: 1 });
    expect(h.backend.openSystems).toBe(0);
    await h.node.kill({ id: 'hpc', signal: 9 });
    await h.node.wait({ id: 'hpc' });
    await h.node.delete({ id: 'hpc' });
  });
});
