/**
 * HcsBackend through koffi against the native HCS simulator: every Backend
 * call crosses the real FFI path (worker thread, UTF-16 documents,
 * operation callbacks, event callbacks from the library's threads, pipes).
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { typedBackendError } from '../../../src/actors/backend-errors.ts';
import type { BackendNotification, ProcessIo } from '../../../src/hcs/backend.ts';
import { HcsBackend } from '../../../src/hcs/computecore/backend.ts';
import type { OciSpec } from '../../../src/oci.ts';
import { ensureSimulator, expectNothingLeaked, recorder, sink, until } from './simulator.ts';

beforeAll(() => ensureSimulator());

let backend: HcsBackend;
let seen: BackendNotification[];
beforeEach(() => {
  backend = new HcsBackend();
  seen = recorder(backend.notifications);
});
afterEach(async () => {
  await backend.close();
  await expectNothingLeaked();
});

const linux = (annotations: Record<string, string> = {}): OciSpec => ({ ociVersion: '1.0.2', root: { path: '/rootfs' }, linux: {}, annotations });
const windows = (hyperv = false): OciSpec => ({
  ociVersion: '1.0.2',
  root: hyperv ? undefined : { path: '\\\\?\\Volume{00000000-0000-0000-0000-000000000001}\\' },
  windows: { layerFolders: ['C:\\layers\\base', 'C:\\layers\\scratch'], ...(hyperv ? { hyperv: {} } : {}) },
}) as OciSpec;
const noIo: ProcessIo = { stdin: null, stdout: null, stderr: null };

async function running(id: string, spec: OciSpec = linux()): Promise<void> {
  await backend.createSystem(id, { spec, bundle: '/b', sandbox: false });
  await backend.startSystem(id);
}

function sh(script: string, io: ProcessIo = noIo) {
  return { process: { args: ['sh', '-c', script] }, init: false, terminal: false, io };
}

function exitOf(pid: number): Extract<BackendNotification, { type: 'process-exited' }> | undefined {
  return seen.find((n): n is Extract<BackendNotification, { type: 'process-exited' }> => n.type === 'process-exited' && n.pid === pid);
}

async function exited(pid: number): Promise<number | null> {
  await until(() => exitOf(pid) !== undefined, `process ${pid} to exit`);
  return exitOf(pid)!.exitCode;
}

async function finish(id: string): Promise<void> {
  await backend.closeSystem(id);
}

describe('systems and processes', () => {
  it('a process runs its script: its output arrives before its exit status', async () => {
    await running('s1');
    const out = sink();
    const err = sink();
    const { pid } = await backend.createProcess('s1', sh('echo hello; nosuch; exit 3', { stdin: null, stdout: out, stderr: err }));
    expect(await exited(pid)).toBe(3);
    expect(out.text()).toBe('hello\n');
    expect(err.text()).toBe('sh: nosuch: not found\n');
    await finish('s1');
  });

  it('stdin reaches cat, and closing it ends cat', async () => {
    await running('s1');
    const input = new PassThrough();
    const out = sink();
    const { pid } = await backend.createProcess('s1', sh('cat; echo done', { stdin: input, stdout: out, stderr: null }));
    input.write('line one\n');
    await until(() => out.text() === 'line one\n', 'cat to copy stdin');
    await backend.closeStdin('s1', pid);
    expect(await exited(pid)).toBe(0);
    expect(out.text()).toBe('line one\ndone\n');
    await finish('s1');
  });

  it('an unknown command fails the start as "file not found": executable-not-found', async () => {
    await running('s1');
    await expect(backend.createProcess('s1', { ...sh(''), process: { args: ['/bin/nosuch'] } })).rejects.toMatchObject({
      kind: 'executable-not-found',
      hresult: 0x80070002,
    });
    await finish('s1');
  });

  it('signals: TERM ends with 143 unless trapped, KILL with 137, terminate with 137', async () => {
    await running('s1');
    const a = (await backend.createProcess('s1', sh('sleep inf'))).pid;
    const b = (await backend.createProcess('s1', sh("trap '' TERM; sleep inf"))).pid;
    await new Promise((r) => setTimeout(r, 50)); // let b reach its trap
    await backend.signalProcess('s1', a, { kind: 'linux', signal: 15 });
    await backend.signalProcess('s1', b, { kind: 'linux', signal: 15 });
    expect(await exited(a)).toBe(143);
    await new Promise((r) => setTimeout(r, 100));
    expect(exitOf(b)).toBeUndefined();
    await backend.signalProcess('s1', b, { kind: 'linux', signal: 9 });
    expect(await exited(b)).toBe(137);
    const c = (await backend.createProcess('s1', sh('sleep 30'))).pid;
    await backend.terminateProcess('s1', c);
    expect(await exited(c)).toBe(137);
    await expect(backend.signalProcess('s1', a, { kind: 'linux', signal: 15 })).rejects.toMatchObject({ kind: 'already-stopped' });
    await expect(backend.signalProcess('s1', 99999, { kind: 'linux', signal: 15 })).rejects.toMatchObject({ kind: 'not-found' });
    await finish('s1');
  });

  it('Windows console events: CtrlC ends a process with STATUS_CONTROL_C_EXIT', async () => {
    await running('w1', windows());
    const { pid } = await backend.createProcess('w1', { process: { commandLine: 'cmd /c ping -t 127.0.0.1' }, init: true, terminal: false, io: noIo });
    await backend.signalProcess('w1', pid, { kind: 'windows', event: 'CtrlC' });
    expect(await exited(pid)).toBe(0xc000013a);
    await expect(backend.pauseSystem('w1')).rejects.toMatchObject({ kind: 'not-supported' });
    await finish('w1');
  });

  it('shutdown: processes are reported exited before the system', async () => {
    await running('s1');
    const a = (await backend.createProcess('s1', sh('sleep inf'))).pid;
    const b = (await backend.createProcess('s1', sh('sleep inf'))).pid;
    await backend.shutdownSystem('s1');
    await until(() => seen.some((n) => n.type === 'system-exited'), 'the system to exit');
    expect(seen.map((n) => (n.type === 'process-exited' ? `exit:${n.pid}:${n.exitCode}` : n.type)).sort()).toEqual(
      [`exit:${a}:143`, `exit:${b}:143`, 'system-exited'].sort(),
    );
    expect(seen.at(-1)?.type).toBe('system-exited');
    await expect(backend.shutdownSystem('s1')).rejects.toMatchObject({ kind: 'already-stopped' });
    await expect(backend.terminateSystem('s1')).rejects.toMatchObject({ kind: 'already-stopped' });
    await finish('s1');
  });

  it('terminate ends a system that ignores shutdown', async () => {
    await running('s1', linux({ 'podvisor.sim/ignore-shutdown': 'true' }));
    const { pid } = await backend.createProcess('s1', sh('sleep inf'));
    await backend.shutdownSystem('s1');
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);
    await backend.terminateSystem('s1');
    expect(await exited(pid)).toBe(137);
    await until(() => seen.some((n) => n.type === 'system-exited'), 'the system to exit');
    await finish('s1');
  });

  it('pause holds a process and its signals; resume lets both go', async () => {
    await running('s1');
    const { pid } = await backend.createProcess('s1', sh('sleep inf'));
    await backend.pauseSystem('s1');
    await expect(backend.pauseSystem('s1')).rejects.toMatchObject({ kind: 'invalid-state' });
    await backend.signalProcess('s1', pid, { kind: 'linux', signal: 15 });
    await new Promise((r) => setTimeout(r, 100));
    expect(exitOf(pid)).toBeUndefined();
    await backend.resumeSystem('s1');
    expect(await exited(pid)).toBe(143);
    await expect(backend.resumeSystem('s1')).rejects.toMatchObject({ kind: 'invalid-state' });
    await finish('s1');
  });

  it('properties: the process list and statistics of a running system', async () => {
    await running('s1');
    const { pid } = await backend.createProcess('s1', sh('sleep inf'));
    const list = await backend.listProcesses('s1');
    expect(list).toEqual([expect.objectContaining({ pid, imageName: 'sh', state: 'running', createdByRuntime: true })]);
    const stats = await backend.statistics('s1');
    expect(stats.processCount).toBe(1);
    expect(stats.memory.usageBytes).toBe(4 * 1024 * 1024);
    expect(stats.uptimeNs).toBeGreaterThanOrEqual(0);
    await finish('s1');
  });

  it('modify: resources reach HCS as modify requests; unknown ones are refused before the call', async () => {
    await running('s1');
    await backend.updateResources('s1', { memory: { limit: 256 * 1024 * 1024 }, cpu: { count: 2 } });
    expect((await backend.statistics('s1')).memory.limitBytes).toBe(256 * 1024 * 1024);
    await expect(backend.updateResources('s1', { pids: { limit: 3 } })).rejects.toMatchObject({ kind: 'invalid-argument' });
    await finish('s1');
  });

  it('a console: resize works on a terminal process and is invalid-state on a plain one', async () => {
    await running('s1');
    const tty = (await backend.createProcess('s1', { ...sh('sleep inf'), terminal: true, consoleSize: { width: 80, height: 24 } })).pid;
    const plain = (await backend.createProcess('s1', sh('sleep inf'))).pid;
    await backend.resizeConsole('s1', tty, 120, 40);
    await expect(backend.resizeConsole('s1', plain, 120, 40)).rejects.toMatchObject({ kind: 'invalid-state' });
    await finish('s1');
  });
});

describe('HRESULTs from the library become BackendError kinds', () => {
  it('not found, already exists, invalid state, invalid argument', async () => {
    await expect(backend.startSystem('ghost')).rejects.toMatchObject({ kind: 'not-found', hresult: 0x8037010e });
    await backend.createSystem('s1', { spec: linux(), bundle: '/b', sandbox: false });
    await expect(backend.createSystem('s1', { spec: linux(), bundle: '/b', sandbox: false })).rejects.toMatchObject({ kind: 'already-exists' });
    await expect(backend.createProcess('s1', sh('true'))).rejects.toMatchObject({ kind: 'invalid-state', hresult: 0x80370105 });
    await backend.startSystem('s1');
    await expect(backend.startSystem('s1')).rejects.toMatchObject({ kind: 'invalid-state' });
    await expect(backend.createProcess('s1', sh("trap 'x' INT"))).rejects.toMatchObject({ kind: 'invalid-argument', hresult: 0x80070057 });
    await expect(backend.createSystem('bad', { spec: { ociVersion: '1.0.2', windows: { layerFolders: ['C:\\only'] } }, bundle: '/b', sandbox: false })).rejects.toMatchObject({
      kind: 'invalid-argument',
    });
    await finish('s1');
    // The id is free again once closed.
    await backend.createSystem('s1', { spec: linux(), bundle: '/b', sandbox: false });
    await finish('s1');
  });
});

describe('what HCS knows beyond one system', () => {
  it('computeSystems lists the systems created, not the closed ones, and filters by id, owner and type', async () => {
    await backend.createSystem('a', { spec: linux(), bundle: '/b', sandbox: false });
    await running('b');
    await running('gone');
    await finish('gone');
    const all = await backend.computeSystems();
    expect(all.sort((x, y) => x.id.localeCompare(y.id))).toEqual([
      { id: 'a', state: 'Created', owner: 'podvisor', systemType: 'Container', runtimeOsType: 'Linux' },
      { id: 'b', state: 'Running', owner: 'podvisor', systemType: 'Container', runtimeOsType: 'Linux' },
    ]);
    expect((await backend.computeSystems({ ids: ['b', 'gone'] })).map((s) => s.id)).toEqual(['b']);
    expect(await backend.computeSystems({ owners: ['containerd-shim-runhcs-v1.exe'] })).toEqual([]);
    expect(await backend.computeSystems({ types: ['VirtualMachine'] })).toEqual([]);
    await finish('a');
    await finish('b');
    expect(await backend.computeSystems()).toEqual([]);
  });

  it('serviceProperties: the schema versions HCS accepts include 2.1, the one podvisor writes', async () => {
    expect(await backend.serviceProperties()).toEqual({ supportedSchemaVersions: [{ major: 2, minor: 1 }] });
  });

  const E_NOTIMPL = 0x80004001;
  it.each([
    { call: 'HcsSaveComputeSystem', run: (id: string) => backend.saveSystem(id) },
    { call: 'HcsInitializeLiveMigrationOnSource', run: (id: string) => backend.liveMigration(id, 'initialize') },
    { call: 'HcsStartLiveMigrationOnSource', run: (id: string) => backend.liveMigration(id, 'start') },
    { call: 'HcsStartLiveMigrationTransfer', run: (id: string) => backend.liveMigration(id, 'transfer') },
    { call: 'HcsFinalizeLiveMigration', run: (id: string) => backend.liveMigration(id, 'finalize', '{"Success":true}') },
    { call: 'HcsCancelLiveMigration', run: (id: string) => backend.liveMigration(id, 'cancel') },
    {
      call: 'HcsAddResourceToOperation',
      run: (id: string) => backend.liveMigration(id, 'transfer', '', [{ type: 4, uri: 'hcs:/VirtualMachine/LiveMigrationSocket', handle: null }]),
    },
  ])('$call: the simulator has no VM state, so not-supported (not_implemented on the wire), naming the call', async ({ call, run }) => {
    await running('s1');
    const err: unknown = await run('s1').catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'not-supported', hresult: E_NOTIMPL, message: expect.stringMatching(new RegExp(`^${call}\\b.*E_NOTIMPL`)) });
    expect(typedBackendError(err, 'save')).toMatchObject({ code: 'not_implemented' });
    // A refused save or migration step changes nothing: the system runs on.
    expect(await backend.computeSystems({ ids: ['s1'] })).toEqual([expect.objectContaining({ state: 'Running' })]);
    await finish('s1');
  });

  it('save and migration of a system that is not open are not-found, as every other call', async () => {
    await expect(backend.saveSystem('ghost')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(backend.liveMigration('ghost', 'start')).rejects.toMatchObject({ kind: 'not-found' });
  });
});
