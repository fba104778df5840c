import { createActor, fromPromise, type Actor } from 'xstate';
import type { Subscription } from 'rxjs';
import { formatTimestamp } from '../clock.ts';
import {
  FailedPreconditionError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  describeExec,
} from '../errors.ts';
import type { RootfsMount, Topic, TopicMessages } from '../events.ts';
import type { BackendNotification, ProcessDetails, Statistics } from '../hcs/backend.ts';
import { lazyChild, type Logger } from '../log.ts';
import type { ExecStatus } from '../machines/exec.ts';
import { taskMachine, type SystemCall } from '../machines/task.ts';
import { isIsolated, isWindows, type OciProcess, type OciSpec } from '../oci.ts';
import { planSignal } from '../signals.ts';
import { isGone, typedBackendError } from './backend-errors.ts';
import { ExecActor, type ActorDeps, type ExecView } from './exec-actor.ts';
import { Mailbox } from './mailbox.ts';
import { TaskPublisher } from './publisher.ts';
import type { NotificationRouter } from './notifications.ts';
import { Replies } from './request.ts';
import { checkTerminalStdio, noStdio, type StdioOpener, type StdioRequest, type UpstreamIo } from './stdio.ts';

export interface TaskOptions {
  podId: string;
  taskId: string;
  spec: OciSpec;
  bundle: string;
  rootfs: RootfsMount[];
  stdio: StdioRequest;
  io: UpstreamIo;
  /** false for the WCOW pod sandbox's fake task (Hyper-V and HostProcess pods). */
  hasContainer: boolean;
  /** The task is a pod's sandbox. */
  sandbox: boolean;
  router: NotificationRouter;
  openStdio: StdioOpener;
  /** Told when the init starts running and when it stops (the pod tracks its sandbox with it). */
  onInitRunning?(running: boolean): void;
}

export type TaskStatus = 'created' | 'running' | 'stopped' | 'paused' | 'pausing' | 'unknown';

export interface ProcessState extends Omit<ExecView, 'status'> {
  id: string;
  execId: string;
  bundle: string;
  status: TaskStatus;
}

export interface ExecRequest {
  execId: string;
  process: OciProcess;
  stdio: StdioRequest;
}

export interface ProcessEntry {
  pid: number;
  /** The exec id, the task id for the init, "" for processes podvisor did not start. */
  execId: string;
  info: ProcessDetails | null;
}

/** The task machine with its actor provided once for every task (see exec-actor.ts). */
const taskLogic = taskMachine.provide({
  actors: { systemCall: fromPromise(async ({ input }) => input.runtime.systemCall(input.call)) },
});

/**
 * Runs one task: its machine (creation, pause, teardown), its init and extra
 * exec actors, and its share of backend notifications.
 */
export class TaskActor {
  readonly actor: Actor<typeof taskLogic>;
  private readonly replies: Replies;
  private readonly mailbox = new Mailbox();
  private readonly init: ExecActor;
  private readonly execs = new Map<string, ExecActor>();
  private readonly logger: () => Logger;
  private readonly subscription: Subscription;
  private initExitPublished: Promise<void> = Promise.resolve();
  private readonly closedPromise: Promise<ExecStatus>;
  private resolveClosed!: (status: ExecStatus) => void;
  private deleted = false;
  private readonly publisher: TaskPublisher;

  constructor(
    private readonly deps: ActorDeps,
    private readonly opts: TaskOptions,
  ) {
    this.logger = lazyChild(() => deps.log, { podId: opts.podId, taskId: opts.taskId });
    this.publisher = new TaskPublisher(deps.sink, deps.clock, this.logger, opts.podId, opts.taskId);
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.actor = createActor(taskLogic, {
      input: {
        runtime: { systemCall: (call) => this.systemCall(call) },
        taskId: opts.taskId,
        hasContainer: opts.hasContainer,
        createEvent: {
          containerId: opts.taskId,
          bundle: opts.bundle,
          rootfs: opts.rootfs,
          io: { stdin: opts.stdio.stdin, stdout: opts.stdio.stdout, stderr: opts.stdio.stderr, terminal: opts.stdio.terminal },
          checkpoint: '',
          pid: 0,
        },
      },
      clock: deps.clock,
    });
    this.replies = new Replies();
    this.wire();
    // One subscription per task, not per exec: an RxJS operator chain costs
    // about 10 KiB, and a node holds tens of thousands of execs (docs/performance.md).
    this.subscription = opts.router.system(opts.taskId).subscribe({
      next: (n) => this.notify(n),
      error: (err: unknown) => this.log.error({ err }, 'system notifications failed'),
    });
    this.init = new ExecActor(deps, {
      podId: opts.podId,
      taskId: opts.taskId,
      execId: '',
      process: opts.spec.process ?? {},
      // The stand-in init of a sandbox without a container has no IO and no console (hcsshim §1.8).
      stdio: opts.hasContainer ? opts.stdio : noStdio,
      io: opts.io,
      startsSystem: opts.hasContainer,
      fake: !opts.hasContainer,
      publisher: this.publisher,
      taskLog: this.logger,
      onStarted: (pid) => {
        this.actor.send({ type: 'INIT_STARTED', pid });
        opts.onInitRunning?.(true);
      },
      onExited: (_started, status) => {
        opts.onInitRunning?.(false);
        this.actor.send({ type: 'INIT_EXITED', status });
      },
    });
  }

  private get log(): Logger {
    return this.logger();
  }

  get id(): string {
    return this.opts.taskId;
  }
  get podId(): string {
    return this.opts.podId;
  }
  get windows(): boolean {
    return isWindows(this.opts.spec);
  }

  private now(): string {
    return formatTimestamp(this.deps.clock.nowNs());
  }

  private publish<T extends Topic>(topic: T, event: TopicMessages[T]): Promise<void> {
    return this.publisher.publish(topic, event);
  }

  private wire(): void {
    const a = this.actor;
    // One wildcard listener: each listened type costs the actor a Set (docs/performance.md).
    a.on('*', (ev) => {
      switch (ev.type) {
        case 'reply':
          return this.replies.settle(ev);
        case 'create':
        case 'delete':
          void this.publish(ev.type, ev.event);
          return;
        case 'exec-added':
          void this.publish('exec-added', { containerId: this.opts.taskId, execId: ev.execId });
          return;
        case 'paused':
        case 'resumed':
          void this.publish(ev.type, { containerId: this.opts.taskId });
          return;
        case 'exit':
          this.initExitPublished = this.publish('exit', ev.event);
          return;
        case 'closed': {
          const status = a.getSnapshot().context.initStatus;
          void this.initExitPublished.then(() => this.resolveClosed(status));
          return;
        }
        case 'abandon-execs':
          this.log.warn({ execIds: ev.execIds }, 'teardown gave up waiting for exec exits; reporting them with unknown status 255');
          for (const id of ev.execIds) this.execs.get(id)?.abandon();
          return;
        case 'warning':
          this.log.warn(ev.message);
          return;
        default:
          return ev satisfies never;
      }
    });
    a.subscribe({ error: (err) => this.log.fatal({ err }, 'task machine failed') });
  }

  /**
   * Fans a notification of this task's system out: a system exit reaches the
   * task's machine and then every exec (hcsshim's `waitForContainerExit`,
   * whose race each exec's machine settles by event order); a process exit
   * reaches the execs that may own it.
   */
  private notify(n: BackendNotification): void {
    if (n.type === 'system-exited') {
      this.actor.send({ type: 'SYSTEM_EXITED' });
      this.init.containerExited();
      for (const e of this.execs.values()) e.containerExited();
    } else if (n.type === 'process-exited') {
      this.init.processExited(n);
      for (const e of this.execs.values()) e.processExited(n);
    }
  }

  /** The backend side of the machine's system calls, with hcsshim's tolerance for what is already gone. */
  private async systemCall(call: SystemCall): Promise<void> {
    if (!this.opts.hasContainer) return;
    const { backend } = this.deps;
    const id = this.opts.taskId;
    const what = `${call} of the compute system of task '${id}'`;
    try {
      switch (call) {
        case 'create':
          return await backend.createSystem(id, { spec: this.opts.spec, bundle: this.opts.bundle, rootfs: this.opts.rootfs, sandbox: this.opts.sandbox });
        case 'shutdown':
          return await backend.shutdownSystem(id);
        case 'terminate':
          return await backend.terminateSystem(id);
        case 'close':
          return await backend.closeSystem(id);
        case 'pause':
          return await backend.pauseSystem(id);
        case 'resume':
          return await backend.resumeSystem(id);
      }
    } catch (err) {
      const tolerated = call === 'shutdown' || call === 'terminate' || call === 'close';
      if (tolerated && (isGone(err) || (call !== 'close' && (err as { kind?: string }).kind === 'pending'))) return;
      if (tolerated) this.log.warn({ err, call }, 'compute system call failed');
      throw typedBackendError(err, what);
    }
  }

  /** Creates the compute system and publishes `create`. */
  async create(): Promise<{ pid: number }> {
    const answer = this.replies.expect<{ pid: number }>(this.opts.taskId);
    this.actor.start();
    try {
      return await answer;
    } catch (err) {
      await this.dispose();
      throw err;
    }
  }

  /** Runs a command in the task's turn; one queued behind the task's deletion finds it gone. */
  private turn<T>(command: () => Promise<T>): Promise<T> {
    return this.mailbox.run(() => {
      if (this.deleted) return Promise.reject(new NotFoundError(`task '${this.opts.taskId}' not found`));
      return command();
    });
  }

  private exec(execId: string): ExecActor {
    if (this.deleted) throw new NotFoundError(`task '${this.opts.taskId}' not found`);
    if (execId === '') return this.init;
    const exec = this.execs.get(execId);
    if (exec === undefined) throw new NotFoundError(`${describeExec(this.opts.taskId, execId)} not found`);
    return exec;
  }

  private taskStatus(view: ExecView): TaskStatus {
    if (view.status === 'running') {
      // The state value, not matches(), for the reason in ExecActor.view.
      const value = this.actor.getSnapshot().value;
      const active = typeof value === 'object' && 'active' in value ? value.active : null;
      if (active === 'paused' || active === 'resuming') return 'paused';
      if (active === 'pausing') return 'pausing';
    }
    return view.status;
  }

  state(execId: string): ProcessState {
    const exec = this.exec(execId);
    const view = exec.view();
    // Spelled out rather than spread over the view: V8 builds a spread with
    // overridden keys through slow stores, a quarter of a `state` request's CPU.
    return {
      id: this.opts.taskId,
      // hcsshim reports the init's exec id as the task id.
      execId: execId === '' ? this.opts.taskId : execId,
      bundle: this.opts.bundle,
      pid: view.pid,
      status: this.taskStatus(view),
      exitStatus: view.exitStatus,
      exitedAt: view.exitedAt,
      terminal: view.terminal,
      stdio: view.stdio,
    };
  }

  start(execId: string): Promise<{ pid: number }> {
    const exec = this.exec(execId);
    if (execId === '') return exec.start();
    return exec.start(() =>
      this.replies.ask(this.actor, { type: 'ADMIT_EXEC_START', reqId: this.replies.nextId('admit'), execId }),
    );
  }

  /** Adds an exec in state created and publishes `exec-added`. */
  addExec(req: ExecRequest): Promise<void> {
    return this.turn(async () => {
      checkTerminalStdio(req.stdio, this.opts.taskId, req.execId);
      const snap = this.actor.getSnapshot();
      // Refusals need no stdio: ask the machine first when it would refuse anyway.
      const io: UpstreamIo | null = snap.matches('active') && snap.context.initRunning && this.opts.hasContainer
        ? await this.opts.openStdio(req.stdio, this.opts.taskId, req.execId)
        : null;
      const answer = this.replies.ask<void>(this.actor, {
        type: 'CREATE_EXEC',
        reqId: this.replies.nextId('exec'),
        execId: req.execId,
      });
      // The exec actor must exist before anything else can address it, so it is
      // created in the same turn as the machine's acceptance.
      if (this.actor.getSnapshot().context.execIds.includes(req.execId) && !this.execs.has(req.execId) && io !== null) {
        this.execs.set(req.execId, this.newExec(req, io));
      }
      try {
        await answer;
      } catch (err) {
        await io?.close();
        throw err;
      }
    });
  }

  private newExec(req: ExecRequest, io: UpstreamIo): ExecActor {
    return new ExecActor(
      this.deps,
      {
        podId: this.opts.podId,
        taskId: this.opts.taskId,
        execId: req.execId,
        process: req.process,
        stdio: req.stdio,
        io,
        startsSystem: false,
        fake: false,
        publisher: this.publisher,
        taskLog: this.logger,
        onStarted: () => undefined,
        onExited: () => this.actor.send({ type: 'EXEC_SETTLED', execId: req.execId }),
      },
    );
  }

  /**
   * hcsshim's KillExec: the exec must exist, `all` only for the init, the
   * signal must be one the platform knows. With `all`, every extra exec is
   * signalled first (their failures only logged), then the init.
   */
  async kill(execId: string, signal: unknown, all: boolean): Promise<void> {
    const target = this.exec(execId);
    if (all && execId !== '') {
      throw new FailedPreconditionError(`cannot signal all for non-empty exec: '${execId}' in task '${this.opts.taskId}'`);
    }
    const plan = planSignal(signal, this.windows, describeExec(this.opts.taskId, execId));
    if (all) {
      await Promise.all(
        [...this.execs.values()].map((e) =>
          e.kill(plan).catch((err: unknown) => this.log.debug({ err, execId: e.id }, 'kill all: exec not signalled')),
        ),
      );
    }
    await target.kill(plan);
  }

  /**
   * Deletes an exec, or with "" the task. Deleting the task force-exits its
   * execs first, even when the init is still running and the delete is
   * refused (hcsshim H14/H15), then waits for the teardown and publishes
   * `delete` with id "".
   */
  delete(execId: string): Promise<ExecStatus> {
    if (execId !== '') {
      const exec = this.exec(execId);
      return this.turn(async () => {
        const status = await exec.delete();
        this.execs.delete(execId);
        this.actor.send({ type: 'EXEC_REMOVED', execId });
        await exec.stop();
        await this.publish('delete', { containerId: this.opts.taskId, pid: status.pid, exitStatus: status.exitStatus, exitedAt: status.exitedAt, id: execId });
        return status;
      });
    }
    return this.turn(async () => {
      for (const exec of this.execs.values()) if (!exec.exited) exec.forceExit(1);
      await this.init.delete();
      await this.closedPromise;
      const status = await this.replies.ask<ExecStatus>(this.actor, { type: 'DELETE', reqId: this.replies.nextId('delete') });
      this.deleted = true;
      await this.dispose();
      return status;
    });
  }

  /** The exec's exit; for the init, after the whole teardown and the init's exit event (decision 8). */
  wait(execId: string): Promise<ExecStatus> {
    if (execId === '') return this.closedPromise;
    return this.exec(execId).wait();
  }

  /** Resolves when the teardown is done and the init's exit is published. */
  get closed(): Promise<ExecStatus> {
    return this.closedPromise;
  }

  async pids(): Promise<ProcessEntry[]> {
    const byPid = new Map<number, string>();
    if (this.init.view().pid !== 0) byPid.set(this.init.view().pid, this.opts.taskId);
    for (const [id, e] of this.execs) if (e.view().pid !== 0) byPid.set(e.view().pid, id);
    if (!this.opts.hasContainer) return [{ pid: this.init.view().pid, execId: this.opts.taskId, info: null }];
    let processes: ProcessDetails[];
    try {
      processes = await this.deps.backend.listProcesses(this.opts.taskId);
    } catch (err) {
      if (isGone(err) || (err as { kind?: string }).kind === 'invalid-state') {
        throw new NotFoundError(`failed to fetch pids of task '${this.opts.taskId}': it has no running compute system`, { cause: err });
      }
      throw typedBackendError(err, `pids of task '${this.opts.taskId}'`);
    }
    return processes.map((p) => ({ pid: p.pid, execId: byPid.get(p.pid) ?? '', info: p }));
  }

  /** A process-isolated Windows container can never be paused, so neither verb applies to it (decision 7, moby). */
  private refuseUnpausable(verb: string): void {
    if (isWindows(this.opts.spec) && !isIsolated(this.opts.spec)) {
      throw new NotImplementedError(`${verb} of task '${this.opts.taskId}': a process-isolated Windows container cannot be paused`);
    }
  }

  pause(): Promise<void> {
    return this.turn(async () => {
      this.refuseUnpausable('pause');
      return this.replies.ask(this.actor, { type: 'PAUSE', reqId: this.replies.nextId('pause') });
    });
  }

  resume(): Promise<void> {
    return this.turn(async () => {
      this.refuseUnpausable('resume');
      return this.replies.ask(this.actor, { type: 'RESUME', reqId: this.replies.nextId('resume') });
    });
  }

  resizePty(execId: string, width: number, height: number): Promise<void> {
    return this.exec(execId).resize(width, height);
  }

  closeIo(execId: string): Promise<void> {
    return this.exec(execId).closeIo();
  }

  async update(resources: Record<string, unknown> | undefined): Promise<void> {
    if (resources === undefined || Object.keys(resources).length === 0) {
      throw new InvalidArgumentError(`resources cannot be empty, updating task '${this.opts.taskId}' failed`);
    }
    if (!this.opts.hasContainer) {
      throw new NotImplementedError(`task '${this.opts.taskId}' is a pod sandbox without a container: nothing to update`);
    }
    try {
      await this.deps.backend.updateResources(this.opts.taskId, resources);
    } catch (err) {
      throw typedBackendError(err, `update of task '${this.opts.taskId}'`);
    }
  }

  async stats(): Promise<Statistics> {
    if (!this.opts.hasContainer) {
      return {
        timestamp: this.now(),
        uptimeNs: 0,
        processor: { totalRuntimeNs: 0, userRuntimeNs: 0, kernelRuntimeNs: 0 },
        memory: { usageBytes: 0 },
        processCount: 0,
      };
    }
    try {
      return await this.deps.backend.statistics(this.opts.taskId);
    } catch (err) {
      if (isGone(err) || (err as { kind?: string }).kind === 'invalid-state') {
        throw new NotFoundError(`failed to fetch stats of task '${this.opts.taskId}': it has no running compute system`, { cause: err });
      }
      throw typedBackendError(err, `stats of task '${this.opts.taskId}'`);
    }
  }

  /** Every exec of the task, init first, for listing. */
  execIds(): string[] {
    return ['', ...this.execs.keys()];
  }

  get initPid(): number {
    return this.init.view().pid;
  }

  get isDeleted(): boolean {
    return this.deleted;
  }

  /** Stops every actor of the task. The compute system is the teardown's business, not this. */
  async dispose(): Promise<void> {
    this.subscription.unsubscribe();
    this.replies.abandon(() => new InternalError(`task '${this.opts.taskId}' was removed`));
    await Promise.all([...this.execs.values()].map((e) => e.stop()));
    this.execs.clear();
    await this.init.stop();
    this.actor.stop();
    this.opts.router.release(this.opts.taskId);
  }
}
