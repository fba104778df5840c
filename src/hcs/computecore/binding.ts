/**
 * computecore.dll's functions through koffi (reference/hcsshim.md §6.2), the
 * same declarations for Windows' DLL and the Linux simulator built from
 * native/hcs-sim. Only thin typing lives here: which calls may block, and so
 * go through `.async` on the libuv pool, is decided by the caller
 * (worker.ts); everything this module calls synchronously returns at once.
 */
import koffi, { type LibraryHandle } from 'koffi';

/** A handle or other pointer as koffi 3 represents it. */
export type Pointer = bigint;

export interface ProcessInformation {
  processId: number;
  /** Pipe HANDLEs (Windows) or file descriptors (the simulator); null when not asked for. */
  stdInput: Pointer | null;
  stdOutput: Pointer | null;
  stdError: Pointer | null;
}

/** What HcsGetOperationResult / HcsWaitForOperationResult (and their …AndProcessInfo forms) report. */
export interface OperationResult {
  hresult: number;
  document: string | null;
  /** Only from the …AndProcessInfo forms. */
  info: ProcessInformation | null;
}

export interface HcsEvent {
  type: number;
  data: string | null;
}

export const HCS_EVENT = {
  SystemExited: 0x00000001,
  ProcessExited: 0x00010000,
  OperationCallback: 0x01000000,
  ServiceDisconnect: 0x02000000,
} as const;

/** hcsshim registers systems with live-migration events and processes with none (§6.4). */
export const HCS_EVENT_OPTIONS = { None: 0, EnableOperationCallbacks: 1, EnableLiveMigrationEvents: 4 } as const;

export const GENERIC_ALL = 0x10000000;

// Named koffi types are global to the thread's koffi instance: declare them once per module load.
const HANDLE = koffi.pointer('HANDLE', koffi.opaque());
koffi.alias('HCS_OPERATION', HANDLE);
koffi.alias('HCS_SYSTEM', HANDLE);
koffi.alias('HCS_PROCESS', HANDLE);
const PROCESS_INFORMATION = koffi.struct('HCS_PROCESS_INFORMATION', {
  ProcessId: 'uint32',
  Reserved: 'uint32',
  StdInput: 'void *',
  StdOutput: 'void *',
  StdError: 'void *',
});
const EVENT = koffi.struct('HCS_EVENT', {
  Type: 'uint32',
  EventData: 'const char16_t *',
  Operation: 'void *',
});
const COMPLETION = koffi.proto('void __stdcall HCS_OPERATION_COMPLETION(HCS_OPERATION operation, void *context)');
const EVENT_CALLBACK = koffi.proto('void __stdcall HCS_EVENT_CALLBACK(HCS_EVENT *event, void *context)');

type Fn = ReturnType<LibraryHandle['func']>;

/** Async calls in koffi's queue at once; well under its default limit of 256. */
const MAX_ASYNC = 128;

/** An HRESULT as the unsigned 32-bit value HCS documents, whatever koffi returned. */
function hr(value: unknown): number {
  return Number(value) >>> 0;
}

function pointerOrNull(value: unknown): Pointer | null {
  if (value === null || value === undefined) return null;
  const p = BigInt(value as bigint | number);
  return p === 0n ? null : p;
}

/** Every computecore function podvisor binds: the shim's "U" rows of §6.2. */
function declare(l: LibraryHandle) {
  return {
    HcsCreateOperation: l.func('HCS_OPERATION __stdcall HcsCreateOperation(const void *context, HCS_OPERATION_COMPLETION *callback)'),
    HcsCloseOperation: l.func('void __stdcall HcsCloseOperation(HCS_OPERATION operation)'),
    HcsGetOperationResult: l.func('int32 __stdcall HcsGetOperationResult(HCS_OPERATION operation, _Out_ void **resultDocument)'),
    HcsGetOperationResultAndProcessInfo: l.func(
      'int32 __stdcall HcsGetOperationResultAndProcessInfo(HCS_OPERATION operation, _Out_ HCS_PROCESS_INFORMATION *processInformation, _Out_ void **resultDocument)',
    ),
    // These two block their thread up to timeoutMs: only ever called with .async (see waitForOperationResult).
    HcsWaitForOperationResult: l.func('int32 __stdcall HcsWaitForOperationResult(HCS_OPERATION operation, uint32 timeoutMs, _Out_ void **resultDocument)'),
    HcsWaitForOperationResultAndProcessInfo: l.func(
      'int32 __stdcall HcsWaitForOperationResultAndProcessInfo(HCS_OPERATION operation, uint32 timeoutMs, _Out_ HCS_PROCESS_INFORMATION *processInformation, _Out_ void **resultDocument)',
    ),
    HcsCancelOperation: l.func('int32 __stdcall HcsCancelOperation(HCS_OPERATION operation)'),
    HcsAddResourceToOperation: l.func('int32 __stdcall HcsAddResourceToOperation(HCS_OPERATION operation, uint32 type, const char16_t *uri, HANDLE handle)'),
    HcsEnumerateComputeSystems: l.func('int32 __stdcall HcsEnumerateComputeSystems(const char16_t *query, HCS_OPERATION operation)'),
    HcsCreateComputeSystem: l.func(
      'int32 __stdcall HcsCreateComputeSystem(const char16_t *id, const char16_t *configuration, HCS_OPERATION operation, const void *securityDescriptor, _Out_ HCS_SYSTEM *computeSystem)',
    ),
    HcsOpenComputeSystem: l.func('int32 __stdcall HcsOpenComputeSystem(const char16_t *id, uint32 requestedAccess, _Out_ HCS_SYSTEM *computeSystem)'),
    HcsCloseComputeSystem: l.func('void __stdcall HcsCloseComputeSystem(HCS_SYSTEM computeSystem)'),
    HcsStartComputeSystem: l.func('int32 __stdcall HcsStartComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsShutDownComputeSystem: l.func('int32 __stdcall HcsShutDownComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsTerminateComputeSystem: l.func('int32 __stdcall HcsTerminateComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsPauseComputeSystem: l.func('int32 __stdcall HcsPauseComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsResumeComputeSystem: l.func('int32 __stdcall HcsResumeComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsSaveComputeSystem: l.func('int32 __stdcall HcsSaveComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsGetComputeSystemProperties: l.func(
      'int32 __stdcall HcsGetComputeSystemProperties(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *propertyQuery)',
    ),
    HcsModifyComputeSystem: l.func(
      'int32 __stdcall HcsModifyComputeSystem(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *configuration, HANDLE identity)',
    ),
    HcsSetComputeSystemCallback: l.func(
      'int32 __stdcall HcsSetComputeSystemCallback(HCS_SYSTEM computeSystem, uint32 callbackOptions, const void *context, HCS_EVENT_CALLBACK *callback)',
    ),
    HcsInitializeLiveMigrationOnSource: l.func(
      'int32 __stdcall HcsInitializeLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)',
    ),
    HcsStartLiveMigrationOnSource: l.func('int32 __stdcall HcsStartLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsStartLiveMigrationTransfer: l.func('int32 __stdcall HcsStartLiveMigrationTransfer(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsFinalizeLiveMigration: l.func('int32 __stdcall HcsFinalizeLiveMigration(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsCancelLiveMigration: l.func('int32 __stdcall HcsCancelLiveMigration(HCS_SYSTEM computeSystem, HCS_OPERATION operation, const char16_t *options)'),
    HcsCreateProcess: l.func(
      'int32 __stdcall HcsCreateProcess(HCS_SYSTEM computeSystem, const char16_t *processParameters, HCS_OPERATION operation, const void *securityDescriptor, _Out_ HCS_PROCESS *process)',
    ),
    HcsOpenProcess: l.func('int32 __stdcall HcsOpenProcess(HCS_SYSTEM computeSystem, uint32 processId, uint32 requestedAccess, _Out_ HCS_PROCESS *process)'),
    HcsCloseProcess: l.func('void __stdcall HcsCloseProcess(HCS_PROCESS process)'),
    HcsTerminateProcess: l.func('int32 __stdcall HcsTerminateProcess(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *options)'),
    HcsSignalProcess: l.func('int32 __stdcall HcsSignalProcess(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *options)'),
    HcsGetProcessInfo: l.func('int32 __stdcall HcsGetProcessInfo(HCS_PROCESS process, HCS_OPERATION operation)'),
    HcsGetProcessProperties: l.func('int32 __stdcall HcsGetProcessProperties(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *propertyQuery)'),
    HcsModifyProcess: l.func('int32 __stdcall HcsModifyProcess(HCS_PROCESS process, HCS_OPERATION operation, const char16_t *settings)'),
    HcsSetProcessCallback: l.func(
      'int32 __stdcall HcsSetProcessCallback(HCS_PROCESS process, uint32 callbackOptions, void *context, HCS_EVENT_CALLBACK *callback)',
    ),
    HcsGetServiceProperties: l.func('int32 __stdcall HcsGetServiceProperties(const char16_t *propertyQuery, _Out_ void **result)'),
    HcsModifyServiceSettings: l.func('int32 __stdcall HcsModifyServiceSettings(const char16_t *settings, _Out_ void **result)'),
  };
}

/** A bound computecore function's name: a misspelt one fails to compile rather than at the call. */
export type HcsFunction = keyof ReturnType<typeof declare>;

export interface Callbacks {
  /** Runs on the JS thread, relayed by koffi from an HCS thread that waits for it: enqueue, never block. */
  completion(context: number): void;
  event(context: number, event: HcsEvent): void;
}

/**
 * One loaded computecore library and the two callbacks every handle shares
 * (HCS passes a numeric context back, never a live pointer, §6.4). Call
 * {@link dispose} only once no handle can call back any more.
 */
export class ComputeCore {
  private readonly lib: LibraryHandle;
  private readonly f: Record<HcsFunction, Fn>;
  private readonly localFree: Fn;
  private readonly completionPtr: Pointer;
  private readonly eventPtr: Pointer;
  private disposed = false;
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly path: string,
    callbacks: Callbacks,
  ) {
    this.lib = koffi.load(path);
    const l = this.lib;
    this.f = declare(l);
    // Result documents are the caller's to free, with LocalFree (§6.1); the simulator exports its own.
    const freer = process.platform === 'win32' ? koffi.load('kernel32.dll') : l;
    this.localFree = freer.func('void * __stdcall LocalFree(void *memory)');
    this.completionPtr = koffi.register((_op: unknown, context: unknown) => callbacks.completion(Number(context)), koffi.pointer(COMPLETION));
    this.eventPtr = koffi.register((event: unknown, context: unknown) => {
      // EventData lives only while the callback runs: copy it now.
      const e = koffi.decode(event as bigint, EVENT) as { Type: number; EventData: string | null };
      callbacks.event(Number(context), { type: e.Type >>> 0, data: e.EventData });
    }, koffi.pointer(EVENT_CALLBACK));
  }

  /** Never blocks. Null when HCS could not create it. */
  createOperation(context: number): Pointer | null {
    return pointerOrNull(this.f.HcsCreateOperation!(BigInt(context), this.completionPtr));
  }

  /** The outcome of a completed operation (HCS_E_OPERATION_PENDING while it runs). Never blocks. */
  operationResult(op: Pointer, withProcessInfo: boolean): OperationResult {
    const doc: unknown[] = [null];
    if (!withProcessInfo) return this.outcome(this.f.HcsGetOperationResult(op, doc), null, doc);
    const raw: Record<string, unknown> = {};
    return this.outcome(this.f.HcsGetOperationResultAndProcessInfo(op, raw, doc), raw, doc);
  }

  /**
   * HcsWaitForOperationResult[AndProcessInfo]: the outcome once the operation
   * completes, or HCS_E_OPERATION_TIMEOUT after `timeoutMs`. The wait blocks
   * its thread, so it runs on the libuv pool and holds one pool thread for as
   * long as it waits: callers keep `timeoutMs` short.
   */
  async waitForOperationResult(op: Pointer, timeoutMs: number, withProcessInfo: boolean): Promise<OperationResult> {
    const doc: unknown[] = [null];
    if (!withProcessInfo) return this.outcome((await this.call('HcsWaitForOperationResult', op, timeoutMs, doc)).result, null, doc);
    const raw: Record<string, unknown> = {};
    return this.outcome((await this.call('HcsWaitForOperationResultAndProcessInfo', op, timeoutMs, raw, doc)).result, raw, doc);
  }

  /** A service-wide call (no handle, no operation): its result document, or its ResultError when it failed. */
  async serviceCall(name: 'HcsGetServiceProperties' | 'HcsModifyServiceSettings', document: string): Promise<{ hresult: number; document: string | null }> {
    const out: unknown[] = [null];
    const result = await this.hresult(name, document, out);
    return { hresult: result, document: this.takeString(out[0]) };
  }

  private outcome(result: unknown, raw: Record<string, unknown> | null, doc: unknown[]): OperationResult {
    const info: ProcessInformation | null =
      raw === null
        ? null
        : {
            processId: Number(raw['ProcessId'] ?? 0),
            stdInput: pointerOrNull(raw['StdInput']),
            stdOutput: pointerOrNull(raw['StdOutput']),
            stdError: pointerOrNull(raw['StdError']),
          };
    return { hresult: hr(result), document: this.takeString(doc[0]), info };
  }

  /** Copies a returned UTF-16 string and frees HCS's copy. */
  private takeString(ptr: unknown): string | null {
    const p = pointerOrNull(ptr);
    if (p === null) return null;
    try {
      return koffi.decode.string16(p);
    } finally {
      this.localFree(p);
    }
  }

  /**
   * Runs `name` on the libuv pool: the JS thread stays free to receive the
   * callbacks it triggers. koffi refuses async calls past its queue limit
   * (max_async_calls, 256), so calls beyond MAX_ASYNC wait their turn here.
   */
  async call(name: HcsFunction, ...args: unknown[]): Promise<{ result: unknown; args: unknown[] }> {
    const fn = this.f[name];
    if (this.running >= MAX_ASYNC) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running++;
    try {
      return await new Promise((resolve, reject) => {
        fn.async(...args, (err: unknown, result: unknown) => (err ? reject(err) : resolve({ result, args })));
      });
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /** An HRESULT-returning call on the pool. */
  async hresult(name: HcsFunction, ...args: unknown[]): Promise<number> {
    return hr((await this.call(name, ...args)).result);
  }

  get completionCallback(): Pointer {
    return this.completionPtr;
  }

  get eventCallback(): Pointer {
    return this.eventPtr;
  }

  /** Releases the callback slots. Only once no handle and no operation can call back. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    koffi.unregister(this.completionPtr);
    koffi.unregister(this.eventPtr);
  }
}
