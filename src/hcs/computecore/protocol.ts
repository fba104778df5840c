/**
 * Messages between HcsBackend (main thread) and its worker (worker.ts).
 * Handles never cross: the worker owns every HCS handle, the main thread
 * names systems by id and processes by pid. Pipe ends do cross, as numbers
 * (file descriptors), and the main thread owns them once received.
 */

export interface WorkerData {
  library: string;
  /** How long an operation may take before the call fails `timeout` (hcsshim's default is 4 min). */
  operationTimeoutMs: number;
}

export type Request =
  | { op: 'createSystem'; systemId: string; document: string }
  | { op: 'startSystem'; systemId: string }
  | { op: 'pauseSystem'; systemId: string }
  | { op: 'resumeSystem'; systemId: string }
  /** Fire and forget (§6.3): resolves once HCS accepted the request. */
  | { op: 'shutdownSystem'; systemId: string }
  | { op: 'terminateSystem'; systemId: string }
  | { op: 'closeSystem'; systemId: string }
  /** Refused by the simulator (no VM state), as is every live-migration step. */
  | { op: 'saveSystem'; systemId: string; options: string }
  | { op: 'migrateSystem'; systemId: string; step: MigrationStep; options: string; resources: OperationResource[] }
  /** HcsEnumerateComputeSystems: the result document, a JSON array. */
  | { op: 'enumerateSystems'; query: string }
  | { op: 'serviceProperties'; query: string }
  | { op: 'systemProperties'; systemId: string; query: string }
  | { op: 'modifySystem'; systemId: string; settings: string }
  | { op: 'createProcess'; systemId: string; params: string }
  | { op: 'signalProcess'; systemId: string; pid: number; options: string }
  | { op: 'terminateProcess'; systemId: string; pid: number }
  | { op: 'modifyProcess'; systemId: string; pid: number; settings: string }
  | { op: 'closeProcess'; systemId: string; pid: number }
  /** Closes every handle, releases the callbacks, and lets the worker end. */
  | { op: 'shutdown' }
  /** Tests only: the worker thread dies on the spot. */
  | { op: 'die' };

/** The five live-migration calls of §6.2, in the order a migration makes them (cancel at any point). */
export type MigrationStep = 'initialize' | 'start' | 'transfer' | 'finalize' | 'cancel';

/** What HcsAddResourceToOperation attaches to a migration's operation (the transfer's socket, in hcsshim). */
export interface OperationResource {
  /** An HCS_RESOURCE_TYPE value. */
  type: number;
  uri: string;
  /** The caller's HANDLE, or null. */
  handle: bigint | null;
}

export interface CreatedProcess {
  pid: number;
  stdin: number | null;
  stdout: number | null;
  stderr: number | null;
}

export interface ResponseValues {
  createSystem: null;
  startSystem: null;
  pauseSystem: null;
  resumeSystem: null;
  shutdownSystem: null;
  terminateSystem: null;
  closeSystem: null;
  saveSystem: null;
  migrateSystem: null;
  enumerateSystems: string;
  serviceProperties: string;
  systemProperties: string;
  modifySystem: null;
  createProcess: CreatedProcess;
  signalProcess: null;
  terminateProcess: null;
  modifyProcess: null;
  closeProcess: null;
  shutdown: null;
  die: null;
}

/** A failure as HCS reported it (an HRESULT and its ResultError message), or one of the worker's own. */
export interface WireError {
  hresult: number | null;
  message: string;
  /** Set for the worker's own failures that have no HRESULT. */
  kind?: 'unavailable' | 'timeout' | 'not-found' | 'invalid-state' | 'other';
}

export type WorkerMessage =
  | { type: 'response'; id: number; ok: true; value: unknown }
  | { type: 'response'; id: number; ok: false; error: WireError }
  | { type: 'event'; systemId: string; pid: number | null; eventType: number; data: string | null };
