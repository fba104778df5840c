import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { Subject, type Observable } from 'rxjs';
import { formatTimestamp, RealClock, type Clock } from '../../clock.ts';
import {
  BackendError,
  isBackendError,
  type Backend,
  type BackendNotification,
  type ProcessDetails,
  type ProcessParams,
  type ProcessSignal,
  type Statistics,
  type SystemConfig,
} from '../backend.ts';
import { libc } from './libc.ts';
import { describeProcesses } from './procfs.ts';
import { Reaper } from './reaper.ts';
import { StdioRelay } from './relay.ts';
import { mountRootfs, unmountAll } from './rootfs.ts';
import { Runc } from './runc.ts';
import { runcConfig, runcProcess } from './spec.ts';
import { statisticsOf } from './stats.ts';

export interface RuncBackendOptions {
  /** Where podvisor keeps bundles, pid files and console sockets (e.g. /run/podvisor/NODE). */
  stateDir: string;
  /** runc's own state directory; default `<stateDir>/runc`. */
  runcRoot?: string;
  /** The runc executable; default `runc` from PATH. */
  binary?: string;
  /** Parent of each container's cgroup when the spec names none; default `/podvisor`. */
  cgroupParent?: string;
  clock?: Clock;
}

type SystemState = 'created' | 'running' | 'paused' | 'stopped';

interface RuncProcess {
  pid: number;
  init: boolean;
  relay: StdioRelay;
  exitCode: number | null;
  /** Settles after the exit was reported (or could not be known). */
  done: Promise<void>;
}

interface RuncSystem {
  id: string;
  dir: string;
  config: Record<string, unknown>;
  mounts: string[];
  state: SystemState;
  /** runc knows the container: `runc create` ran. */
  container: boolean;
  startedAtNs?: bigint;
  init?: RuncProcess;
  processes: Map<number, RuncProcess>;
  stopped?: Promise<void>;
  nextExec: number;
}

/**
 * Real OCI containers through runc, in HCS's terms: a compute system is a
 * runc container and its bundle, its init is `runc run --detach`,
 * every other process is `runc exec -d`. podvisor is the containers' child
 * subreaper, so it reaps their processes itself and reports exact statuses.
 */
export class RuncBackend implements Backend {
  readonly name = 'runc' as const;
  private readonly subject = new Subject<BackendNotification>();
  readonly notifications: Observable<BackendNotification> = this.subject.asObservable();
  private readonly c = libc();
  private readonly reaper: Reaper;
  private readonly runc: Runc;
  private readonly clock: Clock;
  private readonly systems = new Map<string, RuncSystem>();
  private readonly devNull: number;
  private closed = false;

  constructor(private readonly options: RuncBackendOptions) {
    this.clock = options.clock ?? new RealClock();
    mkdirSync(options.stateDir, { recursive: true });
    const root = options.runcRoot ?? join(options.stateDir, 'runc');
    mkdirSync(root, { recursive: true });
    this.reaper = new Reaper();
    this.runc = new Runc(this.reaper, { binary: options.binary ?? 'runc', root });
    this.devNull = this.runc.devNullFd;
  }

  /** Compute systems not yet closed. */
  get openSystems(): number {
    return this.systems.size;
  }

  /** runc's own list of containers in podvisor's runc root: empty after a clean shutdown. */
  async runcContainers(): Promise<string[]> {
    const out = await this.runc.run(['list', '--format', 'json']);
    const list = JSON.parse(out.trim() === '' || out.trim() === 'null' ? '[]' : out) as { id: string }[];
    return list.map((c) => c.id);
  }

  async createSystem(id: string, config: SystemConfig): Promise<void> {
    this.open(`create of '${id}'`);
    if (this.systems.has(id)) throw new BackendError('already-exists', `container '${id}' already exists`);
    const dir = join(this.options.stateDir, 'containers', id);
    const rootfs = config.rootfs ?? [];
    // Validate before anything is written, so a bad spec changes nothing.
    const draft = runcConfig(config.spec, { id, bundle: config.bundle, rootfs: rootfs.length > 0 ? join(dir, 'rootfs') : null, cgroupParent: this.cgroupParent });
    const root = (draft['root'] as { path: string }).path;
    if (rootfs.length === 0 && !existsSync(root)) throw new BackendError('invalid-argument', `root filesystem '${root}' does not exist`);
    mkdirSync(dir, { recursive: true });
    let mounts: string[] = [];
    try {
      if (rootfs.length > 0) mounts = mountRootfs(join(dir, 'rootfs'), rootfs);
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    this.systems.set(id, { id, dir, config: draft, mounts, state: 'created', container: false, processes: new Map(), nextExec: 0 });
  }

  async startSystem(id: string): Promise<void> {
    const s = this.system('start', id);
    if (s.state !== 'created') throw new BackendError('invalid-state', `start of '${id}' in state ${s.state}`);
    // runc has nothing to start until the init exists: HCS's empty running system is a bundle here.
    s.state = 'running';
    s.startedAtNs = this.clock.nowNs();
  }

  async shutdownSystem(id: string): Promise<void> {
    const s = this.system('shutdown', id);
    if (s.state === 'stopped' || s.stopped !== undefined) throw new BackendError('already-stopped', `shutdown of '${id}': it has stopped`);
    await this.stopSystem(s, 15);
  }

  async terminateSystem(id: string): Promise<void> {
    const s = this.system('terminate', id);
    if (s.state === 'stopped') throw new BackendError('already-stopped', `terminate of '${id}': it has stopped`);
    await this.stopSystem(s, 9);
  }

  /** SIGTERM or SIGKILL to every process (`kill --all`, as seed 004 does for these two). */
  private async stopSystem(s: RuncSystem, signal: 9 | 15): Promise<void> {
    if (s.init === undefined || s.init.exitCode !== null) {
      void this.finishStop(s);
      return;
    }
    try {
      await this.runc.run(['kill', '--all', s.id, String(signal)]);
    } catch (err) {
      if (!isBackendError(err, 'already-stopped')) throw err;
    }
    // A frozen process takes no signal, not even SIGKILL, until it thaws.
    if (s.state === 'paused') await this.thaw(s);
  }

  private finishStop(s: RuncSystem): Promise<void> {
    s.stopped ??= (async () => {
      await Promise.all([...s.processes.values()].map((p) => p.done));
      s.state = 'stopped';
      this.notify({ type: 'system-exited', systemId: s.id, atNs: this.clock.nowNs() });
    })();
    return s.stopped;
  }

  async closeSystem(id: string): Promise<void> {
    await this.release(this.system('close', id));
  }

  private async release(s: RuncSystem): Promise<void> {
    const id = s.id;
    if (s.state !== 'stopped') {
      await this.stopSystem(s, 9).catch(() => undefined);
      await this.finishStop(s);
    }
    try {
      if (s.container) await this.runc.run(['delete', '--force', id]);
    } catch (err) {
      if (!isBackendError(err, 'not-found')) throw err;
    } finally {
      unmountAll(s.mounts);
      rmSync(s.dir, { recursive: true, force: true });
      this.systems.delete(id);
    }
  }

  async pauseSystem(id: string): Promise<void> {
    const s = this.system('pause', id);
    if (s.state !== 'running' || !s.container) throw new BackendError('invalid-state', `pause of '${id}' in state ${s.container ? s.state : 'created'}`);
    await this.runc.run(['pause', id]);
    s.state = 'paused';
  }

  async resumeSystem(id: string): Promise<void> {
    const s = this.system('resume', id);
    if (s.state !== 'paused') throw new BackendError('invalid-state', `resume of '${id}' in state ${s.state}`);
    await this.thaw(s);
  }

  private async thaw(s: RuncSystem): Promise<void> {
    await this.runc.run(['resume', s.id]);
    s.state = 'running';
  }

  async listProcesses(id: string): Promise<ProcessDetails[]> {
    const s = this.system('list processes', id);
    if (!s.container || s.state === 'stopped') throw new BackendError('invalid-state', `list processes of '${id}' in state ${s.container ? s.state : 'created'}`);
    const out = await this.runc.run(['ps', '--format', 'json', id]);
    const pids = (JSON.parse(out.trim() || '[]') as number[] | null) ?? [];
    const ours = new Set([...s.processes.values()].filter((p) => p.exitCode === null).map((p) => p.pid));
    return describeProcesses(pids, ours);
  }

  async statistics(id: string): Promise<Statistics> {
    const s = this.system('statistics', id);
    if (!s.container || s.state === 'stopped' || s.startedAtNs === undefined) {
      throw new BackendError('invalid-state', `statistics of '${id}' in state ${s.container ? s.state : 'created'}`);
    }
    const out = await this.runc.run(['events', '--stats', id]);
    const now = this.clock.nowNs();
    return statisticsOf(out, { timestamp: formatTimestamp(now), uptimeNs: Number(now - s.startedAtNs) });
  }

  async updateResources(id: string, resources: Record<string, unknown>): Promise<void> {
    const s = this.system('update', id);
    const linux = linuxResources(resources);
    if (!s.container || s.state === 'stopped') throw new BackendError('invalid-state', `update of '${id}' in state ${s.container ? s.state : 'created'}`);
    const file = join(s.dir, `resources-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(linux));
    try {
      await this.runc.run(['update', '--resources', file, id]);
    } finally {
      rmSync(file, { force: true });
    }
  }

  async createProcess(id: string, params: ProcessParams): Promise<{ pid: number }> {
    const s = this.system('create process', id);
    if (s.state !== 'running' || s.stopped !== undefined) {
      throw new BackendError('invalid-state', `create process in '${id}' in state ${s.stopped !== undefined ? 'stopping' : s.state}`);
    }
    if (params.consoleSize !== undefined && !params.terminal) throw new BackendError('invalid-state', `create process in '${id}': a console size without a console`);
    if (params.init && s.init !== undefined) throw new BackendError('invalid-state', `'${id}' already has its init process`);
    if (!params.init && s.init === undefined) throw new BackendError('invalid-state', `create process in '${id}': its init has not started`);
    const process = runcProcess(params.process, params.terminal);
    const procDir = params.init ? s.dir : join(s.dir, `exec-${s.nextExec++}`);
    // The init's files go in the bundle directory createSystem made; each exec gets its own.
    if (!params.init) mkdirSync(procDir, { recursive: true });
    const pidFile = join(procDir, params.init ? 'init.pid' : 'exec.pid');
    const args: string[] = [];
    if (params.init) {
      writeFileSync(join(s.dir, 'config.json'), JSON.stringify({ ...s.config, process }));
      // One `run --detach` is `create` then `start` without a second runc start-up (~10 ms).
      args.push('run', '--detach', '--bundle', s.dir, '--pid-file', pidFile);
    } else {
      writeFileSync(join(procDir, 'process.json'), JSON.stringify(process));
      args.push('exec', '--detach', '--process', join(procDir, 'process.json'), '--pid-file', pidFile);
    }
    const relay = new StdioRelay(params.io, this.devNull, params.terminal);
    let consoleListener = -1;
    const consolePath = join(procDir, 'console.sock');
    if (params.terminal) {
      rmSync(consolePath, { force: true });
      consoleListener = this.c.unixListen(consolePath);
      args.push('--console-socket', consolePath);
    }
    args.push(id);
    try {
      const run = () => this.runc.run(args, { stdio: relay.childFds, logFile: join(procDir, 'runc.log') });
      await run().catch(async (err: unknown) => {
        // A stopped container of the same id is a leftover of a podvisor that died (seed 004's Exists).
        if (!params.init || !isBackendError(err, 'already-exists') || !(await this.removeIfStopped(id))) throw err;
        await run();
      });
      if (params.init) s.container = true;
      if (params.terminal) relay.attachTerminal(this.receiveConsole(consoleListener, id), params.consoleSize);
    } catch (err) {
      relay.destroy();
      if (params.init) {
        await this.runc.run(['delete', '--force', id]).catch(() => undefined);
        s.container = false;
      }
      throw err;
    } finally {
      relay.closeChildEnds();
      if (consoleListener >= 0) {
        this.c.close(consoleListener);
        rmSync(consolePath, { force: true });
      }
    }
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const p = this.watch(s, pid, params.init, relay);
    if (params.init) s.init = p;
    return { pid };
  }

  /** `runc state`: deletes the container when it has stopped; says whether it did. */
  private async removeIfStopped(id: string): Promise<boolean> {
    const state = JSON.parse(await this.runc.run(['state', id])) as { status?: string };
    if (state.status !== 'stopped') return false;
    await this.runc.run(['delete', id]);
    return true;
  }

  private receiveConsole(listener: number, id: string): number {
    // runc has connected and sent the pty master before `create`/`exec` exits.
    const conn = this.c.acceptNonblocking(listener);
    if (conn < 0) throw new BackendError('other', `'${id}': runc did not connect to the console socket`);
    try {
      const master = this.c.receiveFd(conn);
      if (master < 0) throw new BackendError('other', `'${id}': runc sent no terminal over the console socket`);
      return master;
    } finally {
      this.c.close(conn);
    }
  }

  private watch(s: RuncSystem, pid: number, init: boolean, relay: StdioRelay): RuncProcess {
    const p: RuncProcess = { pid, init, relay, exitCode: null, done: Promise.resolve() };
    s.processes.set(pid, p);
    p.done = this.reaper.wait(pid).then(
      async (status) => {
        await relay.drained();
        p.exitCode = status;
        this.notify({ type: 'process-exited', systemId: s.id, pid, exitCode: status, atNs: this.clock.nowNs() });
        if (init) void this.finishStop(s);
      },
      () => {
        // The reaper stopped (podvisor is closing): no status is known, and none is invented.
        relay.destroy();
      },
    );
    return p;
  }

  async signalProcess(id: string, pid: number, signal: ProcessSignal): Promise<void> {
    if (signal.kind !== 'linux') throw new BackendError('not-supported', `signal of process ${pid} in '${id}': runc takes Linux signals only`);
    const { s, p } = this.process('signal', id, pid);
    if (p.init) {
      // seed 004: SIGTERM and SIGKILL to the init reach every process of the container.
      const all = signal.signal === 9 || signal.signal === 15 ? ['--all'] : [];
      await this.runc.run(['kill', ...all, s.id, String(signal.signal)]);
      return;
    }
    try {
      // An exec's process is podvisor's child until reaped, so its pid cannot have been reused.
      process.kill(pid, signal.signal);
    } catch (err) {
      if ((err as { code?: string }).code === 'ESRCH') throw new BackendError('already-stopped', `process ${pid} in '${id}' has exited`);
      throw err;
    }
  }

  async terminateProcess(id: string, pid: number): Promise<void> {
    await this.signalProcess(id, pid, { kind: 'linux', signal: 9 });
  }

  async resizeConsole(id: string, pid: number, width: number, height: number): Promise<void> {
    const { p } = this.process('resize', id, pid);
    if (!p.relay.isTerminal) throw new BackendError('invalid-state', `resize of process ${pid} in '${id}': it has no terminal`);
    if (!p.relay.resize(width, height)) throw new BackendError('other', `resize of process ${pid} in '${id}': ioctl failed (errno ${this.c.errno()})`);
  }

  async closeStdin(id: string, pid: number): Promise<void> {
    this.process('close stdin', id, pid).p.relay.closeStdin();
  }

  /** Stops every container podvisor still runs, then the reaper: nothing is left behind. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.systems.values()]) await this.release(s).catch(() => undefined);
    await this.reaper.close();
    this.runc.close();
    this.subject.complete();
  }

  private get cgroupParent(): string {
    return this.options.cgroupParent ?? '/podvisor';
  }

  private open(what: string): void {
    if (this.closed) throw new BackendError('unavailable', `${what}: the runc backend is closed`);
  }

  private system(op: string, id: string): RuncSystem {
    this.open(`${op} of '${id}'`);
    const s = this.systems.get(id);
    if (s === undefined) throw new BackendError('not-found', `${op}: container '${id}' does not exist`);
    return s;
  }

  private process(op: string, id: string, pid: number): { s: RuncSystem; p: RuncProcess } {
    const s = this.system(op, id);
    const p = s.processes.get(pid);
    if (p === undefined) throw new BackendError('not-found', `${op}: no process ${pid} in '${id}'`);
    if (p.exitCode !== null) throw new BackendError('already-stopped', `${op}: process ${pid} in '${id}' has exited`);
    return { s, p };
  }

  private notify(n: BackendNotification): void {
    if (!this.subject.closed) this.subject.next(n);
  }
}

/**
 * The update request's resources as OCI LinuxResources, which `runc update`
 * reads: a memory limit in bytes, CPU shares, and a CPU count or a maximum
 * (hundredths of a percent of the host, as HCS) as a CFS quota.
 */
export function linuxResources(resources: Record<string, unknown>): Record<string, unknown> {
  if ('hostPath' in resources || 'containerPath' in resources) {
    throw new BackendError('invalid-argument', 'resources.hostPath: mapping a directory into a running container is for Windows containers');
  }
  const flat = (resources['linux'] ?? resources) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(flat)) {
    const v = (value ?? {}) as Record<string, unknown>;
    if (key === 'memory') {
      const limit = v['limit'];
      if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 0) throw new BackendError('invalid-argument', 'resources.memory.limit must be a non-negative integer of bytes');
      out['memory'] = { limit };
    } else if (key === 'cpu') {
      const cpu: Record<string, unknown> = {};
      const period = 100_000;
      for (const [k, n] of Object.entries(v)) {
        if (typeof n !== 'number' || n < 0) throw new BackendError('invalid-argument', `resources.cpu.${k} must be a non-negative number`);
        if (k === 'shares') cpu['shares'] = n;
        else if (k === 'count') Object.assign(cpu, { period, quota: Math.round(n * period) });
        else if (k === 'maximum') Object.assign(cpu, { period, quota: Math.max(1000, Math.round((n / 10_000) * cpus().length * period)) });
        else throw new BackendError('invalid-argument', `resources.cpu.${k} is not supported (count, shares, maximum)`);
      }
      out['cpu'] = cpu;
    } else {
      throw new BackendError('invalid-argument', `resources.${key} is not supported by the runc backend (memory, cpu)`);
    }
  }
  return out;
}
