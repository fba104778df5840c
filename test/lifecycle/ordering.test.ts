/**
 * containerd's ordering cases (reference/containerd.md §3–§4) that the
 * simulated HCS can express, through the whole actor system.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Node } from '../../src/actors/node.ts';
import { streamsIo } from '../../src/actors/stdio.ts';
import { BACKENDS, liveHarness, unusable, type LiveHarness } from '../helpers/backends.ts';
import { harness, linux, rejection, type Harness } from '../helpers/harness.ts';

/** Kills (if needed) and deletes a task, so the test leaves nothing behind. */
async function removeTask(node: Node, id: string): Promise<void> {
  const state = await node.state({ id });
  if (state.status === 'running') await node.kill({ id, signal: 9 });
  await node.wait({ id });
  await node.delete({ id });
}

for (const kind of BACKENDS) {
describe.skipIf(unusable(kind) !== null)(`containerd ordering on ${kind}${unusable(kind) === null ? '' : ` (skipped: ${unusable(kind)})`}`, () => {
  let h: LiveHarness;
  let dir: string;
  beforeEach(() => {
    h = liveHarness(kind);
    dir = mkdtempSync(join(tmpdir(), 'podvisor-order-'));
  });
  afterEach(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cleanup = (id: string): Promise<void> => removeTask(h.node, id);

  it('TestContainerStart: a wait issued before start gets the exit status, and delete returns it', async () => {
    await h.node.create({ id: 't1', spec: linux('exit 7') });
    const waited = h.node.wait({ id: 't1' });
    const { pid } = await h.node.start({ id: 't1' });
    expect(pid).toBeGreaterThan(0);
    expect(await waited).toMatchObject({ exitStatus: 7 });
    const deleted = await h.node.delete({ id: 't1' });
    expect(deleted).toMatchObject({ pid, exitStatus: 7 });
    expect(h.sink.topics('t1')).toEqual(['create', 'start', 'exit:t1', 'delete:']);
  });

  it('a process that exits during its own start still gets start, then exit', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    for (let i = 0; i < 20; i++) {
      await h.node.exec({ id: 't1', execId: `quick${i}`, spec: { args: ['true'] } });
      await h.node.start({ id: 't1', execId: `quick${i}` });
      await h.node.wait({ id: 't1', execId: `quick${i}` });
    }
    for (let i = 0; i < 20; i++) {
      const topics = h.sink.topics('t1');
      expect(topics.indexOf(`exec-started:quick${i}`)).toBeGreaterThan(-1);
      expect(topics.indexOf(`exec-started:quick${i}`)).toBeLessThan(topics.indexOf(`exit:quick${i}`));
      expect(topics.filter((t) => t === `exit:quick${i}`)).toHaveLength(1);
    }
    await cleanup('t1');
  });

  it('init killed while execs run: every exec exit is published before the init exit (decision 1)', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    for (const e of ['e1', 'e2']) {
      await h.node.exec({ id: 't1', execId: e, spec: { args: ['sh', '-c', 'sleep inf'] } });
      await h.node.start({ id: 't1', execId: e });
    }
    await h.node.kill({ id: 't1', signal: 9 });
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 137 });
    const topics = h.sink.topics('t1');
    const initExit = topics.indexOf('exit:t1');
    expect(topics.indexOf('exit:e1')).toBeGreaterThan(-1);
    expect(topics.indexOf('exit:e2')).toBeGreaterThan(-1);
    expect(topics.indexOf('exit:e1')).toBeLessThan(initExit);
    expect(topics.indexOf('exit:e2')).toBeLessThan(initExit);
    expect(topics.at(-1)).toBe('exit:t1');
    await h.node.delete({ id: 't1' });
  });

  it('kill of a created exec: status 1, no exec-started and no exit event', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['sh', '-c', 'sleep inf'] } });
    await h.node.kill({ id: 't1', execId: 'e1', signal: 15 });
    expect(await h.node.state({ id: 't1', execId: 'e1' })).toMatchObject({ status: 'stopped', exitStatus: 1, pid: 0 });
    expect(h.sink.topics('t1')).toEqual(['create', 'start', 'exec-added:e1']);
    await cleanup('t1');
    expect(h.sink.topics('t1').filter((t) => t === 'exit:e1')).toHaveLength(0);
  });

  it('TestDeleteContainerExecCreated: deleting a created exec returns status 0', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['true'] } });
    expect(await h.node.delete({ id: 't1', execId: 'e1' })).toMatchObject({ exitStatus: 0, pid: 0 });
    expect(h.sink.topics('t1')).toEqual(['create', 'start', 'exec-added:e1', 'delete:e1']);
    expect((await rejection(h.node.state({ id: 't1', execId: 'e1' }))).code).toBe('not_found');
    await cleanup('t1');
  });

  it('TestContainerKill: a second kill after the exit is not_found', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    await h.node.kill({ id: 't1', signal: 9 });
    await h.node.wait({ id: 't1' });
    expect((await rejection(h.node.kill({ id: 't1', signal: 15 }))).code).toBe('not_found');
    await h.node.delete({ id: 't1' });
  });

  it('TestRegressionIssue4769: exactly one exit event per process, none added by delete', async () => {
    await h.node.create({ id: 't1', spec: linux('true') });
    await h.node.start({ id: 't1' });
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 0 });
    await h.node.delete({ id: 't1' });
    const exits = h.sink.events.filter((r) => r.event.topic === 'exit');
    expect(exits).toHaveLength(1);
    expect(exits[0]?.event.event).toMatchObject({ containerId: 't1', id: 't1', exitStatus: 0 });
  });

  it('TestWaitStoppedTask / TestWaitStoppedProcess: a second wait returns the same status at once', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['sh', '-c', 'exit 6'] } });
    await h.node.start({ id: 't1', execId: 'e1' });
    expect(await h.node.wait({ id: 't1', execId: 'e1' })).toMatchObject({ exitStatus: 6 });
    expect(await h.node.wait({ id: 't1', execId: 'e1' })).toMatchObject({ exitStatus: 6 });
    // SIGKILL: on runc the init is its pid namespace's init, which the kernel shields from an unhandled SIGTERM.
    await h.node.kill({ id: 't1', signal: 9 });
    const first = await h.node.wait({ id: 't1' });
    expect(first.exitStatus).toBe(137);
    expect(await h.node.wait({ id: 't1' })).toEqual(first);
    await h.node.delete({ id: 't1' });
  });

  it('TestContainerNoBinaryExists: start fails, the init reports 127, teardown still publishes its exit', async () => {
    await h.node.create({ id: 't1', spec: { ...linux(''), process: { args: ['no-such-binary'] } } });
    const err = await rejection(h.node.start({ id: 't1' }));
    expect(err.code).toBe('invalid_argument');
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 127 });
    expect(h.sink.topics('t1')).toEqual(['create', 'exit:t1']);
    expect(h.sink.events.find((r) => r.event.topic === 'exit')?.event.event).toMatchObject({ pid: 0, exitStatus: 127 });
    await h.node.delete({ id: 't1' });
  });

  it('TestContainerExecNoBinaryExists / TestRegressionIssue6429: a failed exec start gets no exit event', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['no-such-binary'] } });
    expect((await rejection(h.node.start({ id: 't1', execId: 'e1' }))).code).toBe('invalid_argument');
    expect(await h.node.state({ id: 't1', execId: 'e1' })).toMatchObject({ status: 'stopped', exitStatus: 127 });
    expect(h.sink.topics('t1')).toEqual(['create', 'start', 'exec-added:e1']);
    await cleanup('t1');
  });

  it('TestDeleteRunningContainer: deleting a running task is failed_precondition and changes nothing', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    const { pid } = await h.node.start({ id: 't1' });
    const before = await h.node.state({ id: 't1' });
    expect((await rejection(h.node.delete({ id: 't1' }))).code).toBe('failed_precondition');
    expect(await h.node.state({ id: 't1' })).toEqual(before);
    expect(before).toMatchObject({ status: 'running', pid });
    await cleanup('t1');
  });

  it('TestContainerExitedAtSet and TestShortRunningTaskPid: a short task has a pid and an exit time after its start', async () => {
    await h.node.create({ id: 't1', spec: linux('true') });
    const { pid } = await h.node.start({ id: 't1' });
    expect(pid).toBeGreaterThan(0);
    const { exitedAt } = await h.node.wait({ id: 't1' });
    const start = h.sink.events.find((r) => r.event.topic === 'start');
    expect(exitedAt).not.toBeNull();
    expect(String(exitedAt) >= String(start?.event.timestamp)).toBe(true);
    expect((await h.node.state({ id: 't1' })).pid).toBe(pid);
    await h.node.delete({ id: 't1' });
  });

  it('all output a process wrote reaches its stdout file before its exit event', async () => {
    const out = join(dir, 'out.txt');
    await h.node.create({ id: 't1', stdout: out, spec: linux('echo one; echo two; exit 4') });
    let atExit = '';
    const stop = h.sink.subscribe((r) => {
      if (r.event.topic === 'exit') atExit = readFileSync(out, 'utf8');
    });
    await h.node.start({ id: 't1' });
    await h.node.wait({ id: 't1' });
    stop();
    expect(atExit).toBe('one\ntwo\n');
    await h.node.delete({ id: 't1' });
  });

  it('a FIFO as stdout: the reader gets every byte, then EOF once the process has exited', async () => {
    const fifo = join(dir, 'out.fifo');
    execFileSync('mkfifo', [fifo]);
    let got = '';
    const reader = createReadStream(fifo);
    const ended = new Promise<void>((resolve) => reader.on('end', () => resolve()));
    reader.on('data', (c: Buffer | string) => (got += c.toString()));
    await h.node.create({ id: 't1', stdout: fifo, spec: linux('echo through the fifo; exit 0') });
    await h.node.start({ id: 't1' });
    await h.node.wait({ id: 't1' });
    await ended;
    expect(got).toBe('through the fifo\n');
    await h.node.delete({ id: 't1' });
  });

  it('TestContainerCloseIO: cat sees EOF when stdin is closed, and exits', async () => {
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let seen = '';
    stdout.on('data', (c: Buffer) => (seen += c.toString()));
    await h.close();
    h = liveHarness(kind, { openStdio: async (req) => streamsIo({ stdin: req.stdin === '' ? null : stdin, stdout: req.stdout === '' ? null : stdout, stderr: null }) });
    await h.node.create({ id: 't1', stdin: '/in', stdout: '/out', spec: { ...linux(''), process: { args: ['cat'] } } });
    await h.node.start({ id: 't1' });
    stdin.write('hello\n');
    await h.until(() => seen === 'hello\n', 'cat to echo its input');
    expect((await h.node.state({ id: 't1' })).status).toBe('running');
    await h.node.closeIo({ id: 't1', stdin: true });
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 0 });
    expect(seen).toBe('hello\n');
    await h.node.delete({ id: 't1' });
  });

  it('TestContainerPids: pids lists the init and running execs with their exec ids', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    const { pid } = await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['sh', '-c', 'sleep inf'] } });
    const e1 = await h.node.start({ id: 't1', execId: 'e1' });
    const { processes } = await h.node.pids({ id: 't1' });
    // Backends list in their own order (HCS promises none): compare by pid.
    expect(processes.map((p) => [p.pid, p.execId]).sort((a, b) => Number(a[0]) - Number(b[0]))).toEqual([
      [pid, 't1'],
      [e1.pid, 'e1'],
    ]);
    await cleanup('t1');
  });
});
}

describe('on the simulator only: virtual time, faults and its own view', () => {
  let h: Harness;
  beforeEach(() => {
    h = harness();
  });
  afterEach(async () => {
    const left = await h.close();
    expect(left.openSystems).toBe(0);
  });

  const cleanup = (id: string): Promise<void> => removeTask(h.node, id);

  it('TestTaskResize: a resize before start is the console the process starts with', async () => {
    await h.node.create({ id: 't1', terminal: true, spec: linux('sleep inf') });
    await h.node.resizePty({ id: 't1', width: 34, height: 12 });
    const { pid } = await h.node.start({ id: 't1' });
    const proc = h.backend.systems().find((s) => s.id === 't1')?.processes.find((p) => p.pid === pid);
    expect(proc?.consoleSize).toEqual({ width: 34, height: 12 });
    await cleanup('t1');
  });


  it('an exec whose exit notification is lost holds the init exit, then is reported 255 after 30 s (decision 1, 3)', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep inf') });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['sh', '-c', 'sleep inf'] } });
    const { pid } = await h.node.start({ id: 't1', execId: 'e1' });
    h.backend.faults.dropNotification({ type: 'process-exited', systemId: 't1', pid });
    const waited = h.node.wait({ id: 't1' });
    await h.node.kill({ id: 't1', signal: 9 });
    await h.advance(29_000);
    expect(h.sink.topics('t1')).not.toContain('exit:t1');
    expect(h.sink.topics('t1')).not.toContain('exit:e1');
    await h.advance(2_000);
    expect(await waited).toMatchObject({ exitStatus: 137 });
    const topics = h.sink.topics('t1');
    expect(topics.slice(-2)).toEqual(['exit:e1', 'exit:t1']);
    expect(h.sink.events.find((r) => r.event.topic === 'exit' && r.event.event.id === 'e1')?.event.event).toMatchObject({ exitStatus: 255 });
    await h.node.delete({ id: 't1' });
  });

  it('a container whose shutdown never completes is terminated after 30 s and released after 30 more', async () => {
    await h.node.create({ id: 't1', spec: linux("trap '' TERM; sleep inf", { 'podvisor.sim/ignore-shutdown': 'true' }) });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['sh', '-c', "trap '' TERM; sleep inf"] } });
    await h.node.start({ id: 't1', execId: 'e1' });
    const waited = h.node.wait({ id: 't1' });
    // The init ignores SIGTERM; kill it so the teardown starts, with the exec still running.
    await h.node.kill({ id: 't1', signal: 9 });
    await h.advance(29_999);
    expect(h.sink.topics('t1')).not.toContain('exit:e1');
    await h.advance(1);
    expect(await waited).toMatchObject({ exitStatus: 137 });
    expect(h.sink.topics('t1').slice(-2)).toEqual(['exit:e1', 'exit:t1']);
    await h.node.delete({ id: 't1' });
  });
});
