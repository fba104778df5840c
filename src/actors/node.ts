import { readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { RealClock, type Clock } from '../clock.ts';
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  UnavailableError,
  isPodvisorError,
} from '../errors.ts';
import type { EventSink, RootfsMount } from '../events.ts';
import type { Backend } from '../hcs/backend.ts';
import { assertExecId, assertId } from '../ids.ts';
import type { Logger } from '../log.ts';
import { sandboxTypeAndId } from '../machines/pod-rules.ts';
import { isIsolated, isJobContainer, isLinux, isWindows, type OciProcess, type OciSpec } from '../oci.ts';
import type { ActorDeps } from './exec-actor.ts';
import { NotificationRouter } from './notifications.ts';
import type {
  CheckpointRequest,
  CloseIoRequest,
  ConnectReply,
  CreateRequest,
  DeleteReply,
  Empty,
  ExecCreateRequest,
  ExecRef,
  ExitReply,
  KillRequest,
  ListReply,
  PidReply,
  PidsReply,
  ResizePtyRequest,
  ShutdownRequest,
  StateReply,
  StatsReply,
  TaskRef,
  UpdateRequest,
} from './operations.ts';
import { PodActor } from './pod-actor.ts';
import { checkTerminalStdio, noStdio, openPathStdio, type StdioOpener, type StdioRequest } from './stdio.ts';
import { TaskActor, type TaskOptions } from './task-actor.ts';

export interface NodeOptions {
  backend: Backend;
  sink: EventSink;
  log: Logger;
  clock?: Clock;
  /** Opens upstream stdio; the bus adds `nats` to the default files and FIFOs. */
  openStdio?: StdioOpener;
  version?: string;
  /**
   * Asked before each new operation; a reason refuses it with `unavailable`
   * (the bus says so while its events cannot reach NATS).
   */
  refusal?: () => string | null;
}

export type NodeState = 'running' | 'draining' | 'stopped';

/** The process spec a WCOW pause container is given so it stays up (hcsshim §3.2). */
const WCOW_PAUSE_COMMAND = 'cmd /c ping -t 127.0.0.1 > nul';

function asObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${field} must be an object`);
  }
  return value as Record<string, unknown>;
}

function optionalString(value: unknown, field: string): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new InvalidArgumentError(`${field} must be a string`);
  return value;
}

function optionalBool(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${field} must be a boolean`);
  return value;
}

function dimension(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 65535) {
    throw new InvalidArgumentError(`${field} must be an integer from 0 to 65535`);
  }
  return value;
}

function stdioOf(req: { terminal?: unknown; stdin?: unknown; stdout?: unknown; stderr?: unknown }): StdioRequest {
  return {
    terminal: optionalBool(req.terminal, 'terminal'),
    stdin: optionalString(req.stdin, 'stdin'),
    stdout: optionalString(req.stdout, 'stdout'),
    stderr: optionalString(req.stderr, 'stderr'),
  };
}

function isCmdExe(process: OciProcess | undefined): boolean {
  const single = (process?.args?.length === 1 ? process.args[0] : process?.commandLine) ?? '';
  return single.trim().toLowerCase() === 'c:\\windows\\system32\\cmd.exe';
}

/**
 * The node actor: owns every pod and standalone task of one podvisor node,
 * routes each operation to the task it names, and answers with a typed
 * result or a typed error. Operations on different tasks never wait on
 * each other; ids are unique across the node (decision 4).
 */
export class Node {
  private readonly deps: ActorDeps;
  private readonly router: NotificationRouter;
  private readonly tasks = new Map<string, TaskActor>();
  private readonly pods = new Map<string, PodActor>();
  /** Ids whose create is in flight: taken, though not yet a task. */
  private readonly reserved = new Set<string>();
  private readonly openStdio: StdioOpener;
  private readonly version: string;
  private readonly refusal: () => string | null;
  private phase: NodeState = 'running';
  private inflight = 0;
  private idle: (() => void) | undefined;

  constructor(options: NodeOptions) {
    const clock = options.clock ?? new RealClock();
    this.deps = { backend: options.backend, sink: options.sink, clock, log: options.log };
    this.openStdio = options.openStdio ?? openPathStdio;
    this.version = options.version ?? '0.1.0';
    this.refusal = options.refusal ?? (() => null);
    this.router = new NotificationRouter(options.backend.notifications, (err) => {
      options.log.fatal({ err }, 'backend notifications failed; the node cannot watch its processes');
      this.phase = 'draining';
    });
  }

  get status(): NodeState {
    return this.phase;
  }

  /** Tasks currently known, for tests that assert nothing is left behind. */
  get taskCount(): number {
    return this.tasks.size;
  }
  get podCount(): number {
    return this.pods.size;
  }

  /** Counts the operation in flight, refusing new ones once draining. */
  private async op<T>(fn: () => Promise<T>): Promise<T> {
    if (this.phase !== 'running') throw new UnavailableError(`node is ${this.phase}: no new operations`);
    const reason = this.refusal();
    if (reason !== null) throw new UnavailableError(reason);
    this.inflight++;
    try {
      return await fn();
    } finally {
      if (--this.inflight === 0) this.idle?.();
    }
  }

  private task(id: unknown): TaskActor {
    const taskId = assertId(id, 'id');
    const task = this.tasks.get(taskId);
    if (task === undefined) throw new NotFoundError(`task '${taskId}' not found`);
    return task;
  }

  private async readSpec(req: CreateRequest, bundle: string): Promise<OciSpec> {
    if (req.spec !== undefined) return asObject(req.spec, 'spec') as OciSpec;
    if (bundle === '') throw new InvalidArgumentError(`task '${req.id}': neither spec nor bundle given`);
    const path = join(bundle, 'config.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new InvalidArgumentError(`task '${req.id}': cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
    try {
      return asObject(JSON.parse(text), `${path}`) as OciSpec;
    } catch (err) {
      if (isPodvisorError(err)) throw err;
      throw new InvalidArgumentError(`task '${req.id}': ${path} is not JSON: ${(err as Error).message}`, { cause: err });
    }
  }

  create(req: CreateRequest): Promise<PidReply> {
    return this.op(async () => {
      const id = assertId(req.id, 'id');
      const bundle = optionalString(req.bundle, 'bundle');
      if (bundle !== '' && !isAbsolute(bundle)) throw new InvalidArgumentError(`bundle '${bundle}' must be an absolute path`);
      const stdio = stdioOf(req);
      checkTerminalStdio(stdio, id, '');
      const rootfs: RootfsMount[] = (req.rootfs ?? []).map((m, i) => {
        const o = asObject(m, `rootfs[${i}]`);
        return {
          type: optionalString(o['type'], `rootfs[${i}].type`),
          source: optionalString(o['source'], `rootfs[${i}].source`),
          target: optionalString(o['target'], `rootfs[${i}].target`),
          options: Array.isArray(o['options']) ? (o['options'] as unknown[]).map(String) : [],
        };
      });
      if (this.tasks.has(id) || this.reserved.has(id)) throw new AlreadyExistsError(`task '${id}' already exists`);
      this.reserved.add(id);
      try {
        const spec = await this.readSpec(req, bundle);
        if (spec.process !== undefined) asObject(spec.process, 'spec.process');
        const { type, sandboxId } = sandboxTypeAndId(spec.annotations);
        if (type === 'container') return await this.createWorkload(id, sandboxId, spec, bundle, rootfs, stdio);
        if (type === 'sandbox') return await this.createSandbox(id, sandboxId, spec, bundle, rootfs, stdio);
        if (!isWindows(spec) && !isLinux(spec)) {
          throw new FailedPreconditionError(`task '${id}': oci spec does not contain WCOW or LCOW spec`);
        }
        const task = await this.newTask({ podId: id, taskId: id, spec, bundle, rootfs, stdio, hasContainer: true, sandbox: false });
        this.tasks.set(id, task);
        return { pid: 0 };
      } finally {
        this.reserved.delete(id);
      }
    });
  }

  private async newTask(o: Omit<TaskOptions, 'io' | 'router' | 'openStdio'>): Promise<TaskActor> {
    // hcsshim connects the upstream IO when the task is created, so a bad
    // path fails the create rather than the start.
    const io = await this.openStdio(o.hasContainer ? o.stdio : noStdio, o.taskId, '');
    const task = new TaskActor(this.deps, { ...o, io, router: this.router, openStdio: this.openStdio });
    await task.create();
    return task;
  }

  /** hcsshim's createPod (reference/hcsshim.md §3.2), with one pod per sandbox on this node. */
  private async createSandbox(
    id: string,
    sandboxId: string,
    spec: OciSpec,
    bundle: string,
    rootfs: RootfsMount[],
    stdio: StdioRequest,
  ): Promise<PidReply> {
    if (sandboxId !== id) {
      throw new FailedPreconditionError(`expected annotation 'io.kubernetes.cri.sandbox-id': '${id}' got '${sandboxId}'`);
    }
    if (!isWindows(spec) && !isLinux(spec)) {
      throw new FailedPreconditionError(`pod '${id}': oci spec does not contain WCOW or LCOW spec`);
    }
    // Hyper-V WCOW pods and HostProcess pods have no sandbox container: a
    // fake task stands for the sandbox (hcsshim §1.8, §2.7).
    const fake = isWindows(spec) && (isIsolated(spec) || isJobContainer(spec));
    let sandboxSpec = spec;
    if (!fake && isWindows(spec) && isCmdExe(spec.process)) {
      sandboxSpec = { ...spec, process: { ...spec.process, args: [], commandLine: WCOW_PAUSE_COMMAND } };
    }
    const pod = new PodActor(id, spec, { hasHost: isIsolated(spec), hostSupportsHostProcess: true }, this.deps.log);
    try {
      pod.sandbox = await this.newTask({
        podId: id,
        taskId: id,
        spec: sandboxSpec,
        bundle,
        rootfs,
        stdio,
        hasContainer: !fake,
        sandbox: true,
        onInitRunning: (running) => pod.sandboxRunning(running),
      });
    } catch (err) {
      pod.remove();
      throw err;
    }
    this.pods.set(id, pod);
    this.tasks.set(id, pod.sandbox);
    return { pid: 0 };
  }

  /** hcsshim's CreateTask (§3.3), serialised in the pod. */
  private async createWorkload(
    id: string,
    podId: string,
    spec: OciSpec,
    bundle: string,
    rootfs: RootfsMount[],
    stdio: StdioRequest,
  ): Promise<PidReply> {
    const pod = this.pods.get(podId);
    if (pod === undefined) throw new NotFoundError(`task '${id}': pod '${podId}' not found`);
    return pod.mailbox.run(async () => {
      const { annotations } = await pod.admitTask(id, spec);
      try {
        const task = await this.newTask({
          podId,
          taskId: id,
          spec: { ...spec, annotations },
          bundle,
          rootfs,
          stdio,
          hasContainer: true,
          sandbox: false,
        });
        pod.workloads.set(id, task);
        this.tasks.set(id, task);
      } catch (err) {
        pod.workloadGone(id);
        throw err;
      }
      return { pid: 0 };
    });
  }

  start(req: ExecRef): Promise<PidReply> {
    return this.op(async () => {
      const execId = assertExecId(req.execId);
      return this.task(req.id).start(execId);
    });
  }

  exec(req: ExecCreateRequest): Promise<Empty> {
    return this.op(async () => {
      const task = this.task(req.id);
      const execId = assertExecId(req.execId);
      if (execId === '') throw new InvalidArgumentError(`exec in task '${task.id}': execId must not be empty`);
      const process = asObject(req.spec, 'spec') as OciProcess;
      await task.addExec({ execId, process, stdio: stdioOf(req) });
      return {};
    });
  }

  kill(req: KillRequest): Promise<Empty> {
    return this.op(async () => {
      const task = this.task(req.id);
      const execId = assertExecId(req.execId);
      const all = optionalBool(req.all, 'all');
      const pod = this.pods.get(task.id);
      if (all && execId === '' && pod !== undefined) {
        await this.killPod(pod, req.signal);
      } else {
        await task.kill(execId, req.signal, all);
      }
      return {};
    });
  }

  /**
   * hcsshim's KillTask with `all` on the sandbox: every workload and the
   * sandbox at once. A workload already gone has nothing left to kill, so
   * its not_found is not the caller's failure (hcsshim returns it: a quirk).
   */
  private async killPod(pod: PodActor, signal: number): Promise<void> {
    const results = await Promise.allSettled(pod.tasks().map((t) => t.kill('', signal, true)));
    const failure = results.find(
      (r, i): r is PromiseRejectedResult =>
        r.status === 'rejected' && !(i > 0 && isPodvisorError(r.reason) && r.reason.code === 'not_found'),
    );
    if (failure !== undefined) throw failure.reason;
  }

  delete(req: ExecRef): Promise<DeleteReply> {
    return this.op(async () => {
      const task = this.task(req.id);
      const execId = assertExecId(req.execId);
      if (execId !== '') return task.delete(execId);
      const pod = this.pods.get(task.podId);
      if (pod === undefined || task.podId !== task.id) {
        const status = await task.delete('');
        this.tasks.delete(task.id);
        pod?.workloadGone(task.id);
        return status;
      }
      // The sandbox: its deletion and the pod's creates take turns.
      return pod.mailbox.run(async () => {
        await pod.admitDelete(task.id);
        const status = await task.delete('');
        this.tasks.delete(task.id);
        this.pods.delete(pod.podId);
        pod.remove();
        return status;
      });
    });
  }

  state(req: ExecRef): Promise<StateReply> {
    return this.op(async () => this.stateOf(this.task(req.id), assertExecId(req.execId)));
  }

  private stateOf(task: TaskActor, execId: string): StateReply {
    const s = task.state(execId);
    return {
      id: s.id,
      execId: s.execId,
      bundle: s.bundle,
      pid: s.pid,
      status: s.status,
      stdin: s.stdio.stdin,
      stdout: s.stdio.stdout,
      stderr: s.stdio.stderr,
      terminal: s.terminal,
      exitStatus: s.exitStatus,
      exitedAt: s.exitedAt,
    };
  }

  /** Not counted as in flight: a wait may outlive any drain, and holds nothing. */
  async wait(req: ExecRef): Promise<ExitReply> {
    if (this.phase !== 'running') throw new UnavailableError(`node is ${this.phase}: no new operations`);
    const { exitStatus, exitedAt } = await this.task(req.id).wait(assertExecId(req.execId));
    return { exitStatus, exitedAt };
  }

  pids(req: TaskRef): Promise<PidsReply> {
    return this.op(async () => ({ processes: await this.task(req.id).pids() }));
  }

  pause(req: TaskRef): Promise<Empty> {
    return this.op(async () => {
      await this.task(req.id).pause();
      return {};
    });
  }

  resume(req: TaskRef): Promise<Empty> {
    return this.op(async () => {
      await this.task(req.id).resume();
      return {};
    });
  }

  resizePty(req: ResizePtyRequest): Promise<Empty> {
    return this.op(async () => {
      const task = this.task(req.id);
      const execId = assertExecId(req.execId);
      await task.resizePty(execId, dimension(req.width, 'width'), dimension(req.height, 'height'));
      return {};
    });
  }

  /** hcsshim ignores the `stdin` flag: closing IO always means closing stdin. */
  closeIo(req: CloseIoRequest): Promise<Empty> {
    return this.op(async () => {
      const task = this.task(req.id);
      optionalBool(req.stdin, 'stdin');
      await task.closeIo(assertExecId(req.execId));
      return {};
    });
  }

  update(req: UpdateRequest): Promise<Empty> {
    return this.op(async () => {
      const task = this.task(req.id);
      await task.update(req.resources === undefined ? undefined : asObject(req.resources, 'resources'));
      return {};
    });
  }

  stats(req: TaskRef): Promise<StatsReply> {
    return this.op(async () => ({ stats: await this.task(req.id).stats() }));
  }

  connect(req: TaskRef): Promise<ConnectReply> {
    return this.op(async () => {
      const task = this.task(req.id);
      return { shimPid: process.pid, taskPid: task.initPid, version: this.version };
    });
  }

  /**
   * Ends a pod or standalone task: with nothing running, deletes its tasks
   * (workloads, then the sandbox); with `now`, kills everything first. An id
   * that is not here is already ended, so it answers ok, as hcsshim does.
   */
  shutdown(req: ShutdownRequest): Promise<Empty> {
    return this.op(async () => {
      const id = assertId(req.id, 'id');
      const now = optionalBool(req.now, 'now');
      const task = this.tasks.get(id);
      if (task === undefined) return {};
      const group = this.pods.get(id)?.tasks() ?? [task];
      if (!now) {
        const running = group.filter((t) => t.state('').status !== 'stopped' && t.state('').status !== 'created');
        if (running.length > 0) {
          throw new FailedPreconditionError(
            `cannot shut down '${id}': still running: ${running.map((t) => t.id).join(', ')}`,
          );
        }
      } else {
        await Promise.allSettled(group.map((t) => t.kill('', 9, true)));
        await Promise.all(group.map((t) => t.wait('')));
      }
      for (const t of [...group].reverse()) {
        await this.deleteQuietly(t);
      }
      return {};
    });
  }

  private async deleteQuietly(task: TaskActor): Promise<void> {
    const pod = this.pods.get(task.podId);
    await task.delete('');
    this.tasks.delete(task.id);
    if (pod !== undefined && task.id === pod.podId) {
      this.pods.delete(pod.podId);
      pod.remove();
    } else {
      pod?.workloadGone(task.id);
    }
  }

  checkpoint(_req: CheckpointRequest): Promise<never> {
    return this.op(async () => {
      throw new NotImplementedError('checkpoint is not implemented');
    });
  }

  list(): Promise<ListReply> {
    return this.op(async () => ({
      tasks: [...this.tasks.values()].map((t) => ({ ...this.stateOf(t, ''), podId: t.podId })),
    }));
  }

  /**
   * Stops taking operations, lets those in flight finish (bounded by
   * `timeoutMs`), and stops every actor. Containers are left as they are:
   * a restarted node finds them again.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.phase === 'stopped') return;
    this.phase = 'draining';
    if (this.inflight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        this.idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    await Promise.all([...this.tasks.values()].map((t) => t.dispose()));
    for (const pod of this.pods.values()) pod.remove();
    this.tasks.clear();
    this.pods.clear();
    this.router.close();
    this.phase = 'stopped';
  }
}
