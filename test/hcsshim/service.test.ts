/**
 * hcsshim §5.4–§5.6 (`service_internal*_test.go`: S1, TS1–TS42, PS1–PS45)
 * through the node's operations. hcsshim runs one shim per task or pod; a
 * podvisor node serves many (decision 4), so "the service" is the node and
 * "NoTask" is a node with nothing created.
 *
 * Adapted, each noted at its test: upstream's fake execs have fixed pids
 * (10, 101, 201) and always-successful Start/Kill/Resize; here pids are what
 * start returned and each operation meets a process in the state it needs
 * (a terminal for resize, an exited init for delete). Pause/resume work on a
 * Linux task (decision 7). Shutdown ends the task group (podvisor's node
 * outlives it). TS34/TS35 update a WCOW container's mapped directories, which
 * the simulated HCS does not model; podvisor refuses such an update naming the
 * field (TS36's rule), so they are not repeated.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, linux, rejection, sandboxOf, workloadOf, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  for (const t of [...(await h.node.list()).tasks].reverse()) {
    await h.node.kill({ id: t.id, signal: 9, all: true }).catch(() => undefined);
    await h.node.wait({ id: t.id });
    await h.node.delete({ id: t.id });
  }
  expect(await h.close()).toEqual({ openSystems: 0, tasks: 0 });
});

type Op = (id: string, execId: string) => Promise<unknown>;
const OPS: Record<string, Op> = {
  State: (id, execId) => h.node.state({ id, execId }),
  Start: (id, execId) => h.node.start({ id, execId }),
  Delete: (id, execId) => h.node.delete({ id, execId }),
  Pids: (id) => h.node.pids({ id }),
  Kill: (id, execId) => h.node.kill({ id, execId, signal: 15 }),
  ResizePty: (id, execId) => h.node.resizePty({ id, execId, width: 80, height: 24 }),
  CloseIO: (id, execId) => h.node.closeIo({ id, execId, stdin: true }),
  Wait: (id, execId) => h.node.wait({ id, execId }),
};

/** A running task with a running extra exec `e2`, both with terminals. */
async function taskWithExec(id: string, annotations: Record<string, string> = {}): Promise<{ init: number; e2: number }> {
  await h.node.create({ id, terminal: true, spec: linux('sleep inf', annotations) });
  const { pid: init } = await h.node.start({ id });
  await h.node.exec({ id, execId: 'e2', terminal: true, spec: { args: ['sh', '-c', 'sleep inf'] } });
  const { pid: e2 } = await h.node.start({ id, execId: 'e2' });
  return { init, e2 };
}

describe('service in task mode (§5.4, §5.5)', () => {
  const noTask: [string, string][] = [
    ['TS4', 'State'], ['TS8', 'Start'], ['TS12', 'Delete'], ['TS16', 'Pids'],
    ['TS21', 'Kill'], ['TS25', 'ResizePty'], ['TS29', 'CloseIO'], ['TS37', 'Wait'],
  ];
  for (const [name, op] of noTask) {
    it(`${name} NoTask: ${op} on a node with nothing created is not_found`, async () => {
      expect((await rejection((OPS[op] as Op)('tid', ''))).code).toBe('not_found');
    });
  }
  const unknownExec: [string, string][] = [
    ['TS5', 'State'], ['TS9', 'Start'], ['TS13', 'Delete'], ['TS22', 'Kill'],
    ['TS26', 'ResizePty'], ['TS30', 'CloseIO'], ['TS38', 'Wait'],
  ];
  for (const [name, op] of unknownExec) {
    it(`${name} ${op} of an unknown exec is not_found and changes nothing`, async () => {
      await taskWithExec('tid');
      const before = await h.node.list();
      expect((await rejection((OPS[op] as Op)('tid', 'thisshouldnotmatch'))).code).toBe('not_found');
      expect(await h.node.list()).toEqual(before);
    });
  }

  it('S1 / TS42 shutdown(now) ends the task group; the node answers not_found for it afterwards', async () => {
    await taskWithExec('tid');
    expect(await h.node.shutdown({ id: 'tid', now: true })).toEqual({});
    expect((await rejection(h.node.state({ id: 'tid' }))).code).toBe('not_found');
    expect(h.sink.topics('tid').slice(-3)).toEqual(['exit:e2', 'exit:tid', 'delete:']);
    // A repeated shutdown of a group that is gone is fine, as hcsshim's is.
    expect(await h.node.shutdown({ id: 'tid', now: false })).toEqual({});
  });

  it('S1 shutdown without now refuses while processes run, and ends a stopped group', async () => {
    await taskWithExec('tid');
    expect((await rejection(h.node.shutdown({ id: 'tid' }))).code).toBe('failed_precondition');
    expect((await h.node.state({ id: 'tid' })).status).toBe('running');
    await h.node.kill({ id: 'tid', signal: 9, all: true });
    await h.node.wait({ id: 'tid' });
    expect(await h.node.shutdown({ id: 'tid' })).toEqual({});
    expect(h.node.taskCount).toBe(0);
  });

  it('TS1 a node with nothing created does not know the task', async () => {
    expect((await rejection(h.node.state({ id: 'tid' }))).code).toBe('not_found');
  });

  it('TS2 another task id is not_found', async () => {
    await taskWithExec('tid');
    expect((await rejection(h.node.state({ id: 'thisidwontmatch' }))).code).toBe('not_found');
  });

  it('TS3 the created task is found', async () => {
    await taskWithExec('tid');
    expect((await h.node.state({ id: 'tid' })).id).toBe('tid');
  });

  it('TS6 state of the init: id and exec id are the task id, pid as started', async () => {
    const { init } = await taskWithExec('tid');
    expect(await h.node.state({ id: 'tid', execId: '' })).toMatchObject({ id: 'tid', execId: 'tid', pid: init });
  });

  it('TS7 state of e2: exec id e2, its pid', async () => {
    const { e2 } = await taskWithExec('tid');
    expect(await h.node.state({ id: 'tid', execId: 'e2' })).toMatchObject({ id: 'tid', execId: 'e2', pid: e2 });
  });

  it('TS10 start of a created init returns its pid (not a fixed 10)', async () => {
    await h.node.create({ id: 'tid', spec: linux('sleep inf') });
    const { pid } = await h.node.start({ id: 'tid' });
    expect(pid).toBeGreaterThan(0);
    expect((await h.node.state({ id: 'tid' })).pid).toBe(pid);
  });

  it('TS11 start of a created e2 returns its pid', async () => {
    await h.node.create({ id: 'tid', spec: linux('sleep inf') });
    await h.node.start({ id: 'tid' });
    await h.node.exec({ id: 'tid', execId: 'e2', spec: { args: ['true'] } });
    const { pid } = await h.node.start({ id: 'tid', execId: 'e2' });
    expect((await h.node.state({ id: 'tid', execId: 'e2' })).pid).toBe(pid);
  });

  it('TS14 delete of the (exited) init returns its pid', async () => {
    const { init } = await taskWithExec('tid');
    await h.node.kill({ id: 'tid', signal: 9, all: true });
    await h.node.wait({ id: 'tid' });
    expect((await h.node.delete({ id: 'tid' })).pid).toBe(init);
  });

  it('TS15 delete of (exited) e2 returns its pid, and e2 is gone', async () => {
    const { e2 } = await taskWithExec('tid');
    await h.node.kill({ id: 'tid', execId: 'e2', signal: 9 });
    await h.node.wait({ id: 'tid', execId: 'e2' });
    expect((await h.node.delete({ id: 'tid', execId: 'e2' })).pid).toBe(e2);
    expect((await rejection(h.node.state({ id: 'tid', execId: 'e2' }))).code).toBe('not_found');
  });

  it('TS17 pids lists the init and e2, e2 with its exec id and details', async () => {
    const { init, e2 } = await taskWithExec('tid');
    const { processes } = await h.node.pids({ id: 'tid' });
    expect(processes).toHaveLength(2);
    expect(processes[0]).toMatchObject({ pid: init, execId: 'tid', info: { pid: init, imageName: 'sh' } });
    expect(processes[1]).toMatchObject({ pid: e2, execId: 'e2', info: { pid: e2 } });
  });

  it('TS18 / TS19 (decision 7) pause and resume work on a Linux task', async () => {
    await taskWithExec('tid');
    expect(await h.node.pause({ id: 'tid' })).toEqual({});
    expect(await h.node.resume({ id: 'tid' })).toEqual({});
    expect(h.sink.topics('tid')).toContain('paused');
  });

  it('TS20 checkpoint is not_implemented', async () => {
    await taskWithExec('tid');
    expect((await rejection(h.node.checkpoint({ id: 'tid' }))).code).toBe('not_implemented');
  });

  it('TS23 kill of the init answers an empty reply', async () => {
    await taskWithExec('tid');
    expect(await h.node.kill({ id: 'tid', signal: 15 })).toEqual({});
  });

  it('TS24 kill of e2 answers an empty reply', async () => {
    await taskWithExec('tid');
    expect(await h.node.kill({ id: 'tid', execId: 'e2', signal: 15 })).toEqual({});
  });

  it('TS27 resize of the init (created with a terminal) succeeds and reaches the console', async () => {
    const { init } = await taskWithExec('tid');
    expect(await h.node.resizePty({ id: 'tid', width: 120, height: 40 })).toEqual({});
    const proc = h.backend.systems().find((s) => s.id === 'tid')?.processes.find((p) => p.pid === init);
    expect(proc?.consoleSize).toEqual({ width: 120, height: 40 });
  });

  it('TS28 resize of e2 (a terminal) succeeds', async () => {
    await taskWithExec('tid');
    expect(await h.node.resizePty({ id: 'tid', execId: 'e2', width: 80, height: 24 })).toEqual({});
  });

  it('TS31 close-io of the init succeeds and closes its stdin', async () => {
    const { init } = await taskWithExec('tid');
    expect(await h.node.closeIo({ id: 'tid', stdin: true })).toEqual({});
    expect(h.backend.systems()[0]?.processes.find((p) => p.pid === init)?.stdinClosed).toBe(true);
  });

  it('TS32 close-io of e2 succeeds', async () => {
    await taskWithExec('tid');
    expect(await h.node.closeIo({ id: 'tid', execId: 'e2', stdin: true })).toEqual({});
  });

  it('TS33 update of the memory limit answers an empty reply and reaches the backend', async () => {
    await taskWithExec('tid');
    expect(await h.node.update({ id: 'tid', resources: { memory: { limit: 100 } } })).toEqual({});
    expect(h.backend.systems()[0]?.resources).toEqual({ memory: { limit: 100 } });
  });

  it('TS36 update with an OCI process as resources is refused naming the field', async () => {
    await taskWithExec('tid');
    const err = await rejection(h.node.update({ id: 'tid', resources: { args: ['sh'], cwd: '/' } }));
    expect(err.code).toBe('invalid_argument');
    expect(err.message).toMatch(/resources\.args/);
  });

  it('TS39 wait of the init returns its exit status', async () => {
    await taskWithExec('tid');
    await h.node.kill({ id: 'tid', signal: 15 });
    expect(await h.node.wait({ id: 'tid' })).toMatchObject({ exitStatus: 143 });
  });

  it('TS40 wait of e2 returns its exit status', async () => {
    await taskWithExec('tid');
    await h.node.kill({ id: 'tid', execId: 'e2', signal: 9 });
    expect(await h.node.wait({ id: 'tid', execId: 'e2' })).toMatchObject({ exitStatus: 137 });
  });

  it("TS41 stats return the backend's statistics (the simulator's, not the fake's 100s)", async () => {
    await taskWithExec('tid');
    await h.advance(2000);
    const { stats } = await h.node.stats({ id: 'tid' });
    expect(stats).toMatchObject({ processCount: 2, uptimeNs: 2_000_000_000 });
    expect(stats.processor.totalRuntimeNs).toBeGreaterThan(0);
  });
});

describe('service in pod mode (§5.6)', () => {
  /** The pod: a running sandbox `tid` and a workload `task2` with a running exec `t2e2`. */
  async function pod(): Promise<{ sandbox: number; task2: number; t2e2: number }> {
    await h.node.create({ id: 'tid', terminal: true, spec: linux('sleep inf', sandboxOf('tid')) });
    const { pid: sandbox } = await h.node.start({ id: 'tid' });
    await h.node.create({ id: 'task2', terminal: true, spec: linux('sleep inf', workloadOf('tid')) });
    const { pid: task2 } = await h.node.start({ id: 'task2' });
    await h.node.exec({ id: 'task2', execId: 't2e2', terminal: true, spec: { args: ['sh', '-c', 'sleep inf'] } });
    const { pid: t2e2 } = await h.node.start({ id: 'task2', execId: 't2e2' });
    return { sandbox, task2, t2e2 };
  }

  it('PS1 without a pod, a workload naming it is not_found (podvisor has no per-pod service to be missing)', async () => {
    expect((await rejection(h.node.create({ id: 'task2', spec: linux('true', workloadOf('tid')) }))).code).toBe('not_found');
  });
  it('PS2 with the pod created, its tasks list under its id', async () => {
    await pod();
    expect((await h.node.list()).tasks.map((t) => t.podId)).toEqual(['tid', 'tid']);
  });
  it('PS3 NoTask: the sandbox id is not_found', async () => {
    expect((await rejection(h.node.state({ id: 'tid' }))).code).toBe('not_found');
  });
  it('PS4 another id is not_found', async () => {
    await pod();
    expect((await rejection(h.node.state({ id: 'thisidwontmatch' }))).code).toBe('not_found');
  });
  it('PS5 the sandbox task is found', async () => {
    await pod();
    expect((await h.node.state({ id: 'tid' })).id).toBe('tid');
  });
  it('PS6 the workload task is found', async () => {
    await pod();
    expect((await h.node.state({ id: 'task2' })).id).toBe('task2');
  });

  const noTask: [string, string][] = [
    ['PS7', 'State'], ['PS11', 'Start'], ['PS15', 'Delete'], ['PS19', 'Pids'],
    ['PS25', 'Kill'], ['PS29', 'ResizePty'], ['PS33', 'CloseIO'], ['PS39', 'Wait'],
  ];
  for (const [name, op] of noTask) {
    it(`${name} NoTask: ${op} before the pod exists is not_found`, async () => {
      expect((await rejection((OPS[op] as Op)('tid', ''))).code).toBe('not_found');
    });
  }
  const unknownExec: [string, string][] = [
    ['PS8', 'State'], ['PS12', 'Start'], ['PS16', 'Delete'], ['PS26', 'Kill'],
    ['PS30', 'ResizePty'], ['PS34', 'CloseIO'], ['PS40', 'Wait'],
  ];
  for (const [name, op] of unknownExec) {
    it(`${name} ${op} of an unknown exec in the sandbox is not_found`, async () => {
      await pod();
      expect((await rejection((OPS[op] as Op)('tid', 'thisshouldnotmatch'))).code).toBe('not_found');
    });
  }

  it('PS9 state of the sandbox init: id and exec id are the pod id', async () => {
    const { sandbox } = await pod();
    expect(await h.node.state({ id: 'tid' })).toMatchObject({ id: 'tid', execId: 'tid', pid: sandbox });
  });
  it('PS10 state of t2e2 in task2', async () => {
    const { t2e2 } = await pod();
    expect(await h.node.state({ id: 'task2', execId: 't2e2' })).toMatchObject({ id: 'task2', execId: 't2e2', pid: t2e2 });
  });
  it('PS13 start of a created sandbox init returns its pid', async () => {
    await h.node.create({ id: 'tid', spec: linux('sleep inf', sandboxOf('tid')) });
    expect((await h.node.start({ id: 'tid' })).pid).toBeGreaterThan(0);
  });
  it('PS14 start of a created t2e2 returns its pid', async () => {
    await pod();
    await h.node.exec({ id: 'task2', execId: 't2e3', spec: { args: ['sh', '-c', 'sleep inf'] } });
    const { pid } = await h.node.start({ id: 'task2', execId: 't2e3' });
    expect((await h.node.state({ id: 'task2', execId: 't2e3' })).pid).toBe(pid);
  });
  it('PS17 delete of a created sandbox init returns pid 0 and removes the pod', async () => {
    await h.node.create({ id: 'tid', spec: linux('sleep inf', sandboxOf('tid')) });
    expect(await h.node.delete({ id: 'tid' })).toMatchObject({ pid: 0, exitStatus: 0 });
    expect(h.node.podCount).toBe(0);
  });
  it('PS18 delete of (exited) t2e2 returns its pid and removes it from task2', async () => {
    const { t2e2 } = await pod();
    await h.node.kill({ id: 'task2', execId: 't2e2', signal: 9 });
    await h.node.wait({ id: 'task2', execId: 't2e2' });
    expect((await h.node.delete({ id: 'task2', execId: 't2e2' })).pid).toBe(t2e2);
    expect((await rejection(h.node.state({ id: 'task2', execId: 't2e2' }))).code).toBe('not_found');
  });
  it('PS20 pids of the sandbox: its init, with the pod id as exec id', async () => {
    const { sandbox } = await pod();
    expect((await h.node.pids({ id: 'tid' })).processes.map((p) => [p.pid, p.execId])).toEqual([[sandbox, 'tid']]);
  });
  it('PS21 pids of task2: its init and t2e2', async () => {
    const { task2, t2e2 } = await pod();
    const { processes } = await h.node.pids({ id: 'task2' });
    expect(processes.map((p) => [p.pid, p.execId])).toEqual([
      [task2, 'task2'],
      [t2e2, 't2e2'],
    ]);
    expect(processes.every((p) => p.info !== null)).toBe(true);
  });
  it('PS22 / PS23 (decision 7) pause and resume of a Linux workload work and publish their events', async () => {
    await pod();
    await h.node.pause({ id: 'task2' });
    await h.node.resume({ id: 'task2' });
    expect(h.sink.topics('task2').slice(-2)).toEqual(['paused', 'resumed']);
  });
  it('PS24 checkpoint is not_implemented', async () => {
    await pod();
    expect((await rejection(h.node.checkpoint({ id: 'tid' }))).code).toBe('not_implemented');
  });
  it('PS27 kill of the sandbox init succeeds', async () => {
    await pod();
    expect(await h.node.kill({ id: 'tid', signal: 15 })).toEqual({});
  });
  it('PS28 kill of t2e2 succeeds', async () => {
    await pod();
    expect(await h.node.kill({ id: 'task2', execId: 't2e2', signal: 15 })).toEqual({});
  });
  it('PS31 resize of the sandbox init (a terminal) succeeds', async () => {
    await pod();
    expect(await h.node.resizePty({ id: 'tid', width: 80, height: 24 })).toEqual({});
  });
  it('PS32 resize of t2e2 succeeds', async () => {
    await pod();
    expect(await h.node.resizePty({ id: 'task2', execId: 't2e2', width: 80, height: 24 })).toEqual({});
  });
  it('PS35 close-io of the sandbox init succeeds', async () => {
    await pod();
    expect(await h.node.closeIo({ id: 'tid' })).toEqual({});
  });
  it('PS36 close-io of t2e2 succeeds', async () => {
    await pod();
    expect(await h.node.closeIo({ id: 'task2', execId: 't2e2' })).toEqual({});
  });
  it('PS37 update of the sandbox memory limit succeeds', async () => {
    await pod();
    expect(await h.node.update({ id: 'tid', resources: { memory: { limit: 100 } } })).toEqual({});
  });
  it('PS38 update with an OCI process is refused', async () => {
    await pod();
    expect((await rejection(h.node.update({ id: 'tid', resources: { args: ['sh'] } }))).code).toBe('invalid_argument');
  });
  it("PS41 wait of the sandbox init returns the sandbox init's status", async () => {
    await pod();
    await h.node.kill({ id: 'tid', signal: 15 });
    expect(await h.node.wait({ id: 'tid' })).toMatchObject({ exitStatus: 143 });
  });
  it("PS42 wait of t2e2 returns t2e2's status", async () => {
    await pod();
    await h.node.kill({ id: 'task2', execId: 't2e2', signal: 1 });
    expect(await h.node.wait({ id: 'task2', execId: 't2e2' })).toMatchObject({ exitStatus: 129 });
  });
  it('PS43 stats of the sandbox are its own statistics', async () => {
    await pod();
    await h.advance(1000);
    expect((await h.node.stats({ id: 'tid' })).stats).toMatchObject({ processCount: 1, uptimeNs: 1_000_000_000 });
  });
  it('PS44 stats of task2 count its two processes', async () => {
    await pod();
    expect((await h.node.stats({ id: 'task2' })).stats).toMatchObject({ processCount: 2 });
  });
  it('PS45 shutdown(now) of the pod ends every task in it, workloads first', async () => {
    await pod();
    expect(await h.node.shutdown({ id: 'tid', now: true })).toEqual({});
    expect(h.node.taskCount).toBe(0);
    const deletes = h.sink.events.filter((r) => r.event.topic === 'delete' && r.event.event.id === '').map((r) => r.event.taskId);
    expect(deletes).toEqual(['task2', 'tid']);
  });
});
