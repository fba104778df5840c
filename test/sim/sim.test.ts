/**
 * The simulated HCS on its own, as users meet it: its `sh` subset, signals,
 * notification ordering, faults, pause, virtual time and shutdown.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock, settle } from '../../src/clock.ts';
import type { BackendNotification, ProcessIo } from '../../src/hcs/backend.ts';
import { HRESULT, hresultKind, hresultName } from '../../src/hcs/hresults.ts';
import { SimBackend } from '../../src/hcs/sim/backend.ts';
import { parseCommand, tokenize } from '../../src/hcs/sim/sh.ts';
import type { OciSpec } from '../../src/oci.ts';

const linuxSpec = (annotations: Record<string, string> = {}): OciSpec => ({ linux: {}, annotations });
const windowsSpec = (hyperv = false): OciSpec => ({ windows: hyperv ? { hyperv: {} } : {} });

let clock: VirtualClock;
let sim: SimBackend;
let seen: BackendNotification[];
beforeEach(() => {
  clock = new VirtualClock();
  sim = new SimBackend({ clock });
  seen = [];
  sim.notifications.subscribe((n) => seen.push(n));
});
afterEach(async () => {
  await sim.close();
});

function pipes(): ProcessIo & { out: () => string; err: () => string; stdin: PassThrough } {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { stdin, stdout, stderr, out: () => out, err: () => err };
}

async function running(id: string, spec: OciSpec = linuxSpec()): Promise<void> {
  await sim.createSystem(id, { spec, bundle: '', sandbox: false });
  await sim.startSystem(id);
}

async function run(id: string, script: string, io: ProcessIo = { stdin: null, stdout: null, stderr: null }): Promise<number> {
  const { pid } = await sim.createProcess(id, { process: { args: ['sh', '-c', script] }, init: false, terminal: false, io });
  return pid;
}

function exitOf(pid: number): number | null | undefined {
  const n = seen.find((x) => x.type === 'process-exited' && x.pid === pid);
  return n?.type === 'process-exited' ? n.exitCode : undefined;
}

describe('sh subset', () => {
  it.each([
    [['sh', '-c', 'echo hi; exit 3'], ['echo', 'exit']],
    [['/bin/sh', '-c', 'true && false || echo x'], ['status', 'status', 'echo']],
    [['sleep', '2.5'], ['sleep']],
    [['sh', '-c', "trap '' TERM; sleep inf"], ['trap-term', 'sleep']],
    [['sh', '-c', 'cat'], ['cat']],
    [['sh', '-c', 'nosuch arg'], ['missing']],
  ])('parses %j', (args, kinds) => {
    expect(parseCommand({ args }).steps.map((s) => s.step.kind)).toEqual(kinds);
  });
  it('reads a Windows command line with cmd /c and the pause idiom', () => {
    const p = parseCommand({ commandLine: 'cmd /c ping -t 127.0.0.1 > nul' });
    expect(p.steps).toEqual([{ connector: ';', step: { kind: 'sleep', seconds: Infinity } }]);
  });
  it('keeps quoted words whole, including an empty one', () => {
    expect(tokenize(`echo "a  b" 'c;d' ''`)).toEqual(['echo', 'a  b', 'c;d', '']);
  });
  it('a bare unknown command is executable-not-found with ERROR_FILE_NOT_FOUND', () => {
    expect(() => parseCommand({ args: ['/usr/bin/nope'] })).toThrow(expect.objectContaining({ kind: 'executable-not-found', hresult: HRESULT.ERROR_FILE_NOT_FOUND }));
  });
  it('an unbalanced quote is invalid-argument', () => {
    expect(() => parseCommand({ args: ['sh', '-c', "echo 'oops"] })).toThrow(expect.objectContaining({ kind: 'invalid-argument' }));
  });
  it('exit codes wrap at 256 and `;`, `&&`, `||` chain as sh does', async () => {
    await running('s');
    const pids = [await run('s', 'exit 258'), await run('s', 'false && exit 5; exit 6'), await run('s', 'false || exit 7'), await run('s', 'nosuch')];
    await settle();
    expect(pids.map(exitOf)).toEqual([2, 6, 7, 127]);
  });
});

describe('stdio', () => {
  it('echo output reaches stdout before the exit is reported', async () => {
    await running('s');
    const io = pipes();
    let outAtExit = '';
    sim.notifications.subscribe((n) => {
      if (n.type === 'process-exited') outAtExit = io.out();
    });
    await run('s', 'echo one; echo two words', io);
    await settle();
    expect(outAtExit).toBe('one\ntwo words\n');
  });
  it('cat copies stdin until EOF; closeStdin ends it', async () => {
    await running('s');
    const io = pipes();
    const pid = await run('s', 'cat; exit 4', io);
    io.stdin.write('abc');
    await settle();
    expect(io.out()).toBe('abc');
    expect(exitOf(pid)).toBeUndefined();
    await sim.closeStdin('s', pid);
    await settle();
    expect(exitOf(pid)).toBe(4);
  });
  it('an unknown command inside a script complains on stderr', async () => {
    await running('s');
    const io = pipes();
    await run('s', 'frobnicate', io);
    await settle();
    expect(io.err()).toBe('sh: frobnicate: not found\n');
  });
});

describe('signals and exit codes', () => {
  it('Linux: SIGTERM 143, SIGKILL 137, SIGHUP 129; SIGWINCH ignored; a trapped TERM ignored', async () => {
    await running('s');
    const [term, kill, hup, winch, trapped] = [
      await run('s', 'sleep inf'),
      await run('s', 'sleep inf'),
      await run('s', 'sleep inf'),
      await run('s', 'sleep inf'),
      await run('s', "trap '' TERM; sleep inf"),
    ];
    await settle();
    for (const [pid, signal] of [[term, 15], [kill, 9], [hup, 1], [winch, 28], [trapped, 15]] as const) {
      await sim.signalProcess('s', pid, { kind: 'linux', signal });
    }
    await settle();
    expect([term, kill, hup, winch, trapped].map(exitOf)).toEqual([143, 137, 129, undefined, undefined]);
    await sim.terminateProcess('s', trapped);
    await settle();
    expect(exitOf(trapped)).toBe(137);
  });
  it('Windows: a console event ends with 0xC000013A, terminate with 1', async () => {
    await running('w', windowsSpec());
    const ctrl = (await sim.createProcess('w', { process: { commandLine: 'cmd /c ping -t 127.0.0.1' }, init: true, terminal: false, io: { stdin: null, stdout: null, stderr: null } })).pid;
    const other = (await sim.createProcess('w', { process: { commandLine: 'ping -t 127.0.0.1' }, init: false, terminal: false, io: { stdin: null, stdout: null, stderr: null } })).pid;
    await sim.signalProcess('w', ctrl, { kind: 'windows', event: 'CtrlC' });
    await sim.terminateProcess('w', other);
    await settle();
    expect([exitOf(ctrl), exitOf(other)]).toEqual([0xc000013a, 1]);
  });
  it('a signal to an exited process is already-stopped; to an unknown pid not-found', async () => {
    await running('s');
    const pid = await run('s', 'true');
    await settle();
    await expect(sim.signalProcess('s', pid, { kind: 'linux', signal: 15 })).rejects.toMatchObject({ kind: 'already-stopped', hresult: HRESULT.HCS_E_PROCESS_ALREADY_STOPPED });
    await expect(sim.signalProcess('s', 9999, { kind: 'linux', signal: 15 })).rejects.toMatchObject({ kind: 'not-found' });
    await expect(sim.signalProcess('nosys', 1, { kind: 'linux', signal: 15 })).rejects.toMatchObject({ kind: 'not-found', hresult: HRESULT.HCS_E_SYSTEM_NOT_FOUND });
  });
  it('exit-code-unknown reports no code', async () => {
    await running('s', linuxSpec({ 'podvisor.sim/exit-code-unknown': 'true' }));
    const pid = await run('s', 'exit 3');
    await settle();
    expect(exitOf(pid)).toBeNull();
  });
});

describe('systems', () => {
  it('shutdown: processes exit first, then the system; a trapping process holds it up until terminate', async () => {
    await running('s');
    const a = await run('s', 'sleep inf');
    const b = await run('s', "trap '' TERM; sleep inf");
    await settle();
    await sim.shutdownSystem('s');
    await settle();
    expect(seen.map((n) => n.type)).toEqual(['process-exited']);
    expect(exitOf(a)).toBe(143);
    await sim.terminateSystem('s');
    await settle();
    expect(seen.map((n) => (n.type === 'process-exited' ? n.pid : n.type))).toEqual([a, b, 'system-exited']);
    await expect(sim.terminateSystem('s')).rejects.toMatchObject({ kind: 'already-stopped' });
    await sim.closeSystem('s');
    expect(sim.openSystems).toBe(0);
  });
  it('a created system stops at once on shutdown', async () => {
    await sim.createSystem('c', { spec: linuxSpec(), bundle: '', sandbox: false });
    await sim.shutdownSystem('c');
    await settle();
    expect(seen).toEqual([expect.objectContaining({ type: 'system-exited', systemId: 'c' })]);
    await sim.closeSystem('c');
  });
  it('crash-after-ms kills everything on virtual time', async () => {
    await running('s', linuxSpec({ 'podvisor.sim/crash-after-ms': '500' }));
    const pid = await run('s', 'sleep inf');
    await clock.advance(499);
    expect(seen).toEqual([]);
    await clock.advance(1);
    expect(seen.map((n) => n.type)).toEqual(['process-exited', 'system-exited']);
    expect(exitOf(pid)).toBe(137);
  });
  it('ignore-shutdown accepts the shutdown and does nothing', async () => {
    await running('s', linuxSpec({ 'podvisor.sim/ignore-shutdown': 'true' }));
    await run('s', 'sleep inf');
    await sim.shutdownSystem('s');
    await settle();
    expect(seen).toEqual([]);
  });
  it('duplicate ids, wrong states and closed systems are refused with HCS codes', async () => {
    await running('s');
    await expect(sim.createSystem('s', { spec: linuxSpec(), bundle: '', sandbox: false })).rejects.toMatchObject({ kind: 'already-exists' });
    await expect(sim.startSystem('s')).rejects.toMatchObject({ kind: 'invalid-state' });
    await sim.closeSystem('s');
    await expect(sim.startSystem('s')).rejects.toMatchObject({ kind: 'not-found' });
    await sim.createSystem('c', { spec: linuxSpec(), bundle: '', sandbox: false });
    await expect(run('c', 'true')).rejects.toMatchObject({ kind: 'invalid-state' });
    await sim.closeSystem('c');
  });
  it('pause holds sleeps and signals until resume; process-isolated Windows cannot pause', async () => {
    await running('s');
    const sleeper = await run('s', 'sleep 1; exit 5');
    const victim = await run('s', 'sleep inf');
    await settle();
    await sim.pauseSystem('s');
    await sim.signalProcess('s', victim, { kind: 'linux', signal: 15 });
    await clock.advance(2000);
    expect(seen).toEqual([]);
    await sim.resumeSystem('s');
    await settle();
    expect([exitOf(sleeper), exitOf(victim)]).toEqual([5, 143]);
    await running('w', windowsSpec(false));
    await expect(sim.pauseSystem('w')).rejects.toMatchObject({ kind: 'not-supported', hresult: HRESULT.E_NOTIMPL });
    await running('hv', windowsSpec(true));
    await sim.pauseSystem('hv');
    await sim.resumeSystem('hv');
  });
  it('lists live processes, counts them in statistics, and keeps the memory limit', async () => {
    await running('s');
    const pid = await run('s', 'sleep inf');
    await sim.updateResources('s', { memory: { limit: 64 * 1024 * 1024 } });
    await clock.advance(1000);
    expect((await sim.listProcesses('s')).map((p) => [p.pid, p.imageName])).toEqual([[pid, 'sh']]);
    const stats = await sim.statistics('s');
    expect(stats).toMatchObject({ processCount: 1, uptimeNs: 1_000_000_000, memory: { limitBytes: 64 * 1024 * 1024 } });
    await expect(sim.updateResources('s', { network: {} })).rejects.toMatchObject({ kind: 'invalid-argument', message: expect.stringContaining('network') });
  });
  it('resize needs a console', async () => {
    await running('s');
    const { pid } = await sim.createProcess('s', { process: { args: ['sleep', 'inf'] }, init: true, terminal: true, io: { stdin: null, stdout: null, stderr: null } });
    const plain = await run('s', 'sleep inf');
    await sim.resizeConsole('s', pid, 120, 40);
    expect(sim.systems()[0]?.processes.find((p) => p.pid === pid)?.consoleSize).toEqual({ width: 120, height: 40 });
    await expect(sim.resizeConsole('s', plain, 1, 1)).rejects.toMatchObject({ kind: 'invalid-state' });
  });
});

describe('faults', () => {
  it('an injected error fails the call before it does anything, once', async () => {
    const handle = sim.faults.inject({ op: 'createSystem', action: { type: 'error', hresult: HRESULT.ERROR_ACCESS_DENIED } });
    await expect(sim.createSystem('s', { spec: linuxSpec(), bundle: '', sandbox: false })).rejects.toMatchObject({ kind: 'access-denied', hresult: 5 });
    expect(sim.openSystems).toBe(0);
    await sim.createSystem('s', { spec: linuxSpec(), bundle: '', sandbox: false });
    expect(handle.hits).toBe(1);
  });
  it('a delay waits on the clock; a hang waits for release; only the named system is affected', async () => {
    await sim.createSystem('a', { spec: linuxSpec(), bundle: '', sandbox: false });
    await sim.createSystem('b', { spec: linuxSpec(), bundle: '', sandbox: false });
    sim.faults.inject({ op: 'startSystem', systemId: 'a', action: { type: 'delay', ms: 100 } });
    const hang = sim.faults.inject({ op: 'startSystem', systemId: 'b', action: { type: 'hang' } });
    let aDone = false;
    let bDone = false;
    void sim.startSystem('a').then(() => (aDone = true));
    void sim.startSystem('b').then(() => (bDone = true));
    await clock.advance(99);
    expect(aDone).toBe(false);
    await clock.advance(1);
    expect(aDone).toBe(true);
    await clock.advance(10_000);
    expect(bDone).toBe(false);
    hang.release();
    await settle();
    expect(bDone).toBe(true);
  });
  it('a dropped notification never arrives; the next one does', async () => {
    await running('s');
    sim.faults.dropNotification({ type: 'process-exited', systemId: 's' });
    const first = await run('s', 'true');
    const second = await run('s', 'true');
    await settle();
    expect([exitOf(first), exitOf(second)]).toEqual([undefined, 0]);
  });
  it('close fails hung calls with unavailable and completes the notification stream', async () => {
    await sim.createSystem('s', { spec: linuxSpec(), bundle: '', sandbox: false });
    sim.faults.inject({ op: 'startSystem', action: { type: 'hang' } });
    const hung = sim.startSystem('s');
    let completed = false;
    sim.notifications.subscribe({ complete: () => (completed = true) });
    await sim.close();
    await expect(hung).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(sim.startSystem('s')).rejects.toMatchObject({ kind: 'unavailable' });
    expect(completed).toBe(true);
  });
});

describe('HRESULTs', () => {
  it('treats the 0xC037 and 0x8037 forms alike and names them', () => {
    expect(hresultKind(0xc0370110)).toBe('already-stopped');
    expect(hresultKind(0x8037011f)).toBe('already-stopped');
    expect(hresultKind(0xc037010e)).toBe('not-found');
    expect(hresultKind(0x490)).toBe('not-found');
    expect(hresultKind(0xc0370103)).toBe('pending');
    expect(hresultKind(0x12345678)).toBe('other');
    expect(hresultName(0x8037011f)).toBe('0x8037011F (HCS_E_PROCESS_ALREADY_STOPPED)');
  });
});
