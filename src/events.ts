/**
 * Lifecycle events, with containerd's topics and message fields
 * (`api/events/task.proto`) in camelCase, as api.md's envelope carries them.
 */

export interface RootfsMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

export interface TaskIoInfo {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface TaskCreate {
  containerId: string;
  bundle: string;
  rootfs: RootfsMount[];
  io: TaskIoInfo;
  checkpoint: string;
  pid: number;
}
export interface TaskStart {
  containerId: string;
  pid: number;
}
export interface TaskExecAdded {
  containerId: string;
  execId: string;
}
export interface TaskExecStarted {
  containerId: string;
  execId: string;
  pid: number;
}
export interface TaskExit {
  containerId: string;
  /** The exec id, or the task id for the init process (containerd's convention). */
  id: string;
  pid: number;
  exitStatus: number;
  exitedAt: string;
}
export interface TaskDelete {
  containerId: string;
  pid: number;
  exitStatus: number;
  exitedAt: string | null;
  /** The exec id, or "" for the task (hcsshim's convention). */
  id: string;
}
export interface TaskPaused {
  containerId: string;
}
export interface TaskResumed {
  containerId: string;
}
export interface TaskOOM {
  containerId: string;
}

export interface TopicMessages {
  create: TaskCreate;
  start: TaskStart;
  'exec-added': TaskExecAdded;
  'exec-started': TaskExecStarted;
  exit: TaskExit;
  delete: TaskDelete;
  paused: TaskPaused;
  resumed: TaskResumed;
  oom: TaskOOM;
}

export type Topic = keyof TopicMessages;

export const TOPIC_STRINGS: Readonly<Record<Topic, string>> = {
  create: '/tasks/create',
  start: '/tasks/start',
  'exec-added': '/tasks/exec-added',
  'exec-started': '/tasks/exec-started',
  exit: '/tasks/exit',
  delete: '/tasks/delete',
  paused: '/tasks/paused',
  resumed: '/tasks/resumed',
  oom: '/tasks/oom',
};

/** One event as the actors hand it to the sink; the sink adds node and seq. */
export type LifecycleEvent = {
  [T in Topic]: { topic: T; podId: string; taskId: string; timestamp: string; event: TopicMessages[T] };
}[Topic];

/**
 * Where actors publish lifecycle events; `src/bus/` implements it on NATS.
 * Calls arrive in the order events happened. The returned promise settles
 * when the event is safely out (stored or queued durably); a wait that must
 * reply "after the exit event is published" awaits it.
 */
export interface EventSink {
  publish(event: LifecycleEvent): Promise<void>;
}
