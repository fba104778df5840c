/**
 * The HCS backend: computecore.dll on Windows, the native simulator
 * (native/hcs-sim) on Linux, both through the same koffi binding in a worker
 * thread (worker.ts). This side keeps what the Backend contract adds to
 * HCS: a process's exit is reported after its output drained (or 1 s
 * passed), and a system's exit after its processes'.
 */
import { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { Subject, type Observable } from 'rxjs';
import { formatTimestamp, RealClock, type Clock } from '../../clock.ts';
import { isWindows } from '../../oci.ts';
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
import { HRESULT } from '../hresults.ts';
import { HCS_EVENT } from './binding.ts';
import { WorkerClient, type WorkerEvent } from './client.ts';
import { CLOSE_STDIN_DOCUMENT, consoleSizeDocument, modifyRequests, processDocument, signalDocument, systemDocument } from './documents.ts';
import { hcsError, unavailable } from './errors.ts';
import type { MigrationStep, OperationResource } from './protocol.ts';
import { SIMULATOR_LIBRARY } from './simulator.ts';

export type { MigrationStep, OperationResource } from './protocol.ts';

export interface HcsBackendOptions {
  /** computecore.dll, or the simulator; default the built simulator on Linux, `computecore.dll` on Windows. */
  library?: string;
  /** How long one HCS operation may run (hcsshim: 4 min). */
  operationTimeoutMs?: number;
  clock?: Clock;
}

/** HcsEnumerateComputeSystems' filter (a ComputeSystemQuery); an absent field matches every system. */
export interface ComputeSystemQuery {
  ids?: string[];
  owners?: string[];
  types?: string[];
}

/** One compute system as HCS lists it. */
export interface ComputeSystemSummary {
  id: string;
  /** "Created", "Running", "Paused", "Stopped"... as HCS names it. */
  state: string;
  owner: string;
  systemType: string;
  runtimeOsType: string;
}

export interface SchemaVersion {
  major: number;
  minor: number;
}

/** HcsGetServiceProperties' "Basic" properties. */
export interface ServiceProperties {
  supportedSchemaVersions: SchemaVersion[];
}

/** hcsshim gives a process's output this long to drain after the process exits. */
export const COPY_AFTER_EXIT_MS = 1000;
/** How long closeSystem waits for a terminated system's exit before it closes the handle anyway. */
const CLOSE_WAIT_MS = 10_000;
/** How long close() lets the worker close its handles before terminating it. */
const SHUTDOWN_BOUND_MS = 10_000;

interface ProcessRecord {
  pid: number;
  stdin: Socket | null;
  stdinSource: Readable | null;
  outputs: Promise<void>[];
  readers: Socket[];
  exited: boolean;
  /** Resolves once its exit was reported (or the system closed). */
  reported: Promise<void>;
  report: () => void;
}

interface SystemRecord {
  id: string;
  windows: boolean;
  startedAtNs?: bigint;
  memoryLimitBytes?: number;
  processes: Map<number, ProcessRecord>;
  /** ProcessExited events for pids whose createProcess has not answered yet. */
  earlyExits: Map<number, string | null>;
  exited: boolean;
  exitSeen: Promise<void>;
  markExited: () => void;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.then(() => true),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
  ]).finally(() => clearTimeout(timer));
}

export class HcsBackend implements Backend {
  readonly name = 'hcs' as const;
  readonly library: string;
  private readonly subject = new Subject<BackendNotification>();
  readonly notifications: Observable<BackendNotification> = this.subject.asObservable();
  private readonly client: WorkerClient;
  private readonly clock: Clock;
  private readonly simulator: boolean;
  private readonly systems = new Map<string, SystemRecord>();
  private closing: Promise<void> | undefined;

  constructor(options: HcsBackendOptions = {}) {
    this.library = options.library ?? (process.platform === 'win32' ? 'computecore.dll' : SIMULATOR_LIBRARY);
    this.simulator = process.platform !== 'win32';
    this.clock = options.clock ?? new RealClock();
    this.client = new WorkerClient({ library: this.library, operationTimeoutMs: options.operationTimeoutMs ?? 240_000 });
    this.client.events.subscribe((e) => this.onEvent(e));
  }

  /** Compute systems not yet closed: a test that cleaned up finds 0. */
  get openSystems(): number {
    return this.systems.size;
  }

  private open(what: string): void {
    if (this.closing !== undefined) throw unavailable(`${what}: the HCS backend is closed`);
  }

  private system(op: string, id: string): SystemRecord {
    this.open(`${op} of '${id}'`);
    const s = this.systems.get(id);
    if (s === undefined) throw hcsError(HRESULT.HCS_E_SYSTEM_NOT_FOUND, `${op}: compute system '${id}' does not exist`);
    return s;
  }

  private process(op: string, s: SystemRecord, pid: number): ProcessRecord {
    const p = s.processes.get(pid);
    if (p === undefined) throw hcsError(HRESULT.ERROR_NOT_FOUND, `${op}: no process ${pid} in '${s.id}'`);
    if (p.exited) throw hcsError(HRESULT.HCS_E_PROCESS_ALREADY_STOPPED, `${op}: process ${pid} in '${s.id}' has exited`);
    return p;
  }

  async createSystem(id: string, config: SystemConfig): Promise<void> {
    this.open(`create of '${id}'`);
    if (this.systems.has(id)) throw hcsError(HRESULT.HCS_E_SYSTEM_ALREADY_EXISTS, `compute system '${id}' already exists`);
    const document = systemDocument(id, config.spec, { simulator: this.simulator });
    const exit = deferred();
    const record: SystemRecord = {
      id,
      windows: isWindows(config.spec),
      processes: new Map(),
      earlyExits: new Map(),
      exited: false,
      exitSeen: exit.promise,
      markExited: exit.resolve,
    };
    // Claimed before the call, so a concurrent create of the same id fails here.
    this.systems.set(id, record);
    try {
      await this.client.request({ op: 'createSystem', systemId: id, document });
    } catch (err) {
      this.systems.delete(id);
      throw err;
    }
  }

  async startSystem(id: string): Promise<void> {
    const s = this.system('start', id);
    await this.client.request({ op: 'startSystem', systemId: id });
    s.startedAtNs = this.clock.nowNs();
  }

  async shutdownSystem(id: string): Promise<void> {
    this.system('shutdown', id);
    await this.client.request({ op: 'shutdownSystem', systemId: id });
  }

  async terminateSystem(id: string): Promise<void> {
    this.system('terminate', id);
    await this.client.request({ op: 'terminateSystem', systemId: id });
  }

  async closeSystem(id: string): Promise<void> {
    const s = this.system('close', id);
    if (!s.exited) {
      // Closing a live system's last handle ends it; wait for that exit so it is reported like any other.
      await this.client.request({ op: 'terminateSystem', systemId: id }).catch((err: unknown) => {
        if (!isBackendError(err, 'already-stopped')) throw err;
      });
      await within(s.exitSeen, CLOSE_WAIT_MS);
    }
    await this.client.request({ op: 'closeSystem', systemId: id });
    for (const p of s.processes.values()) this.releaseStdio(p);
    this.systems.delete(id);
  }

  async pauseSystem(id: string): Promise<void> {
    this.system('pause', id);
    await this.client.request({ op: 'pauseSystem', systemId: id });
  }

  async resumeSystem(id: string): Promise<void> {
    this.system('resume', id);
    await this.client.request({ op: 'resumeSystem', systemId: id });
  }

  /** HcsSaveComputeSystem. The simulator has no VM state to save: `not-supported` there. */
  async saveSystem(id: string, options = ''): Promise<void> {
    this.system('save', id);
    await this.client.request({ op: 'saveSystem', systemId: id, options });
  }

  /**
   * One live-migration call on the source (§6.2's five), with the resources
   * the step's operation carries (HcsAddResourceToOperation). The simulator
   * has no VM to migrate: `not-supported` there.
   */
  async liveMigration(id: string, step: MigrationStep, options = '', resources: OperationResource[] = []): Promise<void> {
    this.system(`live migration (${step})`, id);
    await this.client.request({ op: 'migrateSystem', systemId: id, step, options, resources });
  }

  /**
   * Every compute system HCS knows that matches `query`, this backend's or
   * not: what a restarted podvisor looks through for the systems it left
   * behind (their Owner is 'podvisor'), as the runc backend does with `runc list`.
   */
  async computeSystems(query: ComputeSystemQuery = {}): Promise<ComputeSystemSummary[]> {
    this.open('enumerate compute systems');
    const q = { ...(query.ids && { Ids: query.ids }), ...(query.owners && { Owners: query.owners }), ...(query.types && { Types: query.types }) };
    const doc = await this.client.request({ op: 'enumerateSystems', query: JSON.stringify(q) });
    const list = JSON.parse(doc) as unknown;
    if (!Array.isArray(list)) throw new BackendError('other', `HcsEnumerateComputeSystems returned ${doc.slice(0, 80)}, not an array`);
    return (list as Record<string, unknown>[]).map((entry) => ({
      id: String(entry['Id'] ?? ''),
      state: String(entry['State'] ?? ''),
      owner: String(entry['Owner'] ?? ''),
      systemType: String(entry['SystemType'] ?? ''),
      runtimeOsType: String(entry['RuntimeOsType'] ?? ''),
    }));
  }

  /** HcsGetServiceProperties' basic information: the schema versions HCS accepts. */
  async serviceProperties(): Promise<ServiceProperties> {
    this.open('service properties');
    const doc = JSON.parse(await this.client.request({ op: 'serviceProperties', query: JSON.stringify({ PropertyTypes: ['Basic'] }) })) as {
      Properties?: { SupportedSchemaVersions?: { Major?: unknown; Minor?: unknown }[] }[];
    };
    const versions = (doc.Properties ?? []).flatMap((p) => p.SupportedSchemaVersions ?? []);
    return { supportedSchemaVersions: versions.map((v) => ({ major: Number(v.Major), minor: Number(v.Minor) })) };
  }

  private async properties(id: string, types: string[]): Promise<Record<string, unknown>> {
    this.system('properties', id);
    const doc = await this.client.request({ op: 'systemProperties', systemId: id, query: JSON.stringify({ PropertyTypes: types }) });
    return JSON.parse(doc) as Record<string, unknown>;
  }

  async listProcesses(id: string): Promise<ProcessDetails[]> {
    const s = this.system('list processes', id);
    const props = await this.properties(id, ['ProcessList']);
    const list = (props['ProcessList'] ?? []) as Record<string, unknown>[];
    return list.map((p) => ({
      pid: Number(p['ProcessId']),
      imageName: String(p['ImageName'] ?? ''),
      createdAt: String(p['CreateTimestamp'] ?? ''),
      state: 'running' as const,
      createdByRuntime: s.processes.has(Number(p['ProcessId'])),
      kernelTime100ns: Number(p['KernelTime100ns'] ?? 0),
      userTime100ns: Number(p['UserTime100ns'] ?? 0),
      memoryCommitBytes: Number(p['MemoryCommitBytes'] ?? 0),
      memoryWorkingSetPrivateBytes: Number(p['MemoryWorkingSetPrivateBytes'] ?? 0),
      memoryWorkingSetSharedBytes: Number(p['MemoryWorkingSetSharedBytes'] ?? 0),
    }));
  }

  async statistics(id: string): Promise<Statistics> {
    const s = this.system('statistics', id);
    const props = await this.properties(id, ['Statistics', 'ProcessList']);
    const st = (props['Statistics'] ?? {}) as Record<string, Record<string, number> | number | string | undefined>;
    const cpu = (st['Processor'] ?? {}) as Record<string, number>;
    const mem = (st['Memory'] ?? {}) as Record<string, number>;
    const storage = st['Storage'] as Record<string, number> | undefined;
    const uptime100ns = Number(st['Uptime100ns'] ?? 0);
    return {
      timestamp: typeof st['Timestamp'] === 'string' ? st['Timestamp'] : formatTimestamp(this.clock.nowNs()),
      uptimeNs: uptime100ns * 100,
      processor: {
        totalRuntimeNs: Number(cpu['TotalRuntime100ns'] ?? 0) * 100,
        userRuntimeNs: Number(cpu['RuntimeUser100ns'] ?? 0) * 100,
        kernelRuntimeNs: Number(cpu['RuntimeKernel100ns'] ?? 0) * 100,
      },
      memory: {
        usageBytes: Number(mem['MemoryUsagePrivateWorkingSetBytes'] ?? mem['MemoryUsageCommitBytes'] ?? 0),
        commitBytes: Number(mem['MemoryUsageCommitBytes'] ?? 0),
        privateWorkingSetBytes: Number(mem['MemoryUsagePrivateWorkingSetBytes'] ?? 0),
        ...(s.memoryLimitBytes === undefined ? {} : { limitBytes: s.memoryLimitBytes }),
      },
      ...(storage === undefined
        ? {}
        : {
            storage: {
              readCount: Number(storage['ReadCountNormalized'] ?? 0),
              readBytes: Number(storage['ReadSizeBytes'] ?? 0),
              writeCount: Number(storage['WriteCountNormalized'] ?? 0),
              writeBytes: Number(storage['WriteSizeBytes'] ?? 0),
            },
          }),
      processCount: ((props['ProcessList'] ?? []) as unknown[]).length,
    };
  }

  async updateResources(id: string, resources: Record<string, unknown>): Promise<void> {
    const s = this.system('update', id);
    const requests = modifyRequests(resources);
    for (const settings of requests) await this.client.request({ op: 'modifySystem', systemId: id, settings });
    const limit = ((resources['linux'] ?? resources['windows'] ?? resources) as { memory?: { limit?: number } }).memory?.limit;
    if (limit !== undefined) s.memoryLimitBytes = limit;
  }

  async createProcess(id: string, params: ProcessParams): Promise<{ pid: number }> {
    const s = this.system('create process', id);
    if (process.platform === 'win32' && (params.io.stdin !== null || params.io.stdout !== null || params.io.stderr !== null)) {
      // computecore.dll hands back pipe HANDLEs; turning them into Node streams is not built yet.
      throw new BackendError('not-supported', `create process in '${id}': stdio pipes from computecore.dll are not connected to Node streams yet`);
    }
    const params8 = processDocument(id, s.windows, params);
    const created = await this.client.request({ op: 'createProcess', systemId: id, params: params8 });
    const done = deferred();
    const record: ProcessRecord = {
      pid: created.pid,
      stdin: null,
      stdinSource: null,
      outputs: [],
      readers: [],
      exited: false,
      reported: done.promise,
      report: done.resolve,
    };
    if (this.closing !== undefined || !this.systems.has(id)) {
      // The backend closed under the call: nobody will read these pipes.
      this.connect(record, params, created);
      this.releaseStdio(record);
      throw unavailable(`create process in '${id}': the HCS backend is closed`);
    }
    this.connect(record, params, created);
    s.processes.set(created.pid, record);
    const early = s.earlyExits.get(created.pid);
    if (early !== undefined || s.earlyExits.has(created.pid)) {
      s.earlyExits.delete(created.pid);
      void this.processExited(s, record, early ?? null);
    }
    return { pid: created.pid };
  }

  /** Wraps the pipe ends HCS gave as sockets: stdin from upstream, output to upstream (never ended here). */
  private connect(record: ProcessRecord, params: ProcessParams, fds: { stdin: number | null; stdout: number | null; stderr: number | null }): void {
    if (fds.stdin !== null) {
      const socket = new Socket({ fd: fds.stdin, readable: false, writable: true });
      socket.on('error', () => undefined); // the process stopped reading: nothing more to deliver
      record.stdin = socket;
      if (params.io.stdin !== null) {
        record.stdinSource = params.io.stdin;
        params.io.stdin.pipe(socket);
      }
    }
    for (const [fd, sink] of [[fds.stdout, params.io.stdout], [fds.stderr, params.io.stderr]] as const) {
      if (fd === null) continue;
      const socket = new Socket({ fd, readable: true, writable: false });
      record.readers.push(socket);
      record.outputs.push(follow(socket, sink));
    }
  }

  private releaseStdio(p: ProcessRecord): void {
    if (p.stdin !== null) {
      p.stdinSource?.unpipe(p.stdin);
      p.stdin.destroy();
      p.stdin = null;
    }
    for (const r of p.readers) r.destroy();
    p.readers = [];
  }

  async signalProcess(id: string, pid: number, signal: ProcessSignal): Promise<void> {
    const s = this.system('signal', id);
    this.process('signal', s, pid);
    await this.client.request({ op: 'signalProcess', systemId: id, pid, options: signalDocument(s.windows, signal) });
  }

  async terminateProcess(id: string, pid: number): Promise<void> {
    const s = this.system('terminate process', id);
    this.process('terminate', s, pid);
    await this.client.request({ op: 'terminateProcess', systemId: id, pid });
  }

  async resizeConsole(id: string, pid: number, width: number, height: number): Promise<void> {
    const s = this.system('resize', id);
    this.process('resize', s, pid);
    await this.client.request({ op: 'modifyProcess', systemId: id, pid, settings: consoleSizeDocument(width, height) });
  }

  async closeStdin(id: string, pid: number): Promise<void> {
    const s = this.system('close stdin', id);
    const p = this.process('close stdin', s, pid);
    await this.client.request({ op: 'modifyProcess', systemId: id, pid, settings: CLOSE_STDIN_DOCUMENT });
    // hcsshim closes its end of the pipe after HCS was told (§6.7).
    if (p.stdin !== null) {
      p.stdinSource?.unpipe(p.stdin);
      p.stdin.end();
    }
  }

  private onEvent(e: WorkerEvent): void {
    const s = this.systems.get(e.systemId);
    if (s === undefined || this.closing !== undefined) return;
    if (e.eventType === HCS_EVENT.ProcessExited && e.pid !== null) {
      const p = s.processes.get(e.pid);
      if (p === undefined) s.earlyExits.set(e.pid, e.data);
      else void this.processExited(s, p, e.data);
    } else if (e.eventType === HCS_EVENT.SystemExited || e.eventType === HCS_EVENT.ServiceDisconnect) {
      void this.systemExited(s);
    }
  }

  /** The first exit notice wins; the exit is reported once the output drained or the bound passed. */
  private async processExited(s: SystemRecord, p: ProcessRecord, data: string | null): Promise<void> {
    if (p.exited) return;
    p.exited = true;
    const status = parseStatus(data);
    if (!(await within(Promise.all(p.outputs), COPY_AFTER_EXIT_MS))) for (const r of p.readers) r.destroy();
    this.releaseStdio(p);
    this.emit({ type: 'process-exited', systemId: s.id, pid: p.pid, exitCode: status, atNs: this.clock.nowNs() });
    p.report();
    // Its handle has nothing more to say; the record stays so later calls learn it exited.
    if (this.closing === undefined) void this.client.request({ op: 'closeProcess', systemId: s.id, pid: p.pid }).catch(() => undefined);
  }

  private async systemExited(s: SystemRecord): Promise<void> {
    if (s.exited) return;
    s.exited = true;
    // A stopped system's processes are reported first; each has at most the copy bound to go.
    await within(Promise.all([...s.processes.values()].map((p) => p.reported)), COPY_AFTER_EXIT_MS * 2);
    this.emit({ type: 'system-exited', systemId: s.id, atNs: this.clock.nowNs() });
    s.markExited();
  }

  private emit(n: BackendNotification): void {
    if (this.closing === undefined) this.subject.next(n);
  }

  /** Closes every handle (ending the systems), stops the worker; pending calls reject `unavailable`. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.client.fail(unavailable('the HCS backend is closed'));
      // fail() rejects new requests too; the worker's own shutdown request goes around it.
      await this.client.shutdown(SHUTDOWN_BOUND_MS);
      for (const s of this.systems.values()) {
        for (const p of s.processes.values()) this.releaseStdio(p);
        s.markExited();
      }
      this.systems.clear();
      this.subject.complete();
    })();
    return this.closing;
  }

  /** Tests only: the worker thread dies as a crash would end it. */
  killWorkerForTest(): void {
    this.client.die();
  }
}

/** ProcessStatus (§6.4): the exit code when LastWaitResult is 0, otherwise unknown. */
function parseStatus(data: string | null): number | null {
  if (data === null) return null;
  try {
    const s = JSON.parse(data) as { ExitCode?: number; LastWaitResult?: number };
    if ((s.LastWaitResult ?? 0) !== 0 || typeof s.ExitCode !== 'number') return null;
    return s.ExitCode;
  } catch {
    return null;
  }
}

/** Copies a process's output upstream without ending upstream; settles at EOF or on error. */
function follow(source: Socket, sink: Writable | null): Promise<void> {
  return new Promise((resolve) => {
    source.on('error', () => resolve());
    source.once('close', () => resolve());
    source.once('end', () => resolve());
    if (sink === null) source.resume();
    else source.pipe(sink, { end: false });
  });
}
