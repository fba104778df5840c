/**
 * One process: a task's init or an extra exec.
 *
 * state      │ command or notification      │ next state        │ published / replied
 * ───────────┼──────────────────────────────┼───────────────────┼──────────────────────────────────────
 * created    │ START                        │ starting          │ (reply when started)
 * created    │ KILL                         │ exited (1)        │ ok, no event
 * created    │ DELETE                       │ exited (0)        │ status, no event
 * created    │ FORCE_EXIT(s)                │ exited (s)        │ —
 * created    │ CONTAINER_EXITED             │ exited (1)        │ —
 * created    │ RESIZE / CLOSE_IO            │ created           │ ok (tty) / failed_precondition (no tty)
 * starting   │ startProcess done            │ running           │ start | exec-started, reply {pid}
 * starting   │ startProcess failed          │ exited (1 | 127)  │ error, no event
 * starting   │ PROCESS_EXITED               │ starting          │ remembered, handled once started
 * starting   │ CONTAINER_EXITED, FORCE_EXIT │ starting          │ remembered: terminate once started
 * running    │ KILL / RESIZE / CLOSE_IO     │ running.busy      │ (reply when the backend answers)
 * running    │ FORCE_EXIT, CONTAINER_EXITED │ running.terminating │ —
 * running    │ PROCESS_EXITED (own pid)     │ exited (code)     │ exit (extra execs only), in-flight reply ok
 * starting, running │ ABANDON             │ exited (255)      │ exit (extra execs), in-flight reply
 * running    │ START                        │ running           │ failed_precondition
 * running    │ DELETE                       │ running           │ failed_precondition
 * exited     │ START                        │ exited            │ failed_precondition
 * exited     │ KILL                         │ exited            │ not_found
 * exited     │ DELETE                       │ exited            │ status
 * exited     │ RESIZE / CLOSE_IO            │ exited            │ ok (tty) / failed_precondition (no tty)
 *
 * The init's `exit` event is not published here: the task publishes it after
 * its teardown and after every exec's exit (decision 1).
 */
import { assign, emit, enqueueActions, setup, fromPromise } from 'xstate';
import {
  FailedPreconditionError,
  InternalError,
  NotFoundError,
  UnavailableError,
  describeExec,
  type PodvisorError,
} from '../errors.ts';
import type { TaskExit } from '../events.ts';

/** The status a process reports until it has exited (hcsshim, containerd). */
export const UNEXITED_STATUS = 255;

/**
 * What the machine's invoked actors act on. The machine only hands it to
 * them; `src/actors/` provides both the actors and the runtime, so one
 * provided machine serves every exec (providing per exec would rebuild the
 * whole state tree each time: tens of KiB per process).
 */
export interface ExecRuntime {
  /** Resolves with the pid and the time the start completed, which dates the start event. */
  startProcess(stdinClosed: boolean, consoleSize: { width: number; height: number } | null): Promise<StartedProcess>;
  processOp(pid: number, op: ProcessOp): Promise<void>;
}

export interface StartedProcess {
  pid: number;
  at: string;
}

export interface ExecInput {
  runtime: ExecRuntime;
  taskId: string;
  /** The exec id, or "" for the init process. */
  execId: string;
  terminal: boolean;
  /** The WCOW pod sandbox's fake init (reference/hcsshim.md §1.8): ForceExit ignores its status. */
  fake: boolean;
}

export interface EarlyExit {
  pid: number;
  exitCode: number | null;
  at: string;
}

export interface ExecContext extends ExecInput {
  pid: number;
  exitStatus: number;
  exitedAt: string | null;
  /** The start event was published, so an exit event is owed. */
  started: boolean;
  stdinClosed: boolean;
  consoleSize: { width: number; height: number } | null;
  /** Exits seen while the start was in flight, before the pid was known. */
  earlyExits: EarlyExit[];
  /** The process must be terminated as soon as it is running (container gone, forced exit). */
  terminateRequested: boolean;
  /** The command whose backend call is in flight, answered when it returns or the process exits. */
  inflight: string | null;
}

export type ProcessOp =
  | { op: 'signal'; plan: SignalPlanData }
  | { op: 'resize'; width: number; height: number }
  | { op: 'closeStdin' }
  | { op: 'terminate' };

/** A validated signal plan (see src/signals.ts), carried as data. */
export type SignalPlanData =
  | { kind: 'terminate' }
  | {
      kind: 'signal';
      signal: { kind: 'linux'; signal: number } | { kind: 'windows'; event: 'CtrlC' | 'CtrlBreak' | 'CtrlClose' | 'CtrlLogOff' | 'CtrlShutdown' };
    };

export type ExecEvent =
  | { type: 'START'; reqId: string }
  | { type: 'KILL'; reqId: string; plan: SignalPlanData; at: string }
  | { type: 'RESIZE'; reqId: string; width: number; height: number }
  | { type: 'CLOSE_IO'; reqId: string }
  | { type: 'DELETE'; reqId: string; at: string }
  | { type: 'FORCE_EXIT'; status: number; at: string }
  | { type: 'PROCESS_EXITED'; pid: number; exitCode: number | null; at: string }
  | { type: 'CONTAINER_EXITED'; at: string }
  /** The task gave up waiting for this process's exit: its status is unknown (255, decision 3). */
  | { type: 'ABANDON'; at: string };

export type Reply = { ok: true; value: unknown } | { ok: false; error: PodvisorError };

export interface ExecStatus {
  pid: number;
  exitStatus: number;
  exitedAt: string | null;
}

export type ExecEmitted =
  | { type: 'reply'; reqId: string; reply: Reply }
  | { type: 'started'; pid: number; at: string }
  | { type: 'exit'; event: TaskExit }
  | { type: 'exited'; started: boolean; status: ExecStatus };

/** What a failed start reports: the typed error, and whether the executable was missing. */
export interface StartFailure {
  error: PodvisorError;
  executableNotFound: boolean;
  at: string;
}

export function isStartFailure(value: unknown): value is StartFailure {
  return typeof value === 'object' && value !== null && 'error' in value && 'executableNotFound' in value && 'at' in value;
}

function stateError(ctx: ExecContext, state: string, op: string): PodvisorError {
  return new FailedPreconditionError(`${describeExec(ctx.taskId, ctx.execId)} is in invalid state: '${state}' for ${op}`);
}

function notTty(ctx: ExecContext): PodvisorError {
  return new FailedPreconditionError(`${describeExec(ctx.taskId, ctx.execId)} is not a tty`);
}

function statusOf(ctx: ExecContext): ExecStatus {
  return { pid: ctx.pid, exitStatus: ctx.exitStatus, exitedAt: ctx.exitedAt };
}

const ok = (reqId: string, value: unknown = {}) => ({ type: 'reply' as const, reqId, reply: { ok: true as const, value } });
const fail = (reqId: string, error: PodvisorError) => ({ type: 'reply' as const, reqId, reply: { ok: false as const, error } });

/** Placeholder logic: `src/actors/` provides the real ones with `machine.provide`. */
const notProvided = (name: string) =>
  fromPromise<never, unknown>(async () => {
    throw new InternalError(`actor '${name}' was not provided to the exec machine`);
  });

export const execMachine = setup({
  types: {
    input: {} as ExecInput,
    context: {} as ExecContext,
    events: {} as ExecEvent,
    emitted: {} as ExecEmitted,
  },
  actors: {
    startProcess: notProvided('startProcess') as unknown as ReturnType<
      typeof fromPromise<StartedProcess, { runtime: ExecRuntime; stdinClosed: boolean; consoleSize: ExecContext['consoleSize'] }>
    >,
    processOp: notProvided('processOp') as unknown as ReturnType<
      typeof fromPromise<void, { runtime: ExecRuntime; pid: number; op: ProcessOp }>
    >,
  },
  guards: {
    isTty: ({ context }) => context.terminal,
    earlyExitForPid: ({ context }) => context.earlyExits.some((e) => e.pid === context.pid),
    ownPid: ({ context, event }) => event.type === 'PROCESS_EXITED' && event.pid === context.pid,
    terminateRequested: ({ context }) => context.terminateRequested,
  },
  actions: {
    emitExited: emit(({ context }) => ({ type: 'exited' as const, started: context.started, status: statusOf(context) })),
    // The process is gone, so whatever was asked of it is moot: a kill
    // reached its goal, a resize or close has nothing left to act on.
    answerInflight: enqueueActions(({ context, enqueue }) => {
      if (context.inflight !== null) enqueue.emit(ok(context.inflight));
    }),
    emitExitEventIfOwed: enqueueActions(({ context, enqueue }) => {
      // Only a started extra exec owes an exit event here; the init's comes from its task.
      if (!context.started || context.execId === '') return;
      enqueue.emit({
        type: 'exit',
        event: {
          containerId: context.taskId,
          id: context.execId,
          pid: context.pid,
          exitStatus: context.exitStatus,
          exitedAt: context.exitedAt ?? '',
        },
      });
    }),
  },
}).createMachine({
  id: 'exec',
  context: ({ input }) => ({
    ...input,
    pid: 0,
    exitStatus: UNEXITED_STATUS,
    exitedAt: null,
    started: false,
    stdinClosed: false,
    consoleSize: null,
    earlyExits: [],
    terminateRequested: false,
    inflight: null,
  }),
  initial: 'created',
  states: {
    created: {
      on: {
        START: { target: 'starting', actions: assign({ inflight: ({ event }) => event.reqId }) },
        KILL: {
          target: 'exited',
          actions: [assign({ exitStatus: 1, exitedAt: ({ event }) => event.at }), emit(({ event }) => ok(event.reqId))],
        },
        DELETE: {
          target: 'exited',
          actions: [
            // The fake sandbox exec ignores the status it is given (hcsshim §1.8).
            assign({ exitStatus: ({ context }) => (context.fake ? 1 : 0), exitedAt: ({ event }) => event.at }),
            emit(({ context, event }) => ok(event.reqId, statusOf(context))),
          ],
        },
        FORCE_EXIT: {
          target: 'exited',
          actions: assign({ exitStatus: ({ context, event }) => (context.fake ? 1 : event.status), exitedAt: ({ event }) => event.at }),
        },
        CONTAINER_EXITED: { target: 'exited', actions: assign({ exitStatus: 1, exitedAt: ({ event }) => event.at }) },
        RESIZE: [
          {
            guard: 'isTty',
            actions: [
              assign({ consoleSize: ({ event }) => ({ width: event.width, height: event.height }) }),
              emit(({ event }) => ok(event.reqId)),
            ],
          },
          { actions: emit(({ context, event }) => fail(event.reqId, notTty(context))) },
        ],
        CLOSE_IO: { actions: [assign({ stdinClosed: true }), emit(({ event }) => ok(event.reqId))] },
      },
    },
    starting: {
      invoke: {
        id: 'startProcess',
        src: 'startProcess',
        input: ({ context }) => ({ runtime: context.runtime, stdinClosed: context.stdinClosed, consoleSize: context.consoleSize }),
        onDone: {
          target: 'running',
          actions: [
            assign({
              pid: ({ event }) => event.output.pid,
              started: true,
              // An exit seen before the start completed is dated no earlier than the start event, so the timeline reads in order.
              earlyExits: ({ context, event }) =>
                context.earlyExits.map((e) => (e.pid === event.output.pid && e.at < event.output.at ? { ...e, at: event.output.at } : e)),
            }),
            emit(({ event }) => ({ type: 'started' as const, pid: event.output.pid, at: event.output.at })),
            emit(({ context, event }) => ok(context.inflight ?? '', { pid: event.output.pid })),
            assign({ inflight: null }),
          ],
        },
        onError: {
          target: 'exited',
          actions: [
            assign({
              exitStatus: ({ event }) => (isStartFailure(event.error) && event.error.executableNotFound ? 127 : 1),
              exitedAt: ({ event }) => (isStartFailure(event.error) ? event.error.at : null),
            }),
            emit(({ context, event }) =>
              fail(
                context.inflight ?? '',
                isStartFailure(event.error)
                  ? event.error.error
                  : new InternalError(`start of ${describeExec(context.taskId, context.execId)} failed: ${String(event.error)}`),
              ),
            ),
            assign({ inflight: null }),
          ],
        },
      },
      on: {
        PROCESS_EXITED: {
          actions: assign({
            earlyExits: ({ context, event }) => [...context.earlyExits, { pid: event.pid, exitCode: event.exitCode, at: event.at }],
          }),
        },
        CONTAINER_EXITED: { actions: assign({ terminateRequested: true }) },
        FORCE_EXIT: { actions: assign({ terminateRequested: true }) },
        ABANDON: {
          target: 'exited',
          actions: [
            assign({ exitStatus: UNEXITED_STATUS, exitedAt: ({ event }) => event.at }),
            emit(({ context }) =>
              fail(
                context.inflight ?? '',
                new UnavailableError(`start of ${describeExec(context.taskId, context.execId)} never completed; the task was torn down`),
              ),
            ),
            assign({ inflight: null }),
          ],
        },
      },
    },
    running: {
      initial: 'idle',
      always: {
        guard: 'earlyExitForPid',
        target: 'exited',
        actions: assign(({ context }) => {
          const exit = context.earlyExits.find((e) => e.pid === context.pid) as EarlyExit;
          return { exitStatus: exit.exitCode ?? UNEXITED_STATUS, exitedAt: exit.at, earlyExits: [] };
        }),
      },
      entry: assign({ earlyExits: ({ context }) => context.earlyExits.filter((e) => e.pid === context.pid) }),
      on: {
        PROCESS_EXITED: {
          guard: 'ownPid',
          target: 'exited',
          actions: [
            assign({ exitStatus: ({ event }) => event.exitCode ?? UNEXITED_STATUS, exitedAt: ({ event }) => event.at }),
            'answerInflight',
            assign({ inflight: null }),
          ],
        },
        ABANDON: {
          target: 'exited',
          actions: [
            assign({ exitStatus: UNEXITED_STATUS, exitedAt: ({ event }) => event.at }),
            'answerInflight',
            assign({ inflight: null }),
          ],
        },
        START: { actions: emit(({ context, event }) => fail(event.reqId, stateError(context, 'running', 'start'))) },
        DELETE: { actions: emit(({ context, event }) => fail(event.reqId, stateError(context, 'running', 'delete'))) },
      },
      states: {
        idle: {
          always: { guard: 'terminateRequested', target: 'terminating' },
          on: {
            KILL: {
              target: 'busy',
              actions: assign({ inflight: ({ event }) => event.reqId }),
            },
            RESIZE: [
              {
                guard: 'isTty',
                target: 'busy',
                actions: assign({ inflight: ({ event }) => event.reqId }),
              },
              { actions: emit(({ context, event }) => fail(event.reqId, notTty(context))) },
            ],
            CLOSE_IO: { target: 'busy', actions: assign({ inflight: ({ event }) => event.reqId, stdinClosed: true }) },
            FORCE_EXIT: { target: 'terminating' },
            CONTAINER_EXITED: { target: 'terminating' },
          },
        },
        busy: {
          invoke: {
            id: 'processOp',
            src: 'processOp',
            input: ({ context, event }) => ({ runtime: context.runtime, pid: context.pid, op: opFor(event) }),
            onDone: {
              target: 'idle',
              actions: [emit(({ context }) => ok(context.inflight ?? '')), assign({ inflight: null })],
            },
            onError: {
              target: 'idle',
              actions: [
                emit(({ context, event }) => fail(context.inflight ?? '', event.error as PodvisorError)),
                assign({ inflight: null }),
              ],
            },
          },
          on: {
            FORCE_EXIT: { actions: assign({ terminateRequested: true }) },
            CONTAINER_EXITED: { actions: assign({ terminateRequested: true }) },
          },
        },
        terminating: {
          entry: assign({ terminateRequested: false }),
          invoke: {
            id: 'terminate',
            src: 'processOp',
            input: ({ context }) => ({ runtime: context.runtime, pid: context.pid, op: { op: 'terminate' as const } }),
            // Whether or not the terminate was accepted, the process exit is
            // what moves this exec on; a failed terminate is logged by the actor.
            onDone: { target: 'idle' },
            onError: { target: 'idle' },
          },
          on: {
            // A process being terminated: a signal, resize or close has nothing left to change.
            KILL: { actions: emit(({ event }) => ok(event.reqId)) },
            RESIZE: [
              { guard: 'isTty', actions: emit(({ event }) => ok(event.reqId)) },
              { actions: emit(({ context, event }) => fail(event.reqId, notTty(context))) },
            ],
            CLOSE_IO: { actions: [assign({ stdinClosed: true }), emit(({ event }) => ok(event.reqId))] },
          },
        },
      },
    },
    exited: {
      entry: ['emitExitEventIfOwed', 'emitExited'],
      on: {
        START: { actions: emit(({ context, event }) => fail(event.reqId, stateError(context, 'exited', 'start'))) },
        KILL: {
          actions: emit(({ context, event }) =>
            fail(event.reqId, new NotFoundError(`${describeExec(context.taskId, context.execId)} not found: process has exited`)),
          ),
        },
        DELETE: { actions: emit(({ context, event }) => ok(event.reqId, statusOf(context))) },
        RESIZE: [
          { guard: 'isTty', actions: emit(({ event }) => ok(event.reqId)) },
          { actions: emit(({ context, event }) => fail(event.reqId, notTty(context))) },
        ],
        CLOSE_IO: { actions: [assign({ stdinClosed: true }), emit(({ event }) => ok(event.reqId))] },
      },
    },
  },
});

function opFor(event: ExecEvent): ProcessOp {
  switch (event.type) {
    case 'KILL':
      return { op: 'signal', plan: event.plan };
    case 'RESIZE':
      return { op: 'resize', width: event.width, height: event.height };
    case 'CLOSE_IO':
      return { op: 'closeStdin' };
    default:
      // Only the three commands above enter `busy`.
      throw new InternalError(`no process operation for ${event.type}`);
  }
}
