import type { Observable } from 'rxjs';
import type { Readable, Writable } from 'node:stream';
import type { OciProcess, OciSpec } from '../oci.ts';
import type { RootfsMount } from '../events.ts';

/**
 * The one interface every backend implements: the simulated HCS (`sim`),
 * `computecore.dll` through koffi (`hcs`), and runc (`runc`). It speaks in
 * compute systems and processes, as HCS does. A backend knows nothing of
 * actors, tasks' event ordering, or NATS.
 *
 * Every method rejects with a {@link BackendError} whose `kind` says what went
 * wrong in backend-neutral terms; the actors decide what each kind means for
 * the operation at hand (hcsshim treats "already stopped" as success for a
 * kill, for instance).
 */
export interface Backend {
  readonly name: BackendName;
  /**
   * System and process notifications, hot. A process's `process-exited` MUST
   * come after every byte it wrote reached its stdout/stderr writers (or the
   * 1 s copy-after-exit bound passed), and the processes of a system that
   * stops MUST be reported exited before the system's `system-exited`.
   */
  readonly notifications: Observable<BackendNotification>;
  /** Creates a compute system, not started. */
  createSystem(id: string, config: SystemConfig): Promise<void>;
  startSystem(id: string): Promise<void>;
  /** Asks the system to stop; does not wait for it (HcsShutDownComputeSystem). */
  shutdownSystem(id: string): Promise<void>;
  /** Stops the system forcibly; does not wait for it (HcsTerminateComputeSystem). */
  terminateSystem(id: string): Promise<void>;
  /** Releases the system's resources and handle. After this the id is free again. */
  closeSystem(id: string): Promise<void>;
  pauseSystem(id: string): Promise<void>;
  resumeSystem(id: string): Promise<void>;
  /** Every process in the system, including ones podvisor did not create. */
  listProcesses(id: string): Promise<ProcessDetails[]>;
  statistics(id: string): Promise<Statistics>;
  /** Applies a resource update (the `resources` of an update request). */
  updateResources(id: string, resources: Record<string, unknown>): Promise<void>;
  /** Creates and starts a process; resolves with its pid. */
  createProcess(id: string, params: ProcessParams): Promise<{ pid: number }>;
  /** Delivers a signal in the platform's own terms (see {@link ProcessSignal}). */
  signalProcess(id: string, pid: number, signal: ProcessSignal): Promise<void>;
  terminateProcess(id: string, pid: number): Promise<void>;
  resizeConsole(id: string, pid: number, width: number, height: number): Promise<void>;
  closeStdin(id: string, pid: number): Promise<void>;
  /** Stops the backend itself; pending calls reject with kind `unavailable`. */
  close(): Promise<void>;
}

export type BackendName = 'sim' | 'hcs' | 'runc';

export interface SystemConfig {
  spec: OciSpec;
  bundle: string;
  /** The create request's rootfs mounts (containerd's); when given, they make the root instead of `spec.root`. */
  rootfs?: RootfsMount[];
  /** `true` when the system hosts a pod's workloads (a pod sandbox). */
  sandbox: boolean;
}

export interface ProcessParams {
  process: OciProcess;
  /** The init process of the system (HCS starts it as the container's first process). */
  init: boolean;
  terminal: boolean;
  /** The console size asked for before the start (a resize of a created process), if any. */
  consoleSize?: { width: number; height: number };
  io: ProcessIo;
}

/** The process side of upstream IO. A null stream is "not connected". */
export interface ProcessIo {
  stdin: Readable | null;
  stdout: Writable | null;
  stderr: Writable | null;
}

/**
 * A signal already validated for the system's platform: `linux` carries a
 * signal number, `windows` a console control event. A forced kill on Windows
 * is not a signal: the actors call `terminateProcess` for it.
 */
export type ProcessSignal =
  | { kind: 'linux'; signal: number }
  | { kind: 'windows'; event: WindowsConsoleEvent };

export type WindowsConsoleEvent = 'CtrlC' | 'CtrlBreak' | 'CtrlClose' | 'CtrlLogOff' | 'CtrlShutdown';

export type BackendNotification =
  | { type: 'system-exited'; systemId: string; atNs: bigint }
  | {
      type: 'process-exited';
      systemId: string;
      pid: number;
      /** null when the backend could not tell (hcsshim's -1); reported as 255. */
      exitCode: number | null;
      atNs: bigint;
    };

export interface ProcessDetails {
  pid: number;
  imageName: string;
  createdAt: string;
  /** `running` or `zombie` where the backend can tell (runc). */
  state?: 'running' | 'zombie';
  /** `true` when the runtime created it (an init or exec), as seed 004 reports. */
  createdByRuntime?: boolean;
  kernelTime100ns?: number;
  userTime100ns?: number;
  memoryCommitBytes?: number;
  memoryWorkingSetPrivateBytes?: number;
  memoryWorkingSetSharedBytes?: number;
}

export interface Statistics {
  timestamp: string;
  uptimeNs: number;
  processor: { totalRuntimeNs: number; userRuntimeNs: number; kernelRuntimeNs: number };
  memory: { usageBytes: number; limitBytes?: number; commitBytes?: number; privateWorkingSetBytes?: number };
  storage?: { readCount: number; readBytes: number; writeCount: number; writeBytes: number };
  processCount: number;
}

/**
 * Backend-neutral failure kinds, from HCS's HRESULTs (reference/hcsshim.md
 * §6.5) and runc's messages.
 */
export type BackendErrorKind =
  | 'pending'
  | 'already-stopped'
  | 'not-found'
  | 'already-exists'
  | 'access-denied'
  | 'invalid-state'
  | 'executable-not-found'
  | 'not-supported'
  | 'invalid-argument'
  | 'unavailable'
  | 'timeout'
  | 'other';

export class BackendError extends Error {
  constructor(
    readonly kind: BackendErrorKind,
    message: string,
    /** The HRESULT where the backend is HCS-shaped (unsigned 32-bit). */
    readonly hresult?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'BackendError';
  }
}

export function isBackendError(err: unknown, kind?: BackendErrorKind): err is BackendError {
  return err instanceof BackendError && (kind === undefined || err.kind === kind);
}
