/**
 * The FFI hazards of reference/feasibility.md §3 and hcsshim.md §6.3, on the
 * real koffi path: many operations in flight at once, a computecore call
 * that does not return, callbacks from the library's threads while the
 * backend shuts down, and a worker thread that dies.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackendNotification } from '../../../src/hcs/backend.ts';
import { HcsBackend, type HcsBackendOptions } from '../../../src/hcs/computecore/backend.ts';
import { ANNOTATION_CREATE_DELAY_MS, ANNOTATION_SHUTDOWN_BLOCK_MS, ANNOTATION_START_HANG } from '../../../src/hcs/computecore/simulator.ts';
import type { OciSpec } from '../../../src/oci.ts';
import { ensureSimulator, expectNothingLeaked, recorder, sim, until } from './simulator.ts';

beforeAll(() => ensureSimulator());

const backends: HcsBackend[] = [];
function open(options: HcsBackendOptions = {}): HcsBackend {
  const b = new HcsBackend(options);
  backends.push(b);
  return b;
}
afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
  await expectNothingLeaked();
});

const linux = (annotations: Record<string, string> = {}): OciSpec => ({ ociVersion: '1.0.2', root: { path: '/rootfs' }, linux: {}, annotations });
const sh = (script: string) => ({ process: { args: ['sh', '-c', script] }, init: false, terminal: false, io: { stdin: null, stdout: null, stderr: null } });

describe('operations', () => {
  it('1,000 concurrent operations all complete, each with its own result', async () => {
    const backend = open();
    await backend.createSystem('s1', { spec: linux(), bundle: '/b', sandbox: false });
    await backend.startSystem('s1');
    const { pid } = await backend.createProcess('s1', sh('sleep inf'));
    const started = Date.now();
    const lists = await Promise.all(Array.from({ length: 1000 }, () => backend.listProcesses('s1')));
    expect(lists).toHaveLength(1000);
    for (const list of lists) expect(list.map((p) => p.pid)).toEqual([pid]);
    expect(Date.now() - started).toBeLessThan(8000);
    await backend.closeSystem('s1');
  });

  it("a shutdown call that blocks 5 s inside computecore does not delay another system's CreateProcess", async () => {
    const backend = open();
    await backend.createSystem('stuck', { spec: linux({ [ANNOTATION_SHUTDOWN_BLOCK_MS]: '5000' }), bundle: '/b', sandbox: false });
    await backend.createSystem('free', { spec: linux(), bundle: '/b', sandbox: false });
    await backend.startSystem('stuck');
    await backend.startSystem('free');
    const shutdownAt = Date.now();
    const stuck = backend.shutdownSystem('stuck');
    await new Promise((r) => setTimeout(r, 50)); // the call is now inside the library
    const started = Date.now();
    const { pid } = await backend.createProcess('free', sh('echo hi'));
    expect(Date.now() - started).toBeLessThan(2000);
    expect(pid).toBeGreaterThan(0);
    await stuck;
    expect(Date.now() - shutdownAt).toBeGreaterThanOrEqual(4900);
    await backend.closeSystem('stuck');
    await backend.closeSystem('free');
  }, 15_000);
});

describe('an operation that never completes', () => {
  it('is cancelled when its wait times out: the caller gets a timeout naming the call, and its handle closes after its completion', async () => {
    const backend = open({ operationTimeoutMs: 300 });
    await backend.createSystem('hung', { spec: linux({ [ANNOTATION_START_HANG]: 'true' }), bundle: '/b', sandbox: false });
    await until(() => sim().openHandles() === 1, "the create's operation to be closed");
    const closedEarly = sim().operationsClosedBeforeCompletion();
    const started = Date.now();
    const err: unknown = await backend.startSystem('hung').catch((e: unknown) => e);
    expect(err).toMatchObject({
      kind: 'timeout',
      hresult: 0x80370118,
      message: expect.stringContaining('HcsStartComputeSystem did not complete within 300 ms; cancelled: 0x800704C7'),
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(Date.now() - started).toBeLessThan(3000);
    // Only the system's handle is left: the operation was closed, and only after HCS delivered its completion.
    await until(() => sim().openHandles() === 1, "the start's operation to be closed");
    expect(sim().operationsClosedBeforeCompletion()).toBe(closedEarly);
    expect(await backend.computeSystems({ ids: ['hung'] })).toEqual([expect.objectContaining({ id: 'hung', state: 'Created' })]);
    await backend.closeSystem('hung');
  });

  it('is cancelled when the backend closes under it: close does not sit out the 4 min operation timeout', async () => {
    const backend = open();
    await backend.createSystem('hung', { spec: linux({ [ANNOTATION_START_HANG]: 'true' }), bundle: '/b', sandbox: false });
    const pending = backend.startSystem('hung').catch((e: unknown) => e);
    await until(() => sim().openHandles() === 2, 'the start to be in flight (its system handle and operation)');
    const closedEarly = sim().operationsClosedBeforeCompletion();
    const closing = Date.now();
    await backend.close();
    // Under the 10 s bound after which the worker would be terminated with its handles still open.
    expect(Date.now() - closing).toBeLessThan(3000);
    // Cancelled and completed, not abandoned: its handle closed after its completion callback.
    expect(sim().operationsClosedBeforeCompletion()).toBe(closedEarly);
    expect(await pending).toMatchObject({ kind: 'unavailable' });
  });
});

describe('callbacks from the library threads', () => {
  it('exits keep arriving while the backend shuts down: close completes, nothing is reported after it, nothing leaks', async () => {
    const backend = open();
    const seen: BackendNotification[] = recorder(backend.notifications);
    for (const id of ['a', 'b', 'c']) {
      await backend.createSystem(id, { spec: linux(), bundle: '/b', sandbox: false });
      await backend.startSystem(id);
      for (let i = 0; i < 10; i++) await backend.createProcess(id, sh(`sleep 0.0${i}; exit ${i}`));
    }
    await until(() => seen.length > 0, 'the first exits');
    let completed = false;
    backend.notifications.subscribe({ complete: () => (completed = true) });
    await backend.close();
    const atClose = seen.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.length).toBe(atClose);
    expect(completed).toBe(true);
    await expect(backend.createSystem('late', { spec: linux(), bundle: '/b', sandbox: false })).rejects.toMatchObject({ kind: 'unavailable' });
  });

  it('two backends share the library: one closing does not disturb the other', async () => {
    const one = open();
    const two = open();
    const seen = recorder(two.notifications);
    await one.createSystem('x', { spec: linux(), bundle: '/b', sandbox: false });
    await two.createSystem('y', { spec: linux(), bundle: '/b', sandbox: false });
    await one.startSystem('x');
    await two.startSystem('y');
    await one.createProcess('x', sh('sleep inf'));
    const { pid } = await two.createProcess('y', sh('sleep 0.2; exit 4'));
    await one.close();
    await until(() => seen.some((n) => n.type === 'process-exited' && n.pid === pid), 'the exit in the other backend');
    expect(seen).toEqual([expect.objectContaining({ type: 'process-exited', pid, exitCode: 4 })]);
    await two.closeSystem('y');
  });
});

describe('a worker that dies', () => {
  it('fails the call in flight and every later call with unavailable instead of hanging', async () => {
    const backend = open();
    await backend.createSystem('alive', { spec: linux(), bundle: '/b', sandbox: false });
    await until(() => sim().openHandles() === 1, "the first create's operation to be closed");
    const pending = backend.createSystem('slow', { spec: linux({ [ANNOTATION_CREATE_DELAY_MS]: '2000' }), bundle: '/b', sandbox: false });
    await until(() => sim().openHandles() === 3, 'the second create to be in flight (its system handle and operation)');
    backend.killWorkerForTest();
    await expect(pending).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(backend.createSystem('later', { spec: linux(), bundle: '/b', sandbox: false })).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(backend.startSystem('alive')).rejects.toMatchObject({ kind: 'unavailable' });
    // A dead thread's handles stay open, as a crashed process's would until it exits: release them as the OS would.
    expect(sim().closeAllHandles()).toBe(3);
    await backend.close();
  });

  it("leaves its systems behind, and the next backend finds them by HCS's list (as runc list finds runc's)", async () => {
    const dead = open();
    await dead.createSystem('left', { spec: linux(), bundle: '/b', sandbox: false });
    await dead.startSystem('left');
    dead.killWorkerForTest();
    await expect(dead.startSystem('left')).rejects.toMatchObject({ kind: 'unavailable' });
    const next = open();
    expect(await next.computeSystems({ owners: ['podvisor'] })).toEqual([{ id: 'left', state: 'Running', owner: 'podvisor', systemType: 'Container', runtimeOsType: 'Linux' }]);
    expect(await next.computeSystems({ owners: ['someone-else'] })).toEqual([]);
    // Its handle goes when the OS reclaims the dead thread's; the system ends with it (ShouldTerminateOnLastHandleClosed).
    expect(sim().closeAllHandles()).toBe(1);
    expect(await next.computeSystems()).toEqual([]);
  });
});
