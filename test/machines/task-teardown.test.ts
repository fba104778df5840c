/**
 * The task machine's teardown (reference/hcsshim.md §2.5) on XState's
 * SimulatedClock: shutdown, wait 30 s, terminate, wait 30 s, release, then the
 * init exit once every exec is out (decision 1).
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, fromPromise } from 'xstate';

import { TEARDOWN_WAIT_MS, taskMachine, type SystemCall, type TaskEmitted, type TaskRuntime } from '../../src/machines/task.ts';

function run(behaviour: Partial<Record<SystemCall, () => Promise<void>>>) {
  const calls: SystemCall[] = [];
  const emitted: TaskEmitted[] = [];
  const clock = new SimulatedClock();
  const actor = createActor(
    taskMachine.provide({
      actors: {
        systemCall: fromPromise(async ({ input }: { input: { runtime: TaskRuntime; call: SystemCall } }) => input.runtime.systemCall(input.call)),
      },
    }),
    {
      clock,
      input: {
        runtime: {
          systemCall: async (call: SystemCall) => {
            calls.push(call);
            await (behaviour[call] ?? (async () => undefined))();
          },
        },
        taskId: 't1',
        hasContainer: true,
        createEvent: { containerId: 't1', bundle: '', rootfs: [], io: { stdin: '', stdout: '', stderr: '', terminal: false }, checkpoint: '', pid: 0 },
      },
    },
  );
  actor.on('*', (e) => emitted.push(e as TaskEmitted));
  actor.start();
  return { actor, calls, emitted, clock };
}

const tick = () => new Promise((r) => setImmediate(r));
const exitedStatus = { pid: 10, exitStatus: 0, exitedAt: 't' };

describe('task teardown', () => {
  it('shuts down, and once the system has exited releases it and publishes the init exit', async () => {
    const { actor, calls, emitted } = run({});
    await tick();
    actor.send({ type: 'INIT_STARTED', pid: 10 });
    actor.send({ type: 'INIT_EXITED', status: exitedStatus });
    await tick();
    expect(calls).toEqual(['create', 'shutdown']);
    actor.send({ type: 'SYSTEM_EXITED' });
    await tick();
    expect(calls).toEqual(['create', 'shutdown', 'close']);
    expect(actor.getSnapshot().value).toBe('closed');
    expect(emitted.map((e) => e.type)).toEqual(['create', 'reply', 'exit', 'closed']);
  });

  it('terminates after 30 s without a stop, and releases after another 30 s', async () => {
    const { actor, calls, clock, emitted } = run({});
    await tick();
    actor.send({ type: 'INIT_EXITED', status: exitedStatus });
    await tick();
    clock.increment(TEARDOWN_WAIT_MS - 1);
    await tick();
    expect(calls).toEqual(['create', 'shutdown']);
    clock.increment(1);
    await tick();
    expect(calls).toEqual(['create', 'shutdown', 'terminate']);
    clock.increment(TEARDOWN_WAIT_MS);
    await tick();
    expect(calls).toEqual(['create', 'shutdown', 'terminate', 'close']);
    expect(emitted.some((e) => e.type === 'warning')).toBe(true);
    expect(actor.getSnapshot().value).toBe('closed');
  });

  it('goes straight to terminate when the shutdown call fails', async () => {
    const { actor, calls } = run({ shutdown: async () => Promise.reject(new Error('refused')) });
    await tick();
    actor.send({ type: 'INIT_EXITED', status: exitedStatus });
    await tick();
    expect(calls).toEqual(['create', 'shutdown', 'terminate']);
  });

  it('holds the init exit until every started exec has settled', async () => {
    const { actor, emitted } = run({});
    await tick();
    actor.send({ type: 'INIT_STARTED', pid: 10 });
    actor.send({ type: 'CREATE_EXEC', reqId: 'c', execId: 'e1' });
    actor.send({ type: 'ADMIT_EXEC_START', reqId: 'a', execId: 'e1' });
    actor.send({ type: 'INIT_EXITED', status: exitedStatus });
    actor.send({ type: 'SYSTEM_EXITED' });
    await tick();
    expect(actor.getSnapshot().value).toBe('awaitingExecs');
    expect(emitted.map((e) => e.type)).not.toContain('exit');
    actor.send({ type: 'EXEC_SETTLED', execId: 'e1' });
    expect(actor.getSnapshot().value).toBe('closed');
    expect(emitted.filter((e) => e.type === 'exit')).toHaveLength(1);
  });

  it('gives up on execs after 30 s, abandoning them, and still publishes the init exit', async () => {
    const { actor, emitted, clock } = run({});
    await tick();
    actor.send({ type: 'INIT_STARTED', pid: 10 });
    actor.send({ type: 'CREATE_EXEC', reqId: 'c', execId: 'e1' });
    actor.send({ type: 'ADMIT_EXEC_START', reqId: 'a', execId: 'e1' });
    actor.send({ type: 'INIT_EXITED', status: exitedStatus });
    actor.send({ type: 'SYSTEM_EXITED' });
    await tick();
    clock.increment(TEARDOWN_WAIT_MS);
    await tick();
    const types = emitted.map((e) => e.type);
    expect(types.indexOf('abandon-execs')).toBeGreaterThan(-1);
    expect(types.indexOf('abandon-execs')).toBeLessThan(types.indexOf('exit'));
  });

  it('refuses exec starts once the init has exited', async () => {
    const { actor, emitted } = run({});
    await tick();
    actor.send({ type: 'INIT_STARTED', pid: 10 });
    actor.send({ type: 'INIT_EXITED', status: exitedStatus });
    actor.send({ type: 'ADMIT_EXEC_START', reqId: 'late', execId: 'e9' });
    const reply = emitted.find((e) => e.type === 'reply' && e.reqId === 'late') as Extract<TaskEmitted, { type: 'reply' }>;
    expect(reply.reply.ok).toBe(false);
    expect(reply.reply.ok === false && reply.reply.error.code).toBe('failed_precondition');
  });
});
