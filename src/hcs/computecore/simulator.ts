/**
 * Where the Linux HCS simulator (native/hcs-sim) is, and its extras: the
 * spec annotations that become its `PodvisorSim` document section, and the
 * counters tests read. None of this reaches a real computecore.dll unless a
 * spec carries one of these annotations.
 */
import koffi from 'koffi';
import { fileURLToPath } from 'node:url';
import type { OciSpec } from '../../oci.ts';

export const SIMULATOR_LIBRARY = fileURLToPath(new URL('../../../native/build/libcomputecore-sim.so', import.meta.url));

/** The system takes this long to begin a requested shutdown (the shutdown operation completes then). */
export const ANNOTATION_SHUTDOWN_DELAY_MS = 'podvisor.hcs-sim/shutdown-delay-ms';
/** HcsShutDownComputeSystem itself blocks its calling thread this long, as a stuck computecore call would. */
export const ANNOTATION_SHUTDOWN_BLOCK_MS = 'podvisor.hcs-sim/shutdown-block-ms';
/** The create operation completes this late. */
export const ANNOTATION_CREATE_DELAY_MS = 'podvisor.hcs-sim/create-delay-ms';
/** HcsStartComputeSystem accepts the request and its operation never completes, unless it is cancelled. */
export const ANNOTATION_START_HANG = 'podvisor.hcs-sim/start-hang';
/** The same switches as the in-memory simulator's (src/hcs/sim/backend.ts). */
export const ANNOTATION_IGNORE_SHUTDOWN = 'podvisor.sim/ignore-shutdown';
export const ANNOTATION_EXIT_CODE_UNKNOWN = 'podvisor.sim/exit-code-unknown';

export interface SimulatorSection {
  Platform?: 'linux' | 'windows';
  ShutdownDelayMs?: number;
  ShutdownBlockMs?: number;
  CreateDelayMs?: number;
  StartHang?: boolean;
  IgnoreShutdown?: boolean;
  ExitCodeUnknown?: boolean;
}

/** Throws a message naming the annotation when its value is not a number of milliseconds. */
export function simulatorSection(spec: OciSpec): SimulatorSection {
  const a = spec.annotations ?? {};
  const section: SimulatorSection = {};
  const ms = (key: string): number | undefined => {
    const v = a[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`annotation ${key} must be a whole number of milliseconds, got '${v}'`);
    return n;
  };
  const delay = ms(ANNOTATION_SHUTDOWN_DELAY_MS);
  const block = ms(ANNOTATION_SHUTDOWN_BLOCK_MS);
  const create = ms(ANNOTATION_CREATE_DELAY_MS);
  if (delay !== undefined) section.ShutdownDelayMs = delay;
  if (block !== undefined) section.ShutdownBlockMs = block;
  if (create !== undefined) section.CreateDelayMs = create;
  if (a[ANNOTATION_START_HANG] === 'true') section.StartHang = true;
  if (a[ANNOTATION_IGNORE_SHUTDOWN] === 'true') section.IgnoreShutdown = true;
  if (a[ANNOTATION_EXIT_CODE_UNKNOWN] === 'true') section.ExitCodeUnknown = true;
  return section;
}

/** The simulator's counters, read from this thread's copy of the library (the same process-wide state). */
export interface SimulatorControl {
  openHandles(): number;
  outstandingStrings(): number;
  liveThreads(): number;
  systems(): number;
  /** Closes every open handle, as a process exit does on Windows; returns how many. */
  closeAllHandles(): number;
  /** HcsClose* calls that found no open handle (a double close) since the library loaded. */
  staleCloses(): number;
  /** Operations closed before their completion callback was delivered, since the library loaded. */
  operationsClosedBeforeCompletion(): number;
}

export function simulatorControl(library = SIMULATOR_LIBRARY): SimulatorControl {
  const lib = koffi.load(library);
  const openHandles = lib.func('int PodvisorSimOpenHandles(void)');
  const outstandingStrings = lib.func('int PodvisorSimOutstandingStrings(void)');
  const liveThreads = lib.func('int PodvisorSimLiveThreads(void)');
  const systems = lib.func('int PodvisorSimSystems(void)');
  const closeAll = lib.func('int PodvisorSimCloseAllHandles(void)');
  const staleCloses = lib.func('int PodvisorSimStaleCloses(void)');
  const closedEarly = lib.func('int PodvisorSimOperationsClosedBeforeCompletion(void)');
  return {
    openHandles: () => openHandles() as number,
    outstandingStrings: () => outstandingStrings() as number,
    liveThreads: () => liveThreads() as number,
    systems: () => systems() as number,
    closeAllHandles: () => closeAll() as number,
    staleCloses: () => staleCloses() as number,
    operationsClosedBeforeCompletion: () => closedEarly() as number,
  };
}
