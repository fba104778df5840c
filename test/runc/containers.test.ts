/**
 * What only real containers can show (issue 5): signals to the whole
 * container, the freezer, cgroup limits, statistics, zombies, a real
 * terminal, rootfs mounts. Each test ends with the harness asserting that no
 * container, process, fd or mount was left behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { streamsIo } from '../../src/actors/stdio.ts';
import type { ProcessEntry } from '../../src/actors/task-actor.ts';
import { Reaper } from '../../src/hcs/runc/reaper.ts';
import { runcConfig } from '../../src/hcs/runc/spec.ts';
import { liveHarness, RUNC_UNUSABLE, TEST_ROOTFS, type LiveHarness } from '../helpers/backends.ts';
import { linux, rejection } from '../helpers/harness.ts';


describe.skipIf(RUNC_UNUSABLE !== null)(`runc containers${RUNC_UNUSABLE === null ? '' : ` (skipped: ${RUNC_UNUSABLE})`}`, () => {
  let h: LiveHarness;
  let output = '';
  // The exec actor ends its upstream streams after the exit, so each test gets its own.
  let stdout: PassThrough;

  beforeEach(() => {
    output = '';
    stdout = new PassThrough();
    stdout.on('data', (c: Buffer) => (output += c.toString()));
    h = liveHarness('runc');
  });
  afterEach(async () => {
    await h.close();
  });

  async function finish(id: string): Promise<void> {
    const state = await h.node.state({ id });
    if (state.status === 'running' || state.status === 'paused') await h.node.kill({ id, signal: 9 });
    await h.node.wait({ id });
    await h.node.delete({ id });
  }

  const alive = (pid: number): boolean => {
    try {
      return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };

  it('SIGTERM to the init goes to every process (kill --all): the children die, the init is shielded as pid 1', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep 100 & sleep 200') });
    const { pid } = await h.node.start({ id: 't1' });
    let others: ProcessEntry[] = [];
    await h.until(async () => {
      others = (await h.node.pids({ id: 't1' })).processes.filter((p) => p.pid !== pid);
      return others.some((p) => p.info?.state === 'running');
    }, 'the background sleep');
    const child = others[0]?.pid ?? 0;
    expect(others[0]).toMatchObject({ execId: '', info: { imageName: 'sleep', createdByRuntime: false } });
    await h.node.kill({ id: 't1', signal: 15 });
    await h.until(() => !alive(child), 'the background sleep to die of SIGTERM');
    expect((await h.node.state({ id: 't1' })).status).toBe('running');
    await h.node.kill({ id: 't1', signal: 9 });
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 137 });
    await h.node.delete({ id: 't1' });
  });

  it('pids lists a zombie as such, beside the running processes, with exec ids attached', async () => {
    // The shell's last command replaces it, and sleep never reaps: its finished child stays a zombie.
    await h.node.create({ id: 't1', spec: linux('true & exec sleep 100') });
    const { pid } = await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', spec: { args: ['sleep', '100'] } });
    const e1 = await h.node.start({ id: 't1', execId: 'e1' });
    let processes: ProcessEntry[] = [];
    await h.until(async () => {
      processes = (await h.node.pids({ id: 't1' })).processes;
      return processes.some((p) => p.info?.state === 'zombie');
    }, 'the zombie to show');
    const byPid = new Map(processes.map((p) => [p.pid, p]));
    expect(byPid.get(pid)).toMatchObject({ execId: 't1', info: { state: 'running', createdByRuntime: true, imageName: 'sleep' } });
    expect(byPid.get(e1.pid)).toMatchObject({ execId: 'e1', info: { state: 'running', createdByRuntime: true } });
    const zombie = processes.find((p) => p.info?.state === 'zombie');
    expect(zombie).toMatchObject({ execId: '', info: { createdByRuntime: false } });
    await finish('t1');
  });

  it('pause and resume freeze the container and publish their events', async () => {
    await h.close();
    h = liveHarness('runc', { openStdio: async () => streamsIo({ stdin: null, stdout, stderr: null }) });
    await h.node.create({ id: 't1', stdout: '/out', spec: linux('while true; do echo tick; sleep 0.05; done') });
    await h.node.start({ id: 't1' });
    await h.until(() => output.includes('tick'), 'the first tick');
    await h.node.pause({ id: 't1' });
    expect((await h.node.state({ id: 't1' })).status).toBe('paused');
    const frozen = readFileSync(`/sys/fs/cgroup/freezer${h.cgroupParent}/t1/freezer.state`, 'utf8').trim();
    expect(frozen).toBe('FROZEN');
    const before = output.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(output.length).toBe(before);
    await h.node.resume({ id: 't1' });
    await h.until(() => output.length > before, 'ticks after the resume');
    expect(h.sink.topics('t1')).toEqual(['create', 'start', 'paused', 'resumed']);
    await finish('t1');
  });

  it('an update of the memory limit shows in the container cgroup; stats report usage and the limit', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep 100') });
    await h.node.start({ id: 't1' });
    await h.node.update({ id: 't1', resources: { memory: { limit: 48 * 1024 * 1024 } } });
    const limit = readFileSync(`/sys/fs/cgroup/memory${h.cgroupParent}/t1/memory.limit_in_bytes`, 'utf8').trim();
    expect(Number(limit)).toBe(48 * 1024 * 1024);
    const { stats } = await h.node.stats({ id: 't1' });
    expect(stats.memory.limitBytes).toBe(48 * 1024 * 1024);
    expect(stats.memory.usageBytes).toBeGreaterThan(0);
    expect(stats.processCount).toBe(1);
    expect(stats.processor.totalRuntimeNs).toBeGreaterThan(0);
    const bad = await rejection(h.node.update({ id: 't1', resources: { memory: { limit: -1 } } }));
    expect(bad.code).toBe('invalid_argument');
    expect(bad.message).toContain('resources.memory.limit');
    await finish('t1');
    expect(existsSync(`/sys/fs/cgroup/memory${h.cgroupParent}/t1`)).toBe(false);
  });

  it('a terminal: the process sees the size set before start and after a resize (stty size)', async () => {
    await h.close();
    const stdin = new PassThrough();
    h = liveHarness('runc', { openStdio: async () => streamsIo({ stdin, stdout, stderr: null }) });
    await h.node.create({ id: 't1', terminal: true, stdin: '/in', stdout: '/out', spec: { ...linux(''), process: { args: ['sh'] } } });
    await h.node.resizePty({ id: 't1', width: 91, height: 17 });
    await h.node.start({ id: 't1' });
    stdin.write('stty size\n');
    await h.until(() => output.includes('17 91'), 'stty to print the first size');
    await h.node.resizePty({ id: 't1', width: 120, height: 40 });
    stdin.write('stty size\n');
    await h.until(() => output.includes('40 120'), 'stty to print the new size');
    stdin.write('exit 3\n');
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 3 });
    await h.node.delete({ id: 't1' });
  });

  it('an exec with a terminal gets EOF from closeIO, and its output reaches the upstream', async () => {
    await h.close();
    const stdin = new PassThrough();
    h = liveHarness('runc', { openStdio: async () => streamsIo({ stdin, stdout, stderr: null }) });
    await h.node.create({ id: 't1', spec: linux('sleep 100') });
    await h.node.start({ id: 't1' });
    await h.node.exec({ id: 't1', execId: 'e1', terminal: true, stdin: '/in', stdout: '/out', spec: { args: ['cat'] } });
    await h.node.start({ id: 't1', execId: 'e1' });
    stdin.write('typed\n');
    await h.until(() => output.includes('typed\r\ntyped\r\n'), 'the echo and cat copy');
    await h.node.closeIo({ id: 't1', execId: 'e1', stdin: true });
    expect(await h.node.wait({ id: 't1', execId: 'e1' })).toMatchObject({ exitStatus: 0 });
    await finish('t1');
  });

  it('output still held open by a survivor is copied for at most 1 s after the exit, then the exit is reported', async () => {
    await h.close();
    h = liveHarness('runc', { openStdio: async () => streamsIo({ stdin: null, stdout, stderr: null }) });
    await h.node.create({ id: 't1', spec: linux('sleep 100') });
    await h.node.start({ id: 't1' });
    // The exec's shell exits at once; its background sleep keeps the stdout pipe open for 30 s.
    await h.node.exec({ id: 't1', execId: 'e1', stdout: '/out', spec: { args: ['sh', '-c', 'sleep 30 & echo before exit; exit 2'] } });
    const t0 = Date.now();
    await h.node.start({ id: 't1', execId: 'e1' });
    expect(await h.node.wait({ id: 't1', execId: 'e1' })).toMatchObject({ exitStatus: 2 });
    const waited = Date.now() - t0;
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(10_000);
    expect(output).toBe('before exit\n');
    await finish('t1');
  });

  it('a stopped container left by an earlier podvisor under the same id is found with runc state and replaced', async () => {
    // Only `state` prints; the others get /dev/null, because a container inherits runc's stdio and would hold a pipe open.
    const runc = (...args: string[]) =>
      execFileSync('runc', ['--root', h.runcRoot ?? '', ...args], { encoding: 'utf8', stdio: ['ignore', args[0] === 'state' ? 'pipe' : 'ignore', 'inherit'], timeout: 10_000 });
    const bundle = mkdtempSync(join(tmpdir(), 'podvisor-leftover-'));
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(runcConfig(linux('sleep 100'), { id: 't1', bundle: '', rootfs: null, cgroupParent: h.cgroupParent ?? '' })));
    runc('create', '--bundle', bundle, 't1');
    const leftover = (JSON.parse(runc('state', 't1')) as { pid: number }).pid;
    const reaper = new Reaper();
    const reaped = reaper.wait(leftover);
    runc('kill', 't1', 'KILL');
    expect(await reaped).toBe(137);
    await reaper.close();
    expect(JSON.parse(runc('state', 't1'))).toMatchObject({ status: 'stopped' });
    await h.node.create({ id: 't1', spec: linux('exit 5') });
    await h.node.start({ id: 't1' });
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 5 });
    await h.node.delete({ id: 't1' });
    rmSync(bundle, { recursive: true, force: true });
  });

  it('rootfs mounts from the create request become the root, and are unmounted on delete', async () => {
    await h.node.create({
      id: 't1',
      rootfs: [{ type: 'bind', source: TEST_ROOTFS, target: '', options: ['rbind', 'ro'] }],
      spec: { ...linux('touch /x 2>/dev/null && exit 1; test -x /bin/busybox'), root: { path: 'unused' } },
    });
    await h.node.start({ id: 't1' });
    expect(await h.node.wait({ id: 't1' })).toMatchObject({ exitStatus: 0 });
    await h.node.delete({ id: 't1' });
  });

  it('a spec for Windows or without a root is refused at create, and nothing is left', async () => {
    const win = await rejection(h.node.create({ id: 't1', spec: { process: { commandLine: 'cmd' }, windows: { layerFolders: ['C:\\l'] }, root: { path: 'x' } } }));
    expect(win.code).not.toBe('internal');
    const noRoot = await rejection(h.node.create({ id: 't2', spec: { ...linux('true'), root: { path: '/does/not/exist' } } }));
    expect(noRoot.code).toBe('invalid_argument');
    expect(noRoot.message).toContain('/does/not/exist');
    expect((await rejection(h.node.state({ id: 't2' }))).code).toBe('not_found');
  });
});
