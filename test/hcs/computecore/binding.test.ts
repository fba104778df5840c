/**
 * The §6.2 calls the backend reaches only on rare paths, through the real
 * koffi binding (ComputeCore) and the native simulator, in this thread:
 * cancelling and waiting on operations, the service-wide calls, and the
 * operation resources live migration would attach.
 */
import { closeSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ComputeCore, type Pointer } from '../../../src/hcs/computecore/binding.ts';
import { E_INVALIDARG, hcsError } from '../../../src/hcs/computecore/errors.ts';
import { SIMULATOR_LIBRARY } from '../../../src/hcs/computecore/simulator.ts';
import { HRESULT } from '../../../src/hcs/hresults.ts';
import { ensureSimulator, expectNothingLeaked, sim } from './simulator.ts';

/** HRESULT_FROM_WIN32(ERROR_CANCELLED): what the simulator completes a cancelled operation with. */
const ERROR_CANCELLED = 0x800704c7;

const fired = new Map<number, () => void>();
let nextKey = 1;
let core: ComputeCore;

beforeAll(() => {
  ensureSimulator();
  core = new ComputeCore(SIMULATOR_LIBRARY, { completion: (key) => fired.get(key)?.(), event: () => undefined });
});
afterAll(() => core.dispose());
/** Every operation here is closed only after its completion callback ran, as the worker does. */
let closedEarlyAtStart = 0;
beforeEach(() => {
  closedEarlyAtStart = sim().operationsClosedBeforeCompletion();
});
afterEach(async () => {
  expect(sim().operationsClosedBeforeCompletion()).toBe(closedEarlyAtStart);
  await expectNothingLeaked();
});

function operation(): { op: Pointer; completed: Promise<void> } {
  const key = nextKey++;
  const completed = new Promise<void>((resolve) => fired.set(key, resolve));
  const op = core.createOperation(key);
  if (op === null) throw new Error('HcsCreateOperation returned NULL');
  return { op, completed };
}

async function closeOperation(op: Pointer): Promise<void> {
  await core.call('HcsCloseOperation', op);
}

/** A Linux system in the simulator, created (and started unless told not to); its handle. */
async function system(id: string, switches: Record<string, unknown> = {}, start = true): Promise<Pointer> {
  const { op, completed } = operation();
  const out: unknown[] = [null];
  const document = JSON.stringify({ Owner: 'binding-test', SchemaVersion: { Major: 2, Minor: 1 }, PodvisorSim: { Platform: 'linux', ...switches } });
  expect(await core.hresult('HcsCreateComputeSystem', id, document, op, null, out)).toBe(HRESULT.S_OK);
  await completed;
  await closeOperation(op);
  const handle = BigInt(out[0] as bigint);
  if (start) await runToCompletion('HcsStartComputeSystem', handle);
  return handle;
}

async function runToCompletion(name: 'HcsStartComputeSystem', handle: Pointer): Promise<void> {
  const { op, completed } = operation();
  expect(await core.hresult(name, handle, op, '')).toBe(HRESULT.S_OK);
  await completed;
  expect(core.operationResult(op, false).hresult).toBe(HRESULT.S_OK);
  await closeOperation(op);
}

async function closeSystem(handle: Pointer): Promise<void> {
  await core.call('HcsCloseComputeSystem', handle);
}

describe('HcsCancelOperation', () => {
  const rows = [
    {
      name: 'a pending operation is cancelled: its completion fires with ERROR_CANCELLED',
      switches: { StartHang: true },
      beforeCancel: 'started' as const,
      cancel: HRESULT.S_OK,
      result: ERROR_CANCELLED,
    },
    {
      name: 'a completed operation cannot be: HCS_E_INVALID_STATE, and its result stands',
      switches: {},
      beforeCancel: 'completed' as const,
      cancel: HRESULT.HCS_E_INVALID_STATE,
      result: HRESULT.S_OK,
    },
    {
      name: 'an operation no call used yet has nothing to cancel: HCS_E_OPERATION_NOT_STARTED',
      switches: {},
      beforeCancel: 'unused' as const,
      cancel: 0x80370115,
      result: 0x80370115,
    },
  ];
  it.each(rows)('$name', async ({ switches, beforeCancel, cancel, result }) => {
    const sys = await system('c1', switches, false);
    const { op, completed } = operation();
    if (beforeCancel !== 'unused') {
      expect(await core.hresult('HcsStartComputeSystem', sys, op, '')).toBe(HRESULT.S_OK);
      if (beforeCancel === 'completed') await completed;
    }
    expect(await core.hresult('HcsCancelOperation', op)).toBe(cancel);
    if (beforeCancel !== 'unused') await completed;
    const r = core.operationResult(op, false);
    expect(r.hresult).toBe(result);
    if (result === ERROR_CANCELLED) expect(JSON.parse(r.document ?? '{}')).toMatchObject({ Error: ERROR_CANCELLED | 0, ErrorMessage: 'the operation was cancelled' });
    await closeOperation(op);
    await closeSystem(sys);
  });

  it('a cancelled start leaves the system as it was: Created, and a second cancel is refused', async () => {
    const sys = await system('c2', { StartHang: true }, false);
    const { op, completed } = operation();
    expect(await core.hresult('HcsStartComputeSystem', sys, op, '')).toBe(HRESULT.S_OK);
    expect(await core.hresult('HcsCancelOperation', op)).toBe(HRESULT.S_OK);
    await completed;
    expect(await core.hresult('HcsCancelOperation', op)).toBe(HRESULT.HCS_E_INVALID_STATE);
    await closeOperation(op);
    const props = operation();
    expect(await core.hresult('HcsGetComputeSystemProperties', sys, props.op, '{}')).toBe(HRESULT.S_OK);
    await props.completed;
    expect(JSON.parse(core.operationResult(props.op, false).document ?? '{}')).toMatchObject({ Id: 'c2', State: 'Created' });
    await closeOperation(props.op);
    await closeSystem(sys);
  });
});

describe('HcsWaitForOperationResult', () => {
  it.each([
    { form: 'HcsWaitForOperationResult', withInfo: false },
    { form: 'HcsWaitForOperationResultAndProcessInfo', withInfo: true },
  ])('$form times out while the operation runs, then returns its result; the JS thread runs meanwhile', async ({ withInfo }) => {
    const { op, completed } = operation();
    const out: unknown[] = [null];
    const document = JSON.stringify({ PodvisorSim: { Platform: 'linux', CreateDelayMs: 400 } });
    expect(await core.hresult('HcsCreateComputeSystem', 'w1', document, op, null, out)).toBe(HRESULT.S_OK);
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const early = await core.waitForOperationResult(op, 150, withInfo);
    clearInterval(ticker);
    expect(early).toMatchObject({ hresult: HRESULT.HCS_E_OPERATION_TIMEOUT, document: null });
    // The wait ran on the libuv pool: this thread kept its timers going the whole time.
    expect(ticks).toBeGreaterThanOrEqual(5);
    const late = await core.waitForOperationResult(op, 5000, withInfo);
    expect(late.hresult).toBe(HRESULT.S_OK);
    expect(late.info === null).toBe(!withInfo);
    await completed;
    await closeOperation(op);
    await closeSystem(BigInt(out[0] as bigint));
  });

  it('…AndProcessInfo hands over the pid and pipes of a created process, once', async () => {
    const sys = await system('w2');
    const { op, completed } = operation();
    const out: unknown[] = [null];
    const params = JSON.stringify({ CommandArgs: ['sh', '-c', 'exit 0'], CreateStdOutPipe: true });
    expect(await core.hresult('HcsCreateProcess', sys, params, op, null, out)).toBe(HRESULT.S_OK);
    const first = await core.waitForOperationResult(op, 5000, true);
    expect(first.hresult).toBe(HRESULT.S_OK);
    expect(first.info?.processId).toBeGreaterThan(0);
    expect(first.info?.stdOutput).not.toBeNull();
    expect(first.info?.stdInput).toBeNull();
    closeSync(Number(first.info?.stdOutput));
    // Timeout 0 on a completed operation returns at once; the pipes have one owner, already served.
    const again = await core.waitForOperationResult(op, 0, true);
    expect(again.info).toEqual({ processId: first.info?.processId, stdInput: null, stdOutput: null, stdError: null });
    await completed;
    await closeOperation(op);
    await core.call('HcsCloseProcess', BigInt(out[0] as bigint));
    await closeSystem(sys);
  });
});

describe('service-wide calls', () => {
  const basic = { Properties: [{ SupportedSchemaVersions: [{ Major: 2, Minor: 1 }] }] };
  it.each([
    { query: '', hresult: HRESULT.S_OK, document: basic },
    { query: '{}', hresult: HRESULT.S_OK, document: basic },
    { query: '{"PropertyTypes":["Basic"]}', hresult: HRESULT.S_OK, document: basic },
    { query: '{"PropertyTypes":["Memory"]}', hresult: E_INVALIDARG, document: { ErrorMessage: "service property type 'Memory' is not supported" } },
    { query: '{"PropertyTypes":"Basic"}', hresult: E_INVALIDARG, document: { ErrorMessage: 'PropertyTypes is an array of property type names' } },
    { query: 'Basic', hresult: 0x8037010d, document: { ErrorMessage: 'the property query is not a JSON object' } },
  ])('HcsGetServiceProperties($query) → $hresult', async ({ query, hresult, document }) => {
    const r = await core.serviceCall('HcsGetServiceProperties', query);
    expect(r.hresult).toBe(hresult);
    expect(JSON.parse(r.document ?? 'null')).toMatchObject(document);
  });

  it.each([
    { settings: '{}', hresult: HRESULT.S_OK, kind: null },
    { settings: '{"CpuGroup":{"Id":"00000000-0000-0000-0000-000000000001"}}', hresult: HRESULT.S_OK, kind: null },
    { settings: '[1,2]', hresult: HRESULT.S_OK, kind: null },
    { settings: '{"CpuGroup":', hresult: E_INVALIDARG, kind: 'invalid-argument' },
    { settings: '', hresult: E_INVALIDARG, kind: 'invalid-argument' },
  ])('HcsModifyServiceSettings($settings) → $hresult', async ({ settings, hresult, kind }) => {
    const r = await core.serviceCall('HcsModifyServiceSettings', settings);
    expect(r.hresult).toBe(hresult);
    if (kind === null) {
      expect(r.document).toBeNull();
    } else {
      expect(JSON.parse(r.document ?? '{}')).toMatchObject({ Error: hresult | 0, ErrorMessage: 'the settings are not JSON' });
      expect(hcsError(r.hresult, 'HcsModifyServiceSettings')).toMatchObject({ kind, message: expect.stringContaining('HcsModifyServiceSettings') });
    }
  });
});

describe('HcsAddResourceToOperation', () => {
  it('is refused with E_NOTIMPL (the simulator migrates nothing), which reads as not-supported', async () => {
    const { op } = operation();
    const hr = await core.hresult('HcsAddResourceToOperation', op, 4, 'hcs:/VirtualMachine/LiveMigrationSocket', null);
    expect(hr).toBe(HRESULT.E_NOTIMPL);
    expect(hcsError(hr, 'HcsAddResourceToOperation')).toMatchObject({ kind: 'not-supported', message: 'HcsAddResourceToOperation: 0x80004001 (E_NOTIMPL)' });
    // An operation no call used can be closed at once: no completion is coming.
    await closeOperation(op);
  });
});
