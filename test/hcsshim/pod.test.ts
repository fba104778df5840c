/**
 * hcsshim §5.3 (`pod_test.go`, P1–P21) through the node with a real pod on
 * the simulated HCS: a running sandbox with one extra exec, and workload
 * tasks created in the pod. P22 (HostProcess rules) is in rules.test.ts.
 *
 * Adapted by decision 6: hcsshim keeps the sandbox forever because its shim
 * dies with the pod; podvisor's node lives on, so deleting the sandbox while
 * workloads exist is failed_precondition, and once it is deleted the pod is
 * gone (P15, P17). Also pinned here: hcsshim's CreateTask preconditions in
 * their order (§3.3), serialised in the pod.
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

describe('pod (§5.3)', () => {
  it('P1 the pod answers with its id', async () => {
    expect((await h.node.state({ id: POD })).id).toBe(POD);
  });

  it('P2 the pod id is the sandbox task', async () => {
    const listed = (await h.node.list()).tasks.find((t) => t.id === POD);
    expect(listed).toMatchObject({ podId: POD, status: 'running' });
  });

  it('P3 an unknown task is not_found', async () => {
    expect((await rejection(h.node.state({ id: 'thisshouldnotmatch' }))).code).toBe('not_found');
  });

  it('P4 a workload is found by its id, in the pod', async () => {
    await workload('w1');
    expect((await h.node.list()).tasks.find((t) => t.id === 'w1')).toMatchObject({ podId: POD, status: 'running' });
  });

  it('P5 kill of an unknown task is not_found', async () => {
    expect((await rejection(h.node.kill({ id: 'thisshouldnotmatch', signal: 15 }))).code).toBe('not_found');
  });

  it('P6 kill of an unknown exec in the sandbox is not_found', async () => {
    expect((await rejection(h.node.kill({ id: POD, execId: 'thisshouldnotmatch', signal: 15 }))).code).toBe('not_found');
  });

  it('P7 kill of the sandbox init succeeds', async () => {
    await h.node.kill({ id: POD, signal: 15 });
    expect(await h.node.wait({ id: POD })).toMatchObject({ exitStatus: 143 });
  });

  it('P8 kill all on the pod reaches every workload and the sandbox', async () => {
    await workload('w1', true);
    await workload('w2');
    await h.node.kill({ id: POD, signal: 15, all: true });
    for (const id of ['w1', 'w2', POD]) expect(await h.node.wait({ id })).toMatchObject({ exitStatus: 143 });
    expect(await h.node.wait({ id: 'w1', execId: 'w1x' })).toMatchObject({ exitStatus: 143 });
    expect(await h.node.wait({ id: POD, execId: SB_EXEC })).toMatchObject({ exitStatus: 143 });
  });

  it('P9 kill of the sandbox extra exec succeeds', async () => {
    await h.node.kill({ id: POD, execId: SB_EXEC, signal: 15 });
    expect(await h.node.wait({ id: POD, execId: SB_EXEC })).toMatchObject({ exitStatus: 143 });
    expect((await h.node.state({ id: POD })).status).toBe('running');
  });

  it('P10 kill all of the sandbox extra exec is failed_precondition', async () => {
    expect((await rejection(h.node.kill({ id: POD, execId: SB_EXEC, signal: 15, all: true }))).code).toBe('failed_precondition');
    expect((await h.node.state({ id: POD, execId: SB_EXEC })).status).toBe('running');
  });

  it('P11 kill of a workload init succeeds', async () => {
    await workload('w1');
    await h.node.kill({ id: 'w1', signal: 15 });
    expect(await h.node.wait({ id: 'w1' })).toMatchObject({ exitStatus: 143 });
    expect((await h.node.state({ id: POD })).status).toBe('running');
  });

  it('P12 kill all of a workload succeeds and leaves the sandbox running', async () => {
    await workload('w1', true);
    await h.node.kill({ id: 'w1', signal: 15, all: true });
    expect(await h.node.wait({ id: 'w1' })).toMatchObject({ exitStatus: 143 });
    expect((await h.node.state({ id: POD })).status).toBe('running');
  });

  it('P13 kill of a workload extra exec succeeds', async () => {
    await workload('w1', true);
    await h.node.kill({ id: 'w1', execId: 'w1x', signal: 15 });
    expect(await h.node.wait({ id: 'w1', execId: 'w1x' })).toMatchObject({ exitStatus: 143 });
  });

  it('P14 kill all of a workload extra exec is failed_precondition', async () => {
    await workload('w1', true);
    expect((await rejection(h.node.kill({ id: 'w1', execId: 'w1x', signal: 15, all: true }))).code).toBe('failed_precondition');
  });

  it('P15 (decision 6) kill all, then delete the sandbox: refused while workloads exist, accepted after, and the pod is gone', async () => {
    await workload('w1');
    await h.node.kill({ id: POD, signal: 15, all: true });
    await h.node.wait({ id: POD });
    const err = await rejection(h.node.delete({ id: POD }));
    expect(err.code).toBe('failed_precondition');
    expect(err.message).toMatch(/w1/);
    await h.node.wait({ id: 'w1' });
    await h.node.delete({ id: 'w1' });
    await h.node.delete({ id: POD });
    expect((await rejection(h.node.state({ id: POD }))).code).toBe('not_found');
    expect(h.node.podCount).toBe(0);
  });

  it('P16 delete of the sandbox while its init runs is failed_precondition', async () => {
    expect((await rejection(h.node.delete({ id: POD }))).code).toBe('failed_precondition');
    expect((await h.node.state({ id: POD })).status).toBe('running');
  });

  it('P17 (decision 6) a second delete of the sandbox is not_found: the pod was removed by the first', async () => {
    await h.node.kill({ id: POD, signal: 15, all: true });
    await h.node.wait({ id: POD });
    await h.node.delete({ id: POD });
    expect((await rejection(h.node.delete({ id: POD }))).code).toBe('not_found');
  });

  it('P18 a workload killed with all is deleted and then not_found', async () => {
    await workload('w1');
    await h.node.kill({ id: 'w1', signal: 15, all: true });
    await h.node.wait({ id: 'w1' });
    await h.node.delete({ id: 'w1' });
    expect((await rejection(h.node.state({ id: 'w1' }))).code).toBe('not_found');
  });

  it('P19 delete of a running workload is failed_precondition; sandbox and workload remain', async () => {
    await workload('w1');
    expect((await rejection(h.node.delete({ id: 'w1' }))).code).toBe('failed_precondition');
    expect((await h.node.state({ id: 'w1' })).status).toBe('running');
    expect((await h.node.state({ id: POD })).status).toBe('running');
  });

  it('P20 a second delete of a workload is not_found', async () => {
    await workload('w1');
    await h.node.kill({ id: 'w1', signal: 15 });
    await h.node.wait({ id: 'w1' });
    await h.node.delete({ id: 'w1' });
    expect((await rejection(h.node.delete({ id: 'w1' }))).code).toBe('not_found');
  });

  it('P21 kill all of an unknown task is not_found', async () => {
    await workload('w1');
    await workload('w2');
    expect((await rejection(h.node.kill({ id: 'randomid4242', signal: 15, all: true }))).code).toBe('not_found');
  });
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
