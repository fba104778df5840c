/**
 * The worker thread that owns computecore: every HCS handle, every call and
 * both callbacks live here. Nothing in it blocks its event loop: calls that
 * take a handle run on the libuv pool (`.async`), operations complete
 * through HcsCreateOperation's callback, and the callbacks, which koffi
 * relays from HCS's own threads, only enqueue.
 */
import { closeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { HRESULT, hresultName } from '../hresults.ts';
import { ComputeCore, HCS_EVENT, HCS_EVENT_OPTIONS, type HcsFunction, type Pointer, type ProcessInformation } from './binding.ts';
import { HandleGuard } from './guard.ts';
import type { CreatedProcess, MigrationStep, OperationResource, Request, WireError, WorkerData, WorkerMessage } from './protocol.ts';

const HCS_E_SYSTEM_NOT_FOUND = 0x8037010e;
const ERROR_NOT_FOUND = 0x490;
const ERROR_INVALID_HANDLE = 0x6;
const E_OUTOFMEMORY = 0x8007000e;
/**
 * How long a cancelled operation may take to finish. Its result is awaited
 * with HcsWaitForOperationResult on the pool, which holds a pool thread that
 * long at most; HCS is expected to end a cancelled operation at once.
 */
const CANCEL_GRACE_MS = 5000;

const MIGRATION_CALLS: Record<MigrationStep, HcsFunction> = {
  initialize: 'HcsInitializeLiveMigrationOnSource',
  start: 'HcsStartLiveMigrationOnSource',
  transfer: 'HcsStartLiveMigrationTransfer',
  finalize: 'HcsFinalizeLiveMigration',
  cancel: 'HcsCancelLiveMigration',
};

class HcsCallError extends Error {
  constructor(
    readonly wire: WireError,
  ) {
    super(wire.message);
  }
}

function failed(hresult: number): boolean {
  return (hresult & 0x80000000) !== 0;
}

/** "HcsStartComputeSystem: compute system 'x' ...": the ResultError's message when HCS gave one. */
function describe(call: string, document: string | null): string {
  if (document === null || document === '') return call;
  try {
    const parsed = JSON.parse(document) as { ErrorMessage?: unknown };
    if (typeof parsed.ErrorMessage === 'string' && parsed.ErrorMessage !== '') return `${call}: ${parsed.ErrorMessage}`;
  } catch {
    // Not a ResultError document: the call name alone says enough.
  }
  return call;
}

interface ProcessEntry {
  guard: HandleGuard;
  context: number;
}

interface SystemEntry {
  guard: HandleGuard;
  context: number;
  processes: Map<number, ProcessEntry>;
}

const data = workerData as WorkerData;
const port = parentPort;
if (port === null) throw new Error('worker.ts runs as a worker thread');

const completions = new Map<number, () => void>();
const contexts = new Map<number, { systemId: string; pid: number | null }>();
let nextKey = 1;

const core = new ComputeCore(data.library, {
  completion(key) {
    completions.get(key)?.();
  },
  event(key, event) {
    const target = contexts.get(key);
    if (target === undefined) return;
    const message: WorkerMessage = { type: 'event', systemId: target.systemId, pid: target.pid, eventType: event.type, data: event.data };
    port.postMessage(message);
  },
});

const systems = new Map<string, SystemEntry>();
/** Operation closes still running: shutdown waits for them before releasing the callbacks. */
const closingOperations = new Set<Promise<void>>();
let shuttingDown = false;
/** Settles when shutdown begins: operations still waiting are cancelled rather than waited out. */
let beginStopping!: () => void;
const stopping = new Promise<'stopping'>((resolve) => (beginStopping = () => resolve('stopping')));

function closeOperation(op: Pointer): void {
  const closing = core.call('HcsCloseOperation', op).then(
    () => undefined,
    () => undefined,
  );
  closingOperations.add(closing);
  void closing.finally(() => closingOperations.delete(closing));
}

interface OperationOutcome {
  document: string | null;
  info: ProcessInformation | null;
}

interface RunOptions {
  /** Read the result with …AndProcessInfo (HcsCreateProcess). */
  withInfo?: boolean;
  /** Runs on the fresh operation before the call: HcsAddResourceToOperation. */
  prepare?: (op: Pointer) => Promise<void>;
}

/** `p`, or 'late' once `ms` passed, whichever comes first; the timer never outlives the race. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * hcsshim's runOperation (§6.3) without a blocked thread: create an
 * operation whose completion callback resolves a promise, make the call on
 * the pool, await the callback, read the result, close the operation.
 */
async function runOperation(name: HcsFunction, args: (op: Pointer) => unknown[], options: RunOptions = {}): Promise<OperationOutcome> {
  const withInfo = options.withInfo ?? false;
  const key = nextKey++;
  const completed = new Promise<void>((resolve) => completions.set(key, resolve));
  const op = core.createOperation(key);
  if (op === null) {
    completions.delete(key);
    throw new HcsCallError({ hresult: E_OUTOFMEMORY, message: `HcsCreateOperation for ${name} failed` });
  }
  try {
    await options.prepare?.(op);
    const { result } = await core.call(name, ...args(op));
    const hresult = Number(result) >>> 0;
    if (failed(hresult)) {
      // The call itself failed: no completion is coming; the operation may hold the error document.
      const r = core.operationResult(op, false);
      throw new HcsCallError({ hresult, message: describe(name, r.document) });
    }
    const waited = await within(Promise.race([completed.then(() => 'completed' as const), stopping]), data.operationTimeoutMs);
    if (waited === 'late') {
      const how = await cancelOperation(op, completed, withInfo);
      throw new HcsCallError({ hresult: HRESULT.HCS_E_OPERATION_TIMEOUT, message: `${name} did not complete within ${data.operationTimeoutMs} ms; ${how}`, kind: 'timeout' });
    }
    if (waited === 'stopping') {
      const how = await cancelOperation(op, completed, withInfo);
      throw new HcsCallError({ hresult: null, message: `${name}: the HCS worker is shutting down; ${how}`, kind: 'unavailable' });
    }
    const r = core.operationResult(op, withInfo);
    if (failed(r.hresult)) throw new HcsCallError({ hresult: r.hresult, message: describe(name, r.document) });
    return { document: r.document, info: r.info };
  } finally {
    completions.delete(key);
    // Completed, cancelled and completed, or failed at the call (closing then drops any completion HCS queued).
    closeOperation(op);
  }
}

/**
 * What hcsshim does when its wait gives up (§6.3): HcsCancelOperation. The
 * operation is only closed once HCS finished it and its completion callback
 * ran, so no callback and no call can still be on its way to a closed
 * handle. Says how it ended, for the caller's message.
 */
async function cancelOperation(op: Pointer, completed: Promise<void>, withInfo: boolean): Promise<string> {
  const refused = await core.hresult('HcsCancelOperation', op);
  // Cancelled or finished first (the cancel is then refused), it ends now: HCS's result says which.
  const r = await core.waitForOperationResult(op, CANCEL_GRACE_MS, withInfo);
  // A process created just before the cancel landed: its caller is gone, so are its pipes (file descriptors:
  // on Windows createProcess asks for none yet).
  for (const end of [r.info?.stdInput, r.info?.stdOutput, r.info?.stdError]) if (end != null) closeSync(Number(end));
  if (r.hresult === HRESULT.HCS_E_OPERATION_TIMEOUT) return `HcsCancelOperation did not end it within ${CANCEL_GRACE_MS} ms`;
  // The result is set before the callback is delivered: wait for the callback too before the close.
  await within(completed, CANCEL_GRACE_MS);
  if (failed(refused)) return `it completed before HcsCancelOperation (${hresultName(refused)}): ${hresultName(r.hresult)}`;
  return `cancelled: ${hresultName(r.hresult)}`;
}

/** Shutdown and Terminate (§6.3): the call is the answer; the exit arrives as SystemExited. */
async function submitOperation(name: HcsFunction, handle: Pointer): Promise<void> {
  const op = core.createOperation(0);
  if (op === null) throw new HcsCallError({ hresult: E_OUTOFMEMORY, message: `HcsCreateOperation for ${name} failed` });
  try {
    const hresult = await core.hresult(name, handle, op, '');
    if (failed(hresult)) throw new HcsCallError({ hresult, message: describe(name, core.operationResult(op, false).document) });
  } finally {
    closeOperation(op);
  }
}

function system(systemId: string): SystemEntry {
  const s = systems.get(systemId);
  if (s === undefined) throw new HcsCallError({ hresult: HCS_E_SYSTEM_NOT_FOUND, message: `compute system '${systemId}' is not open` });
  return s;
}

function processOf(systemId: string, pid: number): ProcessEntry {
  const p = system(systemId).processes.get(pid);
  if (p === undefined) throw new HcsCallError({ hresult: ERROR_NOT_FOUND, message: `process ${pid} of '${systemId}' is not open` });
  return p;
}

const handleClosed = (what: string) => () => new HcsCallError({ hresult: ERROR_INVALID_HANDLE, message: `${what}: the handle is closing` });

async function createSystem(systemId: string, document: string): Promise<null> {
  if (systems.has(systemId)) throw new HcsCallError({ hresult: 0x8037010f, message: `compute system '${systemId}' is already open` });
  const out: unknown[] = [null];
  try {
    await runOperation('HcsCreateComputeSystem', (op) => [systemId, document, op, null, out]);
  } catch (err) {
    // A handle HCS gave back for a create that then failed is still ours to close.
    const given = handleIn(out);
    if (given !== null) await core.call('HcsCloseComputeSystem', given);
    throw err;
  }
  const handle = handleIn(out) as Pointer;
  const context = nextKey++;
  contexts.set(context, { systemId, pid: null });
  const entry: SystemEntry = {
    guard: new HandleGuard(handle, async (h) => {
      await core.call('HcsCloseComputeSystem', h);
      contexts.delete(context);
    }),
    context,
    processes: new Map(),
  };
  systems.set(systemId, entry);
  // Registered before anything can make it exit, so no SystemExited is missed (§6.4).
  const hresult = await core.hresult('HcsSetComputeSystemCallback', handle, HCS_EVENT_OPTIONS.EnableLiveMigrationEvents, BigInt(context), core.eventCallback);
  if (failed(hresult)) {
    systems.delete(systemId);
    await entry.guard.close();
    throw new HcsCallError({ hresult, message: 'HcsSetComputeSystemCallback' });
  }
  return null;
}

/** The handle koffi wrote into an `_Out_` slot, or null. */
function handleIn(out: unknown[]): Pointer | null {
  const v = out[0];
  if (v === null || v === undefined) return null;
  const p = BigInt(v as bigint);
  return p === 0n ? null : p;
}

function fd(pointer: Pointer | null): number | null {
  return pointer === null ? null : Number(pointer);
}

async function createProcess(systemId: string, params: string): Promise<CreatedProcess> {
  const s = system(systemId);
  return s.guard.use(async (sys) => {
    const out: unknown[] = [null];
    let outcome: OperationOutcome;
    try {
      outcome = await runOperation('HcsCreateProcess', (op) => [sys, params, op, null, out], { withInfo: true });
    } catch (err) {
      const given = handleIn(out);
      if (given !== null) await core.call('HcsCloseProcess', given);
      throw err;
    }
    const handle = handleIn(out) as Pointer;
    const info = outcome.info as ProcessInformation;
    const pid = info.processId;
    const context = nextKey++;
    contexts.set(context, { systemId, pid });
    const entry: ProcessEntry = {
      guard: new HandleGuard(handle, async (h) => {
        await core.call('HcsCloseProcess', h);
        contexts.delete(context);
      }),
      context,
    };
    s.processes.set(pid, entry);
    const created: CreatedProcess = { pid, stdin: fd(info.stdInput), stdout: fd(info.stdOutput), stderr: fd(info.stdError) };
    const hresult = await core.hresult('HcsSetProcessCallback', handle, HCS_EVENT_OPTIONS.None, BigInt(context), core.eventCallback);
    if (failed(hresult)) {
      // Nobody will receive these pipes now: close them here rather than leak them.
      for (const end of [created.stdin, created.stdout, created.stderr]) if (end !== null) closeSync(end);
      throw new HcsCallError({ hresult, message: 'HcsSetProcessCallback' });
    }
    // An exit before the callback was registered produced no event: read the state now (§6.4, §7).
    const status = await entry.guard.use((h) => runOperation('HcsGetProcessProperties', (op) => [h, op, '']), handleClosed('process properties'));
    if (status.document !== null && (JSON.parse(status.document) as { Exited?: boolean }).Exited === true) {
      const message: WorkerMessage = { type: 'event', systemId, pid, eventType: HCS_EVENT.ProcessExited, data: status.document };
      port!.postMessage(message);
    }
    return created;
  }, handleClosed(`create process in '${systemId}'`));
}

async function closeProcess(systemId: string, pid: number): Promise<null> {
  const s = systems.get(systemId);
  const p = s?.processes.get(pid);
  if (s === undefined || p === undefined) return null;
  await p.guard.close();
  s.processes.delete(pid);
  return null;
}

async function closeSystem(systemId: string): Promise<null> {
  const s = systems.get(systemId);
  if (s === undefined) return null;
  await Promise.all([...s.processes.keys()].map((pid) => closeProcess(systemId, pid)));
  await s.guard.close();
  systems.delete(systemId);
  return null;
}

/** A call on a system that takes an operation and an options string: start, pause, resume, save, migration. */
function onSystem(systemId: string, name: HcsFunction, options: string, run: RunOptions = {}): Promise<OperationOutcome> {
  return system(systemId).guard.use((h) => runOperation(name, (op) => [h, op, options], run), handleClosed(name));
}

async function addResources(op: Pointer, resources: OperationResource[]): Promise<void> {
  for (const r of resources) {
    const hresult = await core.hresult('HcsAddResourceToOperation', op, r.type, r.uri, r.handle);
    if (failed(hresult)) throw new HcsCallError({ hresult, message: `HcsAddResourceToOperation (${r.uri})` });
  }
}

async function serviceProperties(query: string): Promise<string> {
  const r = await core.serviceCall('HcsGetServiceProperties', query);
  if (failed(r.hresult)) throw new HcsCallError({ hresult: r.hresult, message: describe('HcsGetServiceProperties', r.document) });
  return r.document ?? '{}';
}

async function shutdown(): Promise<null> {
  shuttingDown = true;
  beginStopping();
  await Promise.all([...systems.keys()].map((id) => closeSystem(id)));
  while (closingOperations.size > 0) await Promise.all([...closingOperations]);
  // Every handle and operation is closed: no HCS thread can call back any more.
  core.dispose();
  return null;
}

async function handle(req: Request): Promise<unknown> {
  if (shuttingDown && req.op !== 'shutdown') {
    throw new HcsCallError({ hresult: null, message: `${req.op}: the HCS worker is shutting down`, kind: 'unavailable' });
  }
  switch (req.op) {
    case 'createSystem':
      return createSystem(req.systemId, req.document);
    case 'startSystem':
    case 'pauseSystem':
    case 'resumeSystem': {
      const name = ({ startSystem: 'HcsStartComputeSystem', pauseSystem: 'HcsPauseComputeSystem', resumeSystem: 'HcsResumeComputeSystem' } as const)[req.op];
      await onSystem(req.systemId, name, '');
      return null;
    }
    case 'saveSystem':
      await onSystem(req.systemId, 'HcsSaveComputeSystem', req.options);
      return null;
    case 'migrateSystem':
      await onSystem(req.systemId, MIGRATION_CALLS[req.step], req.options, { prepare: (op) => addResources(op, req.resources) });
      return null;
    case 'enumerateSystems':
      return (await runOperation('HcsEnumerateComputeSystems', (op) => [req.query, op])).document ?? '[]';
    case 'serviceProperties':
      return serviceProperties(req.query);
    case 'shutdownSystem':
    case 'terminateSystem': {
      const name = req.op === 'shutdownSystem' ? 'HcsShutDownComputeSystem' : 'HcsTerminateComputeSystem';
      await system(req.systemId).guard.use((h) => submitOperation(name, h), handleClosed(name));
      return null;
    }
    case 'closeSystem':
      return closeSystem(req.systemId);
    case 'systemProperties': {
      const r = await system(req.systemId).guard.use((h) => runOperation('HcsGetComputeSystemProperties', (op) => [h, op, req.query]), handleClosed('properties'));
      return r.document ?? '{}';
    }
    case 'modifySystem':
      await system(req.systemId).guard.use((h) => runOperation('HcsModifyComputeSystem', (op) => [h, op, req.settings, null]), handleClosed('modify'));
      return null;
    case 'createProcess':
      return createProcess(req.systemId, req.params);
    case 'signalProcess':
      await processOf(req.systemId, req.pid).guard.use((h) => runOperation('HcsSignalProcess', (op) => [h, op, req.options]), handleClosed('signal'));
      return null;
    case 'terminateProcess':
      await processOf(req.systemId, req.pid).guard.use((h) => runOperation('HcsTerminateProcess', (op) => [h, op, '']), handleClosed('terminate'));
      return null;
    case 'modifyProcess':
      await processOf(req.systemId, req.pid).guard.use((h) => runOperation('HcsModifyProcess', (op) => [h, op, req.settings]), handleClosed('modify process'));
      return null;
    case 'closeProcess':
      return closeProcess(req.systemId, req.pid);
    case 'shutdown':
      return shutdown();
    case 'die':
      process.exit(70);
  }
}

port.on('message', (message: { id: number; request: Request }) => {
  void handle(message.request).then(
    (value) => {
      const reply: WorkerMessage = { type: 'response', id: message.id, ok: true, value: value ?? null };
      port.postMessage(reply);
      if (message.request.op === 'shutdown') port.close();
    },
    (err: unknown) => {
      const error: WireError = err instanceof HcsCallError ? err.wire : { hresult: null, message: err instanceof Error ? err.message : String(err), kind: 'other' };
      const reply: WorkerMessage = { type: 'response', id: message.id, ok: false, error };
      port.postMessage(reply);
    },
  );
});
