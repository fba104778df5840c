/**
 * Property-based: random interleavings of commands (sent without waiting for
 * each other) and backend-side exits on one pod. Whatever the order, the
 * ordering invariants hold, every command is answered exactly once with a
 * result or a typed error, and the pod can always be torn down completely.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../../src/events.ts';
import { isPodvisorError } from '../../src/errors.ts';
import { harness, linux, sandboxOf, workloadOf, type Harness } from '../helpers/harness.ts';

const TASKS = ['pod', 'w1', 'w2'] as const;
const EXECS = ['', 'e1', 'e2'] as const;

type Command =
  | { op: 'start'; task: number; exec: number }
  | { op: 'exec'; task: number; exec: number; script: string }
  | { op: 'kill'; task: number; exec: number; signal: 9 | 15; all: boolean }
  | { op: 'delete'; task: number; exec: number }
  | { op: 'wait'; task: number; exec: number }
  | { op: 'state'; task: number; exec: number }
  | { op: 'crash-process'; task: number; exec: number }
  | { op: 'crash-system'; task: number }
  | { op: 'advance'; ms: number };

const task = fc.integer({ min: 0, max: TASKS.length - 1 });
const exec = fc.integer({ min: 0, max: EXECS.length - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  fc.record({ op: fc.constant('start' as const), task, exec }),
  fc.record({ op: fc.constant('exec' as const), task, exec: fc.integer({ min: 1, max: 2 }), script: fc.constantFrom('sleep inf', 'exit 3', 'echo hi', 'sleep 1', "trap '' TERM; sleep inf") }),
  fc.record({ op: fc.constant('kill' as const), task, exec, signal: fc.constantFrom(9 as const, 15 as const), all: fc.boolean() }),
  fc.record({ op: fc.constant('delete' as const), task, exec }),
  fc.record({ op: fc.constant('wait' as const), task, exec }),
  fc.record({ op: fc.constant('state' as const), task, exec }),
  fc.record({ op: fc.constant('crash-process' as const), task, exec }),
  fc.record({ op: fc.constant('crash-system' as const), task }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(0, 10, 1000, 31_000) }),
);

function issue(h: Harness, c: Command): Promise<unknown> | null {
  const id = c.op === 'advance' ? '' : TASKS[c.task] ?? 'pod';
  const execId = 'exec' in c ? EXECS[c.exec] ?? '' : '';
  switch (c.op) {
    case 'start':
      return h.node.start({ id, execId });
    case 'exec':
      return h.node.exec({ id, execId, spec: { args: ['sh', '-c', c.script] } });
    case 'kill':
      return h.node.kill({ id, execId, signal: c.signal, all: c.all });
    case 'delete':
      return h.node.delete({ id, execId });
    case 'wait':
      return h.node.wait({ id, execId });
    case 'state':
      return h.node.state({ id, execId });
    case 'crash-process': {
      // A process dying behind podvisor's back, as a container's OOM kill would.
      const proc = h.backend.systems().find((s) => s.id === id)?.processes.find((p) => p.state === 'running');
      if (proc !== undefined) void h.backend.terminateProcess(id, proc.pid).catch(() => undefined);
      return null;
    }
    case 'crash-system':
      void h.backend.terminateSystem(id).catch(() => undefined);
      return null;
    case 'advance':
      void h.advance(c.ms);
      return null;
  }
}

/** Checks every ordering rule of api.md and behaviour.md over one run's events. */
function checkOrdering(events: LifecycleEvent[]): void {
  const byTask = new Map<string, LifecycleEvent[]>();
  for (const e of events) byTask.set(e.taskId, [...(byTask.get(e.taskId) ?? []), e]);
  for (const [taskId, list] of byTask) {
    const idx = (pred: (e: LifecycleEvent) => boolean) => list.findIndex(pred);
    const count = (pred: (e: LifecycleEvent) => boolean) => list.filter(pred).length;
    expect(list[0]?.topic, `${taskId}: create first`).toBe('create');
    expect(count((e) => e.topic === 'create'), taskId).toBe(1);
    const initExit = idx((e) => e.topic === 'exit' && e.event.id === taskId);
    expect(count((e) => e.topic === 'exit' && e.event.id === taskId), `${taskId}: one init exit`).toBeLessThanOrEqual(1);
    const start = idx((e) => e.topic === 'start');
    if (start >= 0 && initExit >= 0) expect(start, `${taskId}: start before exit`).toBeLessThan(initExit);
    const taskDelete = idx((e) => e.topic === 'delete' && e.event.id === '');
    if (taskDelete >= 0) {
      expect(initExit, `${taskId}: exit before delete`).toBeGreaterThanOrEqual(0);
      expect(initExit).toBeLessThan(taskDelete);
      expect(taskDelete, `${taskId}: nothing after the task's delete`).toBe(list.length - 1);
    }
    for (const execId of new Set(list.filter((e) => e.topic === 'exec-added').map((e) => (e.event as { execId: string }).execId))) {
      const added = idx((e) => e.topic === 'exec-added' && e.event.execId === execId);
      const started = idx((e) => e.topic === 'exec-started' && e.event.execId === execId);
      const exits = list.map((e, i) => [e, i] as const).filter(([e]) => e.topic === 'exit' && e.event.id === execId);
      expect(exits.length, `${taskId}/${execId}: at most one exit`).toBeLessThanOrEqual(1);
      if (started >= 0) expect(added).toBeLessThan(started);
      if (exits.length === 1) {
        expect(started, `${taskId}/${execId}: exit without start`).toBeGreaterThanOrEqual(0);
        expect(started).toBeLessThan(exits[0]![1]);
        if (initExit >= 0) expect(exits[0]![1], `${taskId}/${execId}: exec exit after init exit`).toBeLessThan(initExit);
      }
      if (started < 0) expect(exits.length, `${taskId}/${execId}: exit of a never-started exec`).toBe(0);
    }
  }
}

function notFoundOnly(err: unknown): void {
  if ((err as { code?: string }).code !== 'not_found') throw err;
}

async function teardown(h: Harness): Promise<void> {
  for (const id of ['w1', 'w2', 'pod']) {
    const exists = (await h.node.list()).tasks.some((t) => t.id === id);
    if (!exists) continue;
    await h.node.kill({ id, signal: 9, all: true }).catch(() => undefined);
    const waited = h.node.wait({ id });
    await h.advance(70_000);
    await waited.catch(notFoundOnly);
    // A delete still in flight from the random commands may get there first.
    await h.node.delete({ id }).catch(notFoundOnly);
  }
}

describe('random interleavings on one pod', () => {
  it('keep every ordering rule, answer every command once, and tear down completely', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 40 }), async (commands) => {
        const h = harness();
        try {
          await h.node.create({ id: 'pod', spec: linux('sleep inf', sandboxOf('pod')) });
          await h.node.start({ id: 'pod' });
          for (const id of ['w1', 'w2']) await h.node.create({ id, spec: linux('sleep inf', workloadOf('pod')) });
          const outcomes: Promise<void>[] = [];
          let answered = 0;
          for (const c of commands) {
            const p = issue(h, c);
            if (p === null) continue;
            outcomes.push(
              p.then(
                () => void answered++,
                (err: unknown) => {
                  answered++;
                  // Typed, and never an internal failure: interleavings are not errors.
                  expect(isPodvisorError(err), String(err)).toBe(true);
                  expect((err as { code: string }).code).not.toBe('internal');
                },
              ),
            );
          }
          await teardown(h);
          await Promise.all(outcomes);
          expect(answered).toBe(outcomes.length);
          checkOrdering(h.sink.events.map((r) => r.event));
          expect(h.node.taskCount).toBe(0);
          expect(h.backend.openSystems).toBe(0);
        } finally {
          await h.close();
        }
      }),
      { numRuns: Number(process.env["PODVISOR_PROPERTY_RUNS"] ?? 60) },
    );
  });
});
