/**
 * A task: one compute system with its init process and extra execs. The
 * execs are their own actors; this machine owns what is the task's alone:
 * creating the system, admitting execs, pause/resume, and the teardown that
 * follows the init's exit (reference/hcsshim.md §2.5), which ends with the
 * init's `exit` event once every exec's exit is out (decision 1).
 *
 * state                  │ command or notification        │ next state            │ published / replied
 * ───────────────────────┼────────────────────────────────┼───────────────────────┼─────────────────────────────
 * creating               │ createSystem done              │ active.ready          │ create, reply {pid: 0}
 * creating               │ createSystem failed            │ failed                │ error
 * active.*               │ CREATE_EXEC (valid, init running) │ (same)             │ exec-added, reply ok
 * active.*               │ ADMIT_EXEC_START               │ (same)                │ reply ok (exec counted live)
 * active.ready           │ PAUSE                          │ active.pausing        │ (reply when paused)
 * active.pausing         │ pauseSystem done               │ active.paused         │ paused, reply ok
 * active.paused          │ RESUME                         │ active.resuming       │ (reply when resumed)
 * active.resuming        │ resumeSystem done              │ active.ready          │ resumed, reply ok
 * active                 │ INIT_EXITED                    │ tearingDown           │ —
 * tearingDown.shutdown   │ shutdown accepted              │ tearingDown.waitStop  │ —
 * tearingDown.waitStop   │ SYSTEM_EXITED / 30 s           │ releasing / terminate │ —
 * tearingDown.terminate  │ terminate answered             │ tearingDown.waitTerm  │ —
 * tearingDown.waitTerm   │ SYSTEM_EXITED / 30 s           │ releasing             │ —
 * tearingDown.releasing  │ closeSystem answered           │ awaitingExecs         │ —
 * awaitingExecs          │ last EXEC_SETTLED / 30 s       │ closed                │ (after 30 s: abandon execs)
 * closed                 │ (entry)                        │ closed                │ init exit
 * closed                 │ DELETE                         │ deleted               │ delete {id: ""}, reply status
 * not active             │ CREATE_EXEC / ADMIT_EXEC_START │ (same)                │ failed_precondition
 */
import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InternalError,
  NotFoundError,
  NotImplementedError,
  type PodvisorError,
} from '../errors.ts';
import type { TaskCreate, TaskDelete, TaskExit } from '../events.ts';
import type { ExecStatus, Reply } from './exec.ts';

/** hcsshim's bound on each teardown wait (shutdown, then terminate). */
export const TEARDOWN_WAIT_MS = 30_000;

/** The compute-system calls the machine's invoked actors make; provided by `src/actors/` (see ExecRuntime). */
export interface TaskRuntime {
  systemCall(call: SystemCall): Promise<void>;
}

export interface TaskInput {
  runtime: TaskRuntime;
  taskId: string;
  /** false for the WCOW pod sandbox's fake task: no compute system behind it. */
  hasContainer: boolean;
  createEvent: TaskCreate;
}

export interface TaskContext extends TaskInput {
  initRunning: boolean;
  initStatus: ExecStatus;
  /** Extra execs that exist (created, running or exited, not deleted). */
  execIds: string[];
  /** Extra execs started or starting and not yet exited: the init exit waits for them. */
  liveExecs: string[];
  systemExited: boolean;
  /** The pause or resume whose backend call is in flight. */
  inflight: string | null;
}

export type TaskEvent =
  | { type: 'CREATE_EXEC'; reqId: string; execId: string }
  | { type: 'ADMIT_EXEC_START'; reqId: string; execId: string }
  | { type: 'EXEC_SETTLED'; execId: string }
  | { type: 'EXEC_REMOVED'; execId: string }
  | { type: 'INIT_STARTED'; pid: number }
  | { type: 'INIT_EXITED'; status: ExecStatus }
  | { type: 'SYSTEM_EXITED' }
  | { type: 'PAUSE'; reqId: string }
  | { type: 'RESUME'; reqId: string }
  | { type: 'DELETE'; reqId: string };

export type TaskEmitted =
  | { type: 'reply'; reqId: string; reply: Reply }
  | { type: 'create'; event: TaskCreate }
  | { type: 'exec-added'; execId: string }
  | { type: 'paused' }
  | { type: 'resumed' }
  | { type: 'exit'; event: TaskExit }
  | { type: 'delete'; event: TaskDelete }
  /** Teardown gave up waiting for these execs; the task actor reports them exited with status 255. */
  | { type: 'abandon-execs'; execIds: string[] }
  | { type: 'warning'; message: string }
  | { type: 'closed' };

export type SystemCall = 'create' | 'shutdown' | 'terminate' | 'close' | 'pause' | 'resume';

const ok = (reqId: string, value: unknown = {}) => ({ type: 'reply' as const, reqId, reply: { ok: true as const, value } });
const fail = (reqId: string, error: PodvisorError) => ({ type: 'reply' as const, reqId, reply: { ok: false as const, error } });

function describeTask(ctx: TaskContext): string {
  return `task '${ctx.taskId}'`;
}

/** Checks of hcsshim's CreateExec (§2.3), in its order, plus decision 9. */
function createExecError(ctx: TaskContext, execId: string): PodvisorError | null {
  if (!ctx.hasContainer) return new NotImplementedError(`${describeTask(ctx)} is a pod sandbox without a container: it never runs execs`);
  if (execId === '' || execId === ctx.taskId || ctx.execIds.includes(execId)) {
    return new AlreadyExistsError(`exec '${execId}' in ${describeTask(ctx)} already exists`);
  }
  if (!ctx.initRunning) return new FailedPreconditionError(`${describeTask(ctx)}: init must be running to create additional execs`);
  return null;
}

export const taskMachine = setup({
  types: {
    input: {} as TaskInput,
    context: {} as TaskContext,
    events: {} as TaskEvent,
    emitted: {} as TaskEmitted,
  },
  actors: {
    systemCall: fromPromise<void, { runtime: TaskRuntime; call: SystemCall }>(async ({ input }) => {
      throw new InternalError(`actor 'systemCall' (${input.call}) was not provided to the task machine`);
    }),
  },
  delays: {
    teardownWait: TEARDOWN_WAIT_MS,
  },
  guards: {
    hasContainer: ({ context }) => context.hasContainer,
    systemExited: ({ context }) => context.systemExited,
    noLiveExecs: ({ context }) => context.liveExecs.length === 0,
  },
  actions: {
    markSystemExited: assign({ systemExited: true }),
    answerInflight: enqueueActions(({ context, enqueue }) => {
      if (context.inflight !== null) enqueue.emit(ok(context.inflight));
      enqueue.assign({ inflight: null });
    }),
    failInflight: enqueueActions(({ context, event, enqueue }) => {
      const error = (event as unknown as { error: PodvisorError }).error;
      if (context.inflight !== null) enqueue.emit(fail(context.inflight, error));
      enqueue.assign({ inflight: null });
    }),
    settleExec: assign({
      liveExecs: ({ context, event }) =>
        event.type === 'EXEC_SETTLED' ? context.liveExecs.filter((id) => id !== event.execId) : context.liveExecs,
    }),
    removeExec: assign({
      execIds: ({ context, event }) =>
        event.type === 'EXEC_REMOVED' ? context.execIds.filter((id) => id !== event.execId) : context.execIds,
    }),
    refuseExecStart: emit(({ context, event }) =>
      fail(
        (event as { reqId: string }).reqId,
        new FailedPreconditionError(`${describeTask(context)}: init has exited, no exec may start`),
      ),
    ),
    refuseCreateExec: emit(({ context, event }) => {
      const { reqId, execId } = event as { reqId: string; execId: string };
      return fail(reqId, createExecError(context, execId) ?? new FailedPreconditionError(`${describeTask(context)}: init has exited`));
    }),
    refuseNotPaused: emit(({ context, event }) =>
      fail((event as { reqId: string }).reqId, new FailedPreconditionError(`${describeTask(context)} is not paused`)),
    ),
    refuseNotRunning: emit(({ context, event }) =>
      fail((event as { reqId: string }).reqId, new FailedPreconditionError(`${describeTask(context)} is not running`)),
    ),
    refuseBusy: emit(({ context, event }) =>
      fail(
        (event as { reqId: string }).reqId,
        new FailedPreconditionError(`${describeTask(context)} is pausing or resuming`),
      ),
    ),
    refuseDelete: emit(({ context, event }) =>
      fail(
        (event as { reqId: string }).reqId,
        new FailedPreconditionError(`${describeTask(context)} cannot be deleted before its teardown completes`),
      ),
    ),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => ({
    ...input,
    initRunning: false,
    initStatus: { pid: 0, exitStatus: 255, exitedAt: null },
    execIds: [],
    liveExecs: [],
    systemExited: false,
    inflight: null,
  }),
  initial: 'creating',
  on: {
    SYSTEM_EXITED: { actions: 'markSystemExited' },
    EXEC_SETTLED: { actions: 'settleExec' },
    EXEC_REMOVED: { actions: 'removeExec' },
    CREATE_EXEC: { actions: 'refuseCreateExec' },
    ADMIT_EXEC_START: { actions: 'refuseExecStart' },
    PAUSE: { actions: 'refuseNotRunning' },
    RESUME: { actions: 'refuseNotPaused' },
    DELETE: { actions: 'refuseDelete' },
  },
  states: {
    creating: {
      // The create reply is keyed by the task id, unique on the node. A task
      // without a container is given a systemCall that does nothing.
      invoke: {
        id: 'create',
        src: 'systemCall',
        input: ({ context }) => ({ runtime: context.runtime, call: 'create' as const }),
        onDone: { target: 'active' },
        onError: {
          target: 'failed',
          actions: emit(({ context, event }) => fail(context.taskId, event.error as PodvisorError)),
        },
      },
    },
    failed: { type: 'final' },
    active: {
      entry: [
        emit(({ context }) => ({ type: 'create' as const, event: context.createEvent })),
        emit(({ context }) => ok(context.taskId, { pid: 0 })),
      ],
      initial: 'ready',
      on: {
        INIT_STARTED: { actions: assign({ initRunning: true }) },
        INIT_EXITED: [
          {
            guard: 'hasContainer',
            target: 'tearingDown',
            actions: assign({ initRunning: false, initStatus: ({ event }) => event.status }),
          },
          { target: 'awaitingExecs', actions: assign({ initRunning: false, initStatus: ({ event }) => event.status }) },
        ],
        CREATE_EXEC: [
          {
            guard: ({ context, event }) => createExecError(context, event.execId) === null,
            actions: [
              assign({ execIds: ({ context, event }) => [...context.execIds, event.execId] }),
              emit(({ event }) => ({ type: 'exec-added' as const, execId: event.execId })),
              emit(({ event }) => ok(event.reqId)),
            ],
          },
          { actions: 'refuseCreateExec' },
        ],
        ADMIT_EXEC_START: [
          {
            guard: ({ context, event }) => context.execIds.includes(event.execId),
            actions: [
              assign({ liveExecs: ({ context, event }) => [...context.liveExecs, event.execId] }),
              emit(({ event }) => ok(event.reqId)),
            ],
          },
          {
            actions: emit(({ context, event }) =>
              fail(event.reqId, new NotFoundError(`exec '${event.execId}' in ${describeTask(context)} not found`)),
            ),
          },
        ],
      },
      states: {
        ready: {
          on: {
            PAUSE: [
              {
                guard: ({ context }) => context.initRunning,
                target: 'pausing',
                actions: assign({ inflight: ({ event }) => event.reqId }),
              },
              { actions: 'refuseNotRunning' },
            ],
          },
        },
        pausing: {
          invoke: {
            id: 'pause',
            src: 'systemCall',
            input: ({ context }) => ({ runtime: context.runtime, call: 'pause' as const }),
            onDone: {
              target: 'paused',
              actions: [emit({ type: 'paused' as const }), 'answerInflight'],
            },
            onError: { target: 'ready', actions: 'failInflight' },
          },
          on: { PAUSE: { actions: 'refuseBusy' }, RESUME: { actions: 'refuseBusy' } },
        },
        paused: {
          on: {
            RESUME: { target: 'resuming', actions: assign({ inflight: ({ event }) => event.reqId }) },
            PAUSE: {
              actions: emit(({ context, event }) =>
                fail(event.reqId, new FailedPreconditionError(`${describeTask(context)} is already paused`)),
              ),
            },
          },
        },
        resuming: {
          invoke: {
            id: 'resume',
            src: 'systemCall',
            input: ({ context }) => ({ runtime: context.runtime, call: 'resume' as const }),
            onDone: {
              target: 'ready',
              actions: [emit({ type: 'resumed' as const }), 'answerInflight'],
            },
            onError: { target: 'paused', actions: 'failInflight' },
          },
          on: { PAUSE: { actions: 'refuseBusy' }, RESUME: { actions: 'refuseBusy' } },
        },
      },
    },
    tearingDown: {
      initial: 'shutdown',
      states: {
        shutdown: {
          invoke: {
            id: 'shutdown',
            src: 'systemCall',
            input: ({ context }) => ({ runtime: context.runtime, call: 'shutdown' as const }),
            onDone: 'waitStop',
            onError: 'terminate',
          },
        },
        waitStop: {
          always: { guard: 'systemExited', target: 'releasing' },
          on: { SYSTEM_EXITED: { target: 'releasing', actions: 'markSystemExited' } },
          after: { teardownWait: 'terminate' },
        },
        terminate: {
          invoke: {
            id: 'terminate',
            src: 'systemCall',
            input: ({ context }) => ({ runtime: context.runtime, call: 'terminate' as const }),
            onDone: 'waitTerminated',
            onError: 'waitTerminated',
          },
        },
        waitTerminated: {
          always: { guard: 'systemExited', target: 'releasing' },
          on: { SYSTEM_EXITED: { target: 'releasing', actions: 'markSystemExited' } },
          after: {
            teardownWait: {
              target: 'releasing',
              actions: emit(({ context }) => ({
                type: 'warning' as const,
                message: `${describeTask(context)}: compute system did not stop within ${TEARDOWN_WAIT_MS} ms of terminate; releasing it anyway`,
              })),
            },
          },
        },
        releasing: {
          invoke: {
            id: 'close',
            src: 'systemCall',
            input: ({ context }) => ({ runtime: context.runtime, call: 'close' as const }),
            onDone: '#task.awaitingExecs',
            onError: {
              target: '#task.awaitingExecs',
              actions: emit(({ context, event }) => ({
                type: 'warning' as const,
                message: `${describeTask(context)}: releasing the compute system failed: ${String((event.error as Error).message ?? event.error)}`,
              })),
            },
          },
        },
      },
    },
    awaitingExecs: {
      always: { guard: 'noLiveExecs', target: 'closed' },
      after: {
        teardownWait: {
          target: 'closed',
          actions: enqueueActions(({ context, enqueue }) => {
            enqueue.emit({ type: 'abandon-execs', execIds: context.liveExecs });
            enqueue.assign({ liveExecs: [] });
          }),
        },
      },
    },
    closed: {
      entry: [
        emit(({ context }) => ({
          type: 'exit' as const,
          event: {
            containerId: context.taskId,
            id: context.taskId,
            pid: context.initStatus.pid,
            exitStatus: context.initStatus.exitStatus,
            exitedAt: context.initStatus.exitedAt ?? '',
          },
        })),
        emit({ type: 'closed' as const }),
      ],
      on: {
        DELETE: {
          target: 'deleted',
          actions: [
            emit(({ context }) => ({
              type: 'delete' as const,
              event: {
                containerId: context.taskId,
                pid: context.initStatus.pid,
                exitStatus: context.initStatus.exitStatus,
                exitedAt: context.initStatus.exitedAt,
                id: '',
              },
            })),
            emit(({ context, event }) => ok(event.reqId, context.initStatus)),
          ],
        },
      },
    },
    deleted: { type: 'final' },
  },
});

