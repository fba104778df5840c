import { createActor, fromPromise, type Actor } from 'xstate';
import { formatTimestamp, type Clock } from '../clock.ts';
import { InternalError, NotFoundError, describeExec, type PodvisorError } from '../errors.ts';
import type { EventSink, Topic, TopicMessages } from '../events.ts';
import type { Backend, BackendNotification } from '../hcs/backend.ts';
import { lazyChild, type Logger } from '../log.ts';
import {
  execMachine,
  type ExecRuntime,
  type ExecStatus,
  type ProcessOp,
  type SignalPlanData,
  type StartFailure,
  type StartedProcess,
} from '../machines/exec.ts';
import type { OciProcess } from '../oci.ts';
import { isBackendError } from '../hcs/backend.ts';
import { isGone, typedBackendError } from './backend-errors.ts';
import { Mailbox } from './mailbox.ts';
import type { TaskPublisher } from './publisher.ts';
import { Replies } from './request.ts';
import type { StdioRequest, UpstreamIo } from './stdio.ts';

/** What every actor of a node shares. */
export interface ActorDeps {
  backend: Backend;
  sink: EventSink;
  clock: Clock;
  log: Logger;
}

export interface ExecOptions {
  podId: string;
  taskId: string;
  /** "" for the init process. */
  execId: string;
  process: OciProcess;
  stdio: StdioRequest;
  io: UpstreamIo;
  /** This process's start also starts the compute system (a real task's init). */
  startsSystem: boolean;
  /** The WCOW pod sandbox's fake init: no process behind it (reference/hcsshim.md §1.8). */
  fake: boolean;
  /** Told when the process started (pid known, start event published). */
  onStarted(pid: number): void;
  /** Told once, when the process reached `exited`; `started` says whether it ever ran. */
  onExited(started: boolean, status: ExecStatus): void;
  /** Where this exec's events go: its task's publisher. */
  publisher: TaskPublisher;
  /** The task's logger (made on first use); the exec's own lines add its exec id. */
  taskLog: () => Logger;
}

export type ExecState = 'created' | 'running' | 'stopped';

export interface ExecView {
  pid: number;
  status: ExecState;
  exitStatus: number;
  exitedAt: string | null;
  terminal: boolean;
  stdio: StdioRequest;
}

/** The exec machine with its actors provided once for every exec: they call the runtime each exec passes in. */
const execLogic = execMachine.provide({
  actors: {
    startProcess: fromPromise(async ({ input }) => input.runtime.startProcess(input.stdinClosed, input.consoleSize)),
    processOp: fromPromise(async ({ input }) => input.runtime.processOp(input.pid, input.op)),
  },
});

type ProcessExit = Extract<BackendNotification, { type: 'process-exited' }>;

/**
 * Runs one exec machine: serialises its commands, does its I/O through the
 * backend, feeds it the backend's notifications, and publishes what it emits.
 */
export class ExecActor {
  readonly actor: Actor<typeof execLogic>;
  private readonly replies: Replies;
  private readonly mailbox = new Mailbox();
  /** Until the process is done (hcsshim's `processDone`), its system's notifications concern it. */
  private watching = true;
  private containerExitSeen = false;
  private exitPublished: Promise<void> = Promise.resolve();
  private readonly exitedStatus: Promise<ExecStatus>;
  private resolveExited!: (status: ExecStatus) => void;
  private readonly logger: () => Logger;
  private readonly publisher: TaskPublisher;
  private ioClosed: Promise<void> | undefined;
  private removed = false;

  constructor(
    private readonly deps: ActorDeps,
    private readonly opts: ExecOptions,
  ) {
    // The init logs as its task: its exec id is "", which says nothing a task's lines do not.
    this.logger = opts.execId === '' ? opts.taskLog : lazyChild(opts.taskLog, { execId: opts.execId });
    this.publisher = opts.publisher;
    this.exitedStatus = new Promise((resolve) => (this.resolveExited = resolve));
    const runtime: ExecRuntime = {
      startProcess: (stdinClosed, consoleSize) => this.startProcess(stdinClosed, consoleSize),
      processOp: (pid, op) => this.processOp(pid, op),
    };
    this.actor = createActor(execLogic, {
      input: { runtime, taskId: opts.taskId, execId: opts.execId, terminal: opts.stdio.terminal, fake: opts.fake },
      clock: deps.clock,
    });
    this.replies = new Replies();
    // One wildcard listener: each listened type costs the actor a Set (docs/performance.md).
    this.actor.on('*', (ev) => {
      switch (ev.type) {
        case 'reply':
          return this.replies.settle(ev);
        case 'started':
          return this.onStarted(ev.pid, ev.at);
        case 'exit':
          this.exitPublished = this.publish('exit', ev.event);
          return;
        case 'exited':
          return this.onExited(ev.started, ev.status);
        default:
          return ev satisfies never;
      }
    });
    this.actor.subscribe({
      error: (err) => this.log.fatal({ err }, 'exec machine failed'),
    });
    this.actor.start();
  }

  private get log(): Logger {
    return this.logger();
  }

  get id(): string {
    return this.opts.execId;
  }

  private now(): string {
    return formatTimestamp(this.deps.clock.nowNs());
  }

  private target(): string {
    return describeExec(this.opts.taskId, this.opts.execId);
  }

  /**
   * A process exit in this exec's system. While the start is in flight the
   * pid is unknown, so every one is offered; the machine keeps the ones that
   * turn out to be its own.
   */
  processExited(n: ProcessExit): void {
    if (!this.watching) return;
    const snap = this.actor.getSnapshot();
    if (snap.value === 'starting' || (snap.context.pid !== 0 && n.pid === snap.context.pid)) {
      this.actor.send({ type: 'PROCESS_EXITED', pid: n.pid, exitCode: n.exitCode, at: formatTimestamp(n.atNs) });
    }
  }

  /**
   * The container exited: hcsshim's `waitForContainerExit` race. It matters
   * only if the process is not done yet; then the machine has the process
   * terminated and reports the exit it gets.
   */
  containerExited(): void {
    if (!this.watching || this.containerExitSeen) return;
    this.containerExitSeen = true;
    this.actor.send({ type: 'CONTAINER_EXITED', at: this.now() });
  }

  private publish<T extends Topic>(topic: T, event: TopicMessages[T]): Promise<void> {
    return this.publisher.publish(topic, event);
  }

  private onStarted(pid: number, at: string): void {
    if (this.opts.execId === '') {
      void this.publisher.publish('start', { containerId: this.opts.taskId, pid }, at);
    } else {
      void this.publisher.publish('exec-started', { containerId: this.opts.taskId, execId: this.opts.execId, pid }, at);
    }
    this.opts.onStarted(pid);
  }

  private onExited(started: boolean, status: ExecStatus): void {
    this.watching = false;
    this.ioClosed = this.opts.io.close().catch((err: unknown) => this.log.warn({ err }, 'closing stdio failed'));
    const published = this.exitPublished;
    void published.then(() => this.resolveExited(status));
    this.opts.onExited(started, status);
  }

  private async startProcess(stdinClosed: boolean, consoleSize: { width: number; height: number } | null): Promise<StartedProcess> {
    const { backend } = this.deps;
    if (this.opts.fake) return { pid: 1, at: this.now() };
    try {
      if (this.opts.startsSystem) await backend.startSystem(this.opts.taskId);
      if (stdinClosed) this.opts.io.closeStdin();
      const { pid } = await backend.createProcess(this.opts.taskId, {
        process: this.opts.process,
        init: this.opts.execId === '',
        terminal: this.opts.stdio.terminal,
        // A resize before the start is the console the process starts with (containerd's TestTaskResize).
        ...(consoleSize === null ? {} : { consoleSize }),
        io: this.opts.io.io,
      });
      return { pid, at: this.now() };
    } catch (err) {
      const failure: StartFailure = {
        error: typedBackendError(err, `start of ${this.target()}`),
        executableNotFound: isBackendError(err, 'executable-not-found'),
        at: this.now(),
      };
      this.log.warn({ err }, 'start failed');
      throw failure;
    }
  }

  private async processOp(pid: number, op: ProcessOp): Promise<void> {
    if (this.opts.fake) return this.fakeOp(pid, op);
    const { backend } = this.deps;
    const id = this.opts.taskId;
    switch (op.op) {
      case 'signal':
        return this.signal(pid, op.plan);
      case 'resize':
        // A resize that races the process's exit is ignored, as for any non-running exec.
        return backend.resizeConsole(id, pid, op.width, op.height).catch((err: unknown) => {
          if (!isGone(err)) throw typedBackendError(err, `resize of ${this.target()}`);
        });
      case 'closeStdin':
        this.opts.io.closeStdin();
        return backend.closeStdin(id, pid).catch((err: unknown) => {
          if (!isGone(err)) throw typedBackendError(err, `close of the stdin of ${this.target()}`);
        });
      case 'terminate':
        return backend.terminateProcess(id, pid).catch((err: unknown) => {
          if (isGone(err)) return;
          this.log.warn({ err }, 'terminating the process failed');
          throw typedBackendError(err, `terminate of ${this.target()}`);
        });
    }
  }

  /**
   * hcsshim's kill rules: a process already stopped counts as signalled; a
   * signal HCS could not deliver (invalid state, no such system) means the
   * process is gone, so `not_found`. Windows console events are sent in the
   * background, because Server Core images hold the call until the process dies.
   */
  private async signal(pid: number, plan: SignalPlanData): Promise<void> {
    const { backend } = this.deps;
    const id = this.opts.taskId;
    const undelivered = (err: unknown): PodvisorError | null => {
      if (isBackendError(err, 'already-stopped')) return null;
      if (isBackendError(err, 'invalid-state') || isBackendError(err, 'not-found')) {
        return new NotFoundError(`${this.target()} not found: the signal could not be delivered`, { cause: err });
      }
      return typedBackendError(err, `signal to ${this.target()}`);
    };
    if (plan.kind === 'terminate') {
      await backend.terminateProcess(id, pid).catch((err: unknown) => {
        const e = undelivered(err);
        if (e !== null) throw e;
      });
      return;
    }
    const signal = plan.signal;
    if (signal.kind === 'windows') {
      backend.signalProcess(id, pid, signal).catch((err: unknown) => {
        if (undelivered(err) !== null) this.log.warn({ err, signal: signal.event }, 'signal delivery failed');
      });
      return;
    }
    await backend.signalProcess(id, pid, signal).catch((err: unknown) => {
      const e = undelivered(err);
      if (e !== null) throw e;
    });
  }

  /** The fake init exits with 0 when killed and 1 when forced (hcsshim's wcowPodSandboxExec). */
  private async fakeOp(pid: number, op: ProcessOp): Promise<void> {
    if (op.op !== 'signal' && op.op !== 'terminate') return;
    const exitCode = op.op === 'signal' ? 0 : 1;
    queueMicrotask(() => this.actor.send({ type: 'PROCESS_EXITED', pid, exitCode, at: this.now() }));
  }

  // Commands, each taking effect after the one before it (decision 5).

  /** Runs a command in this exec's turn; one queued behind the exec's deletion finds it gone. */
  private turn<T>(command: () => Promise<T>): Promise<T> {
    return this.mailbox.run(() => {
      if (this.removed) return Promise.reject(new NotFoundError(`${this.target()} not found`));
      return command();
    });
  }

  /**
   * Starts the process. `admit` runs first, inside this exec's turn, only
   * when the process is still `created`: the task uses it to refuse starts
   * after its init has exited and to count the exec as live.
   */
  start(admit?: () => Promise<void>): Promise<{ pid: number }> {
    return this.turn(async () => {
      if (admit !== undefined && this.actor.getSnapshot().matches('created')) await admit();
      return this.replies.ask<{ pid: number }>(this.actor, { type: 'START', reqId: this.replies.nextId('start') });
    });
  }

  kill(plan: SignalPlanData): Promise<void> {
    return this.turn(() =>
      this.replies.ask(this.actor, { type: 'KILL', reqId: this.replies.nextId('kill'), plan, at: this.now() }),
    );
  }

  resize(width: number, height: number): Promise<void> {
    return this.turn(() =>
      this.replies.ask(this.actor, { type: 'RESIZE', reqId: this.replies.nextId('resize'), width, height }),
    );
  }

  closeIo(): Promise<void> {
    return this.turn(async () => {
      await this.replies.ask(this.actor, { type: 'CLOSE_IO', reqId: this.replies.nextId('close-io') });
      // Outside `running` the machine only records it; the upstream end closes here.
      if (!this.actor.getSnapshot().matches('running')) this.opts.io.closeStdin();
    });
  }

  /** Deletes a created or exited process; resolves after its exit event, if one is owed, is out. */
  delete(): Promise<ExecStatus> {
    return this.turn(async () => {
      const status = await this.replies.ask<ExecStatus>(this.actor, {
        type: 'DELETE',
        reqId: this.replies.nextId('delete'),
        at: this.now(),
      });
      await this.exitedStatus;
      return status;
    });
  }

  forceExit(status: number): void {
    this.actor.send({ type: 'FORCE_EXIT', status, at: this.now() });
  }

  abandon(): void {
    this.actor.send({ type: 'ABANDON', at: this.now() });
  }

  /** Resolves once exited and, for an extra exec, once its exit event is out (decision 8). */
  wait(): Promise<ExecStatus> {
    return this.exitedStatus;
  }

  get exited(): boolean {
    return this.actor.getSnapshot().value === 'exited';
  }

  view(): ExecView {
    const snap = this.actor.getSnapshot();
    const ctx = snap.context;
    // Read from the state value: matches() parses its argument into a path on
    // every call, and `state` is the hottest command (docs/performance.md).
    const value = snap.value;
    const status: ExecState = value === 'exited' ? 'stopped' : typeof value === 'object' && 'running' in value ? 'running' : 'created';
    return {
      pid: ctx.pid,
      status,
      exitStatus: ctx.exitStatus,
      exitedAt: ctx.exitedAt,
      terminal: ctx.terminal,
      stdio: this.opts.stdio,
    };
  }

  /** Stops the actor; its stdio is closed. Call only once the exec is deleted. */
  async stop(): Promise<void> {
    this.removed = true;
    this.replies.abandon(() => new InternalError(`${this.target()} was removed`));
    this.actor.stop();
    this.watching = false;
    await (this.ioClosed ?? this.opts.io.close());
  }
}
