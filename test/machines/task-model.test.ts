/**
 * Model-based: bounded breadth-first exploration of the task machine, run
 * purely with `transition()`. Backend answers are modelled as the invoked
 * actors' done/error events, timers as the delayed events the machine
 * itself schedules (and cancels). After every step the task's ordering rules
 * hold.
 */
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { InternalError } from '../../src/errors.ts';
import { taskMachine, type TaskEmitted, type TaskEvent, type TaskRuntime } from '../../src/machines/task.ts';

type Ev = { type: string; [k: string]: unknown };
const status = { pid: 10, exitStatus: 0, exitedAt: 't' };
const CALLS = ['create', 'shutdown', 'terminate', 'close', 'pause', 'resume'];

const COMMANDS: Ev[] = [
  { type: 'CREATE_EXEC', execId: 'e1' },
  { type: 'ADMIT_EXEC_START', execId: 'e1' },
  { type: 'EXEC_SETTLED', execId: 'e1' },
  { type: 'INIT_STARTED', pid: 10 },
  { type: 'INIT_EXITED', status },
  { type: 'SYSTEM_EXITED' },
  { type: 'PAUSE' },
  { type: 'RESUME' },
  { type: 'DELETE' },
];

interface Trace {
  snapshot: AnyMachineSnapshot;
  emitted: TaskEmitted[];
  timers: string[];
  path: string[];
  n: number;
  /** reqIds of the ADMIT_EXEC_START commands sent. */
  admits: string[];
}

function step(t: Trace, ev: Ev): Trace {
  const reqId = `r${t.n}`;
  const event = ('reqId' in ev || !/^[A-Z_]+$/.test(ev.type) || ['CREATE_EXEC', 'ADMIT_EXEC_START', 'PAUSE', 'RESUME', 'DELETE'].indexOf(ev.type) < 0)
    ? ev
    : { ...ev, reqId };
  const [snapshot, actions] = transition(taskMachine, t.snapshot, event as TaskEvent);
  let timers = t.timers.filter((x) => x !== ev.type);
  const emitted = [...t.emitted];
  for (const a of actions as { type: string; params?: Record<string, unknown> }[]) {
    if (a.type === 'xstate.emit') emitted.push((a.params as { event: TaskEmitted }).event);
    if (a.type === 'xstate.raise' && a.params?.['delay'] !== undefined) timers = [...timers, (a.params['event'] as { type: string }).type];
    if (a.type === 'xstate.cancel') timers = timers.filter((x) => x !== a.params?.['sendId']);
  }
  const admits = ev.type === 'ADMIT_EXEC_START' ? [...t.admits, reqId] : t.admits;
  return { snapshot, emitted, timers, path: [...t.path, ev.type], n: t.n + 1, admits };
}

function check(t: Trace): void {
  const where = t.path.join(' → ');
  const types = t.emitted.map((e) => e.type);
  const at = (type: string) => types.indexOf(type as TaskEmitted['type']);
  const count = (type: string) => types.filter((x) => x === type).length as number;
  expect(count('create'), where).toBeLessThanOrEqual(1);
  expect(count('exit'), where).toBeLessThanOrEqual(1);
  expect(count('delete'), where).toBeLessThanOrEqual(1);
  if (count('exit') > 0) {
    expect(at('create'), `${where}: exit before create`).toBeLessThan(at('exit'));
    expect(t.path, `${where}: exit without the init exiting`).toContain('INIT_EXITED');
  }
  if (count('delete') > 0) expect(at('exit'), `${where}: delete before exit`).toBeLessThan(at('delete'));
  // The init exit waits for every admitted exec to settle, or for the 30 s give-up.
  if (count('exit') > 0) {
    const exitAt = at('exit');
    const admittedBeforeExit = t.emitted.some((e, i) => i < exitAt && e.type === 'reply' && e.reply.ok && t.admits.includes(e.reqId));
    if (admittedBeforeExit && !t.path.includes('EXEC_SETTLED')) {
      expect(types.slice(0, exitAt), `${where}: init exit before exec exits`).toContain('abandon-execs');
    }
  }
  // Paused and resumed alternate, starting with paused.
  const pr = types.filter((x) => x === 'paused' || x === 'resumed');
  pr.forEach((x, i) => expect(x, where).toBe(i % 2 === 0 ? 'paused' : 'resumed'));
  // No request is answered twice.
  const replies = t.emitted.filter((e): e is Extract<TaskEmitted, { type: 'reply' }> => e.type === 'reply').map((e) => e.reqId);
  expect(new Set(replies).size, `${where}: a request answered twice`).toBe(replies.length);
  // exec-added only while the init runs.
  if (count('exec-added') > 0) expect(t.path.slice(0, t.path.indexOf('CREATE_EXEC')), where).toContain('INIT_STARTED');
}

function key(t: Trace): string {
  const c = t.snapshot.context as { initRunning: boolean; execIds: string[]; liveExecs: string[]; systemExited: boolean; inflight: string | null };
  return JSON.stringify([t.snapshot.value, t.snapshot.status, c.initRunning, c.execIds, c.liveExecs, c.systemExited, c.inflight !== null, t.timers, t.emitted.filter((e) => e.type !== 'reply').map((e) => e.type)]);
}

describe('task machine model', () => {
  it('holds create-first, exit-once-after-init-and-execs, delete-after-exit on every bounded path', () => {
    const [s0, a0] = initialTransition(taskMachine, {
      runtime: {} as TaskRuntime,
      taskId: 't',
      hasContainer: true,
      createEvent: { containerId: 't', bundle: '', rootfs: [], io: { stdin: '', stdout: '', stderr: '', terminal: false }, checkpoint: '', pid: 0 },
    });
    expect(a0.map((a) => a.type)).toContain('xstate.spawnChild');
    let frontier: Trace[] = [{ snapshot: s0, emitted: [], timers: [], path: [], n: 0, admits: [] }];
    const seen = new Set<string>();
    const reached = new Set<string>();
    for (let depth = 0; depth < 9 && frontier.length > 0; depth++) {
      const next: Trace[] = [];
      for (const t of frontier) {
        const running = Object.keys(t.snapshot.children);
        const events: Ev[] = [
          ...COMMANDS,
          ...running.filter((id) => CALLS.includes(id)).flatMap((id) => [
            { type: `xstate.done.actor.${id}` },
            { type: `xstate.error.actor.${id}`, error: new InternalError(`${id} failed`) },
          ]),
          ...t.timers.map((type) => ({ type })),
        ];
        for (const ev of events) {
          const n = step(t, ev);
          check(n);
          reached.add(JSON.stringify(n.snapshot.value));
          const k = key(n);
          if (!seen.has(k)) {
            seen.add(k);
            next.push(n);
          }
        }
      }
      frontier = next;
    }
    for (const state of ['"failed"', '{"active":"ready"}', '{"active":"paused"}', '{"tearingDown":"waitStop"}', '{"tearingDown":"waitTerminated"}', '"awaitingExecs"', '"closed"', '"deleted"']) {
      expect(reached, `state ${state} never reached`).toContain(state);
    }
  });
});
