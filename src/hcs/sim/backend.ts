/**
 * The simulated HCS: compute systems and processes in memory, deterministic,
 * with fault injection and virtual or real time. Users test their
 * controllers against it (docs/simulator.md), so it keeps HCS's contract:
 * a process's exit is reported after its output, and a system's processes
 * are reported exited before the system.
 */
import { Subject, type Observable } from 'rxjs';
import { RealClock, formatTimestamp, type Clock, type TimerId } from '../../clock.ts';
import type { OciSpec } from '../../oci.ts';
import {
  BackendError,
  type Backend,
  type BackendNotification,
  type ProcessDetails,
  type ProcessParams,
  type ProcessSignal,
  type Statistics,
  type SystemConfig,
} from '../backend.ts';
import { HRESULT, backendErrorFromHresult } from '../hresults.ts';
import { FaultInjector, type SimOp } from './faults.ts';
import { SimProcess, type ProcessHost } from './process.ts';
import { parseCommand } from './sh.ts';

export const ANNOTATION_CRASH_AFTER_MS = 'podvisor.sim/crash-after-ms';
export const ANNOTATION_IGNORE_SHUTDOWN = 'podvisor.sim/ignore-shutdown';
export const ANNOTATION_EXIT_CODE_UNKNOWN = 'podvisor.sim/exit-code-unknown';

export type SimSystemState = 'created' | 'running' | 'paused' | 'stopped';

export interface SimProcessView {
  pid: number;
  argv: string[];
  state: 'running' | 'exited';
  terminal: boolean;
  consoleSize: { width: number; height: number } | null;
  stdinClosed: boolean;
  exitCode: number | null;
}

export interface SimSystemView {
  id: string;
  state: SimSystemState;
  windows: boolean;
  processes: SimProcessView[];
  resources: Record<string, unknown>;
}

export interface SimOptions {
  clock?: Clock;
}

class SimSystem implements ProcessHost {
  state: SimSystemState = 'created';
  readonly processes = new Map<number, SimProcess>();
  startedAtNs: bigint | undefined;
  stopping = false;
  crashTimer: TimerId | undefined;
  resources: Record<string, unknown> = {};
  /** Signals sent while paused, delivered on resume. */
  held: { pid: number; signal: ProcessSignal }[] = [];
  private resumed: Promise<void> = Promise.resolve();
  private resume: (() => void) | undefined;
  stopped: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly spec: OciSpec,
    readonly clock: Clock,
  ) {}

  get windows(): boolean {
    return this.spec.windows !== undefined && this.spec.windows !== null;
  }
  get processIsolatedWindows(): boolean {
    return this.windows && (this.spec.windows?.hyperv === undefined || this.spec.windows.hyperv === null);
  }
  annotation(key: string): string | undefined {
    return this.spec.annotations?.[key];
  }
  gate(): Promise<void> {
    return this.resumed;
  }
  pause(): void {
    this.state = 'paused';
    this.resumed = new Promise((r) => (this.resume = r));
  }
  unpause(): void {
    this.state = 'running';
    this.resume?.();
    this.resume = undefined;
  }
  live(): SimProcess[] {
    return [...this.processes.values()].filter((p) => p.state === 'running');
  }
}

export class SimBackend implements Backend {
  readonly name = 'sim' as const;
  readonly faults: FaultInjector;
  private readonly subject = new Subject<BackendNotification>();
  readonly notifications: Observable<BackendNotification> = this.subject.asObservable();
  private readonly clock: Clock;
  private readonly systemsById = new Map<string, SimSystem>();
  private nextPid = 100;
  private closed = false;

  constructor(options: SimOptions = {}) {
    this.clock = options.clock ?? new RealClock();
    this.faults = new FaultInjector(this.clock);
  }

  /** Compute systems not yet closed: a test that cleaned up finds 0. */
  get openSystems(): number {
    return this.systemsById.size;
  }

  systems(): SimSystemView[] {
    return [...this.systemsById.values()].map((s) => ({
      id: s.id,
      state: s.state,
      windows: s.windows,
      resources: s.resources,
      processes: [...s.processes.values()].map((p) => ({
        pid: p.pid,
        argv: p.argv,
        state: p.state,
        terminal: p.terminal,
        consoleSize: p.consoleSize,
        stdinClosed: p.stdinClosed,
        exitCode: p.exitCode,
      })),
    }));
  }

  private async enter(op: SimOp, id: string): Promise<void> {
    if (this.closed) throw new BackendError('unavailable', `${op} of '${id}': the simulated HCS is closed`);
    await this.faults.before(op, id);
    if (this.closed) throw new BackendError('unavailable', `${op} of '${id}': the simulated HCS is closed`);
  }

  private system(op: string, id: string): SimSystem {
    const s = this.systemsById.get(id);
    if (s === undefined) throw backendErrorFromHresult(HRESULT.HCS_E_SYSTEM_NOT_FOUND, `${op}: compute system '${id}' does not exist`);
    return s;
  }

  private process(op: string, s: SimSystem, pid: number): SimProcess {
    const p = s.processes.get(pid);
    if (p === undefined) throw backendErrorFromHresult(HRESULT.ERROR_NOT_FOUND, `${op}: no process ${pid} in '${s.id}'`);
    if (p.state === 'exited') throw backendErrorFromHresult(HRESULT.HCS_E_PROCESS_ALREADY_STOPPED, `${op}: process ${pid} in '${s.id}' has exited`);
    return p;
  }

  private notify(n: BackendNotification): void {
    if (this.closed) return;
    const pid = n.type === 'process-exited' ? n.pid : undefined;
    if (this.faults.shouldDrop(n.type, n.systemId, pid)) return;
    this.subject.next(n);
  }

  async createSystem(id: string, config: SystemConfig): Promise<void> {
    await this.enter('createSystem', id);
    if (this.systemsById.has(id)) {
      throw backendErrorFromHresult(HRESULT.HCS_E_SYSTEM_ALREADY_EXISTS, `compute system '${id}' already exists`);
    }
    const crash = config.spec.annotations?.[ANNOTATION_CRASH_AFTER_MS];
    if (crash !== undefined && !(Number(crash) >= 0)) {
      throw new BackendError('invalid-argument', `annotation ${ANNOTATION_CRASH_AFTER_MS} must be a number of milliseconds, got '${crash}'`);
    }
    this.systemsById.set(id, new SimSystem(id, config.spec, this.clock));
  }

  async startSystem(id: string): Promise<void> {
    await this.enter('startSystem', id);
    const s = this.system('start', id);
    if (s.state !== 'created') throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `start of '${id}' in state ${s.state}`);
    s.state = 'running';
    s.startedAtNs = this.clock.nowNs();
    const crash = s.annotation(ANNOTATION_CRASH_AFTER_MS);
    if (crash !== undefined) s.crashTimer = this.clock.setTimeout(() => void this.stop(s, 'kill'), Number(crash));
  }

  /**
   * Ends a system: every live process is killed (or, for a shutdown, asked
   * to stop, and the system stops once none is left), then `system-exited`.
   */
  private stop(s: SimSystem, how: 'kill' | 'shutdown'): Promise<void> {
    if (s.state === 'stopped') return s.stopped ?? Promise.resolve();
    if (s.crashTimer !== undefined) this.clock.clearTimeout(s.crashTimer);
    if (how === 'shutdown') {
      s.stopping = true;
      for (const p of s.live()) p.signal(s.windows ? { kind: 'windows', event: 'CtrlShutdown' } : { kind: 'linux', signal: 15 });
      if (s.state === 'paused') s.unpause();
      if (s.live().length > 0) return Promise.resolve();
    } else {
      for (const p of s.live()) p.terminate(s.windows ? 1 : 137);
      if (s.state === 'paused') s.unpause();
    }
    return this.finishStop(s);
  }

  private finishStop(s: SimSystem): Promise<void> {
    s.stopped ??= (async () => {
      await Promise.all([...s.processes.values()].map((p) => p.done));
      // Each process's exit is reported from its own completion; let those land first.
      await new Promise<void>((r) => setImmediate(r));
      s.state = 'stopped';
      this.notify({ type: 'system-exited', systemId: s.id, atNs: this.clock.nowNs() });
    })();
    return s.stopped;
  }

  async shutdownSystem(id: string): Promise<void> {
    await this.enter('shutdownSystem', id);
    const s = this.system('shutdown', id);
    if (s.state === 'stopped' || s.stopped !== undefined) {
      throw backendErrorFromHresult(HRESULT.HCS_E_SYSTEM_ALREADY_STOPPED, `shutdown of '${id}'`);
    }
    if (s.annotation(ANNOTATION_IGNORE_SHUTDOWN) === 'true') return;
    void this.stop(s, 'shutdown');
  }

  async terminateSystem(id: string): Promise<void> {
    await this.enter('terminateSystem', id);
    const s = this.system('terminate', id);
    if (s.state === 'stopped') throw backendErrorFromHresult(HRESULT.HCS_E_SYSTEM_ALREADY_STOPPED, `terminate of '${id}'`);
    void this.stop(s, 'kill');
  }

  async closeSystem(id: string): Promise<void> {
    await this.enter('closeSystem', id);
    const s = this.system('close', id);
    // Closing a live system's last handle ends it, notifications and all.
    if (s.state !== 'stopped') await this.stop(s, 'kill');
    await s.stopped;
    this.systemsById.delete(id);
  }

  async pauseSystem(id: string): Promise<void> {
    await this.enter('pauseSystem', id);
    const s = this.system('pause', id);
    if (s.processIsolatedWindows) {
      throw backendErrorFromHresult(HRESULT.E_NOTIMPL, `pause of '${id}': a process-isolated Windows container cannot be paused`);
    }
    if (s.state !== 'running') throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `pause of '${id}' in state ${s.state}`);
    s.pause();
  }

  async resumeSystem(id: string): Promise<void> {
    await this.enter('resumeSystem', id);
    const s = this.system('resume', id);
    if (s.processIsolatedWindows) {
      throw backendErrorFromHresult(HRESULT.E_NOTIMPL, `resume of '${id}': a process-isolated Windows container cannot be paused`);
    }
    if (s.state !== 'paused') throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `resume of '${id}' in state ${s.state}`);
    s.unpause();
    const held = s.held;
    s.held = [];
    for (const { pid, signal } of held) s.processes.get(pid)?.signal(signal);
  }

  async listProcesses(id: string): Promise<ProcessDetails[]> {
    await this.enter('listProcesses', id);
    const s = this.system('list processes', id);
    if (s.state === 'stopped' || s.state === 'created') {
      throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `list processes of '${id}' in state ${s.state}`);
    }
    return s.live().map((p) => ({
      pid: p.pid,
      imageName: p.program.image,
      createdAt: formatTimestamp(p.createdAtNs),
      state: 'running',
      createdByRuntime: true,
    }));
  }

  async statistics(id: string): Promise<Statistics> {
    await this.enter('statistics', id);
    const s = this.system('statistics', id);
    if (s.state === 'stopped' || s.startedAtNs === undefined) {
      throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `statistics of '${id}' in state ${s.state}`);
    }
    const now = this.clock.nowNs();
    const uptimeNs = Number(now - s.startedAtNs);
    const live = s.live().length;
    const memory = (s.resources['memory'] as { limit?: number } | undefined)?.limit;
    // Deterministic figures: a simulated process costs 1% CPU and 4 MiB.
    return {
      timestamp: formatTimestamp(now),
      uptimeNs,
      processor: { totalRuntimeNs: Math.floor(uptimeNs / 100) * live, userRuntimeNs: Math.floor(uptimeNs / 200) * live, kernelRuntimeNs: Math.floor(uptimeNs / 200) * live },
      memory: { usageBytes: live * 4 * 1024 * 1024, ...(memory === undefined ? {} : { limitBytes: memory }) },
      processCount: live,
    };
  }

  async updateResources(id: string, resources: Record<string, unknown>): Promise<void> {
    await this.enter('updateResources', id);
    const s = this.system('update', id);
    const next: Record<string, unknown> = { ...s.resources };
    if ('hostPath' in resources || 'containerPath' in resources) {
      next['mappedDirectories'] = [...((s.resources['mappedDirectories'] as unknown[] | undefined) ?? []), this.mount(s, resources)];
      s.resources = next;
      return;
    }
    const flat = (resources['linux'] ?? resources['windows'] ?? resources) as Record<string, unknown>;
    for (const [key, value] of Object.entries(flat)) {
      if (key === 'memory') {
        const limit = (value as { limit?: unknown } | null)?.limit;
        if (typeof limit !== 'number' || limit < 0) throw new BackendError('invalid-argument', `resources.memory.limit must be a non-negative number`);
        next['memory'] = { limit };
      } else if (key === 'cpu') {
        const cpu = (value ?? {}) as Record<string, unknown>;
        const known = ['count', 'shares', 'maximum', 'quota', 'period', 'cpus'];
        const bad = Object.keys(cpu).find((k) => !known.includes(k) || typeof cpu[k] !== 'number' && k !== 'cpus');
        if (bad !== undefined) throw new BackendError('invalid-argument', `resources.cpu.${bad} is not a number the simulator knows`);
        next['cpu'] = cpu;
      } else {
        throw new BackendError('invalid-argument', `resources.${key} is not supported by the simulated HCS (memory, cpu)`);
      }
    }
    s.resources = next;
  }

  /**
   * A directory mapped into a running Windows container (hcsshim's
   * ContainerMount update): only plain host directories; the special
   * sources and the disk mount types are refused, as hcsshim refuses them.
   */
  private mount(s: SimSystem, m: Record<string, unknown>): { hostPath: string; containerPath: string; readOnly: boolean } {
    if (!s.windows) throw new BackendError('invalid-argument', 'resources.hostPath: mounts can be added only to a Windows container');
    const { hostPath, containerPath, readOnly = false, type = '' } = m;
    if (typeof hostPath !== 'string' || hostPath === '') throw new BackendError('invalid-argument', 'resources.hostPath must be a path');
    if (typeof containerPath !== 'string' || containerPath === '') throw new BackendError('invalid-argument', 'resources.containerPath must be a path');
    if (typeof readOnly !== 'boolean') throw new BackendError('invalid-argument', 'resources.readOnly must be a boolean');
    if (type !== '') throw new BackendError('invalid-argument', `resources.type '${String(type)}' is not supported for a mount into a running container`);
    const special = ['sandbox://', 'sandbox-tmp://', 'hugepages://', '\\\\.\\pipe', 'uvm://'].find((p) => hostPath.toLowerCase().startsWith(p));
    if (special !== undefined) throw new BackendError('invalid-argument', `resources.hostPath '${hostPath}' cannot be mapped into a running container`);
    const unknown = Object.keys(m).find((k) => !['hostPath', 'containerPath', 'readOnly', 'type'].includes(k));
    if (unknown !== undefined) throw new BackendError('invalid-argument', `resources.${unknown} is not a field of a mount`);
    return { hostPath, containerPath, readOnly };
  }

  async createProcess(id: string, params: ProcessParams): Promise<{ pid: number }> {
    await this.enter('createProcess', id);
    const s = this.system('create process', id);
    if (s.state !== 'running' || s.stopping) {
      throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `create process in '${id}' in state ${s.stopping ? 'stopping' : s.state}`);
    }
    const program = parseCommand(params.process);
    if (params.consoleSize !== undefined && !params.terminal) {
      throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `create process in '${id}': a console size without a console`);
    }
    const pid = this.nextPid++;
    const argv = params.process.args ?? [params.process.commandLine ?? ''];
    const p = new SimProcess(pid, argv, program, params.terminal, params.io.stdin, params.io.stdout, params.io.stderr, s);
    if (params.consoleSize !== undefined) p.consoleSize = params.consoleSize;
    s.processes.set(pid, p);
    const unknown = s.annotation(ANNOTATION_EXIT_CODE_UNKNOWN) === 'true';
    void p.done.then((code) => {
      this.notify({ type: 'process-exited', systemId: id, pid, exitCode: unknown ? null : code, atNs: this.clock.nowNs() });
      if (s.stopping && s.live().length === 0) void this.finishStop(s);
    });
    return { pid };
  }

  async signalProcess(id: string, pid: number, signal: ProcessSignal): Promise<void> {
    await this.enter('signalProcess', id);
    const s = this.system('signal', id);
    const p = this.process('signal', s, pid);
    const killSignal = signal.kind === 'linux' && signal.signal === 9;
    if (s.state === 'paused' && !killSignal) {
      s.held.push({ pid, signal });
      return;
    }
    p.signal(signal);
  }

  async terminateProcess(id: string, pid: number): Promise<void> {
    await this.enter('terminateProcess', id);
    const s = this.system('terminate process', id);
    this.process('terminate', s, pid).terminate(s.windows ? 1 : 137);
  }

  async resizeConsole(id: string, pid: number, width: number, height: number): Promise<void> {
    await this.enter('resizeConsole', id);
    const p = this.process('resize', this.system('resize', id), pid);
    if (!p.terminal) throw backendErrorFromHresult(HRESULT.HCS_E_INVALID_STATE, `resize of process ${pid} in '${id}': it has no console`);
    p.consoleSize = { width, height };
  }

  async closeStdin(id: string, pid: number): Promise<void> {
    await this.enter('closeStdin', id);
    this.process('close stdin', this.system('close stdin', id), pid).closeStdin();
  }

  /** Ends the simulation: pending and hung calls fail `unavailable`, processes stop, timers clear. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.faults.cancelAll();
    for (const s of this.systemsById.values()) {
      if (s.crashTimer !== undefined) this.clock.clearTimeout(s.crashTimer);
      for (const p of s.live()) p.terminate(s.windows ? 1 : 137);
      if (s.state === 'paused') s.unpause();
    }
    this.subject.complete();
  }
}
