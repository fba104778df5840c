/**
 * hcsshim's CreateTask preconditions (reference/hcsshim.md §3.3), in their
 * order, serialised in the pod, through the node with a running pod on the
 * simulated HCS.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, linux, rejection, sandboxOf, windows, workloadOf, type Harness } from '../helpers/harness.ts';

const POD = 'pod1';
const SB_EXEC = 'sbexec';
let h: Harness;

async function workload(id: string, withExec = false): Promise<void> {
  await h.node.create({ id, spec: linux('sleep inf', workloadOf(POD)) });
  await h.node.start({ id });
  if (withExec) {
    await h.node.exec({ id, execId: `${id}x`, spec: { args: ['sh', '-c', 'sleep inf'] } });
    await h.node.start({ id, execId: `${id}x` });
  }
}

async function finish(id: string): Promise<void> {
  if (!(await h.node.list()).tasks.some((t) => t.id === id)) return;
  await h.node.kill({ id, signal: 9, all: true }).catch(() => undefined);
  await h.node.wait({ id });
  await h.node.delete({ id });
}

beforeEach(async () => {
  h = harness();
  await h.node.create({ id: POD, spec: linux('sleep inf', sandboxOf(POD)) });
  await h.node.start({ id: POD });
  await h.node.exec({ id: POD, execId: SB_EXEC, spec: { args: ['sh', '-c', 'sleep inf'] } });
  await h.node.start({ id: POD, execId: SB_EXEC });
});
afterEach(async () => {
  for (const t of (await h.node.list()).tasks.filter((t) => t.id !== POD)) await finish(t.id);
  await finish(POD);
  expect(await h.close()).toEqual({ openSystems: 0, tasks: 0 });
});

describe('CreateTask preconditions (§3.3), in order', () => {
  it('a workload in a pod whose sandbox is not running is failed_precondition', async () => {
    await h.node.create({ id: 'pod2', spec: linux('sleep inf', sandboxOf('pod2')) });
    const err = await rejection(h.node.create({ id: 'w9', spec: linux('true', workloadOf('pod2')) }));
    expect(err.code).toBe('failed_precondition');
    expect(err.message).toMatch(/not running/);
    await finish('pod2');
  });

  it('the sandbox check comes before the duplicate check', async () => {
    await workload('w1');
    await h.node.kill({ id: POD, signal: 9 });
    await h.node.wait({ id: POD });
    // w1 exists on the node, so the node refuses first (decision 4) ...
    expect((await rejection(h.node.create({ id: 'w1', spec: linux('true', workloadOf(POD)) }))).code).toBe('already_exists');
    // ... and a fresh id meets the pod's sandbox check.
    expect((await rejection(h.node.create({ id: 'w2', spec: linux('true', workloadOf(POD)) }))).code).toBe('failed_precondition');
  });

  it('a HostProcess pod refuses a normal process-isolated container', async () => {
    const hpc = { 'microsoft.com/hostprocess-container': 'true' };
    await h.node.create({ id: 'hpcpod', spec: windows('cmd /c ping -t 127.0.0.1', { ...sandboxOf('hpcpod'), ...hpc }) });
    await h.node.start({ id: 'hpcpod' });
    const err = await rejection(h.node.create({ id: 'plain', spec: windows('cmd /c ping -t 127.0.0.1', workloadOf('hpcpod')) }));
    expect(err).toMatchObject({ code: 'failed_precondition', message: expect.stringContaining('job container') });
    await h.node.create({ id: 'job', spec: windows('cmd /c ping -t 127.0.0.1', { ...workloadOf('hpcpod'), ...hpc }) });
    await finish('job');
    await finish('hpcpod');
  });

  it('concurrent creates of workloads with one id: one wins, the other is already_exists', async () => {
    const results = await Promise.allSettled([
      h.node.create({ id: 'dup', spec: linux('sleep inf', workloadOf(POD)) }),
      h.node.create({ id: 'dup', spec: linux('sleep inf', workloadOf(POD)) }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason.code).toBe('already_exists');
  });

  it('a pod with workloads lists sandbox first, then workloads, all with the pod id', async () => {
    await workload('w1');
    await workload('w2');
    expect((await h.node.list()).tasks.map((t) => [t.id, t.podId])).toEqual([
      [POD, POD],
      ['w1', POD],
      ['w2', POD],
    ]);
  });
});
