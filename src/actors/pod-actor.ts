import { createActor, type Actor } from 'xstate';
import type { Logger } from '../log.ts';
import { podMachine } from '../machines/pod.ts';
import type { PodHostFacts } from '../machines/pod-rules.ts';
import type { OciSpec } from '../oci.ts';
import { Mailbox } from './mailbox.ts';
import { Replies } from './request.ts';
import type { TaskActor } from './task-actor.ts';

/**
 * Runs one pod machine and holds the pod's task actors. Creates in the pod
 * and the sandbox's deletion take turns in its mailbox, so admission always
 * sees the pod as it is.
 */
export class PodActor {
  readonly actor: Actor<typeof podMachine>;
  readonly mailbox = new Mailbox();
  private readonly replies: Replies;
  sandbox: TaskActor | undefined;
  readonly workloads = new Map<string, TaskActor>();

  constructor(
    readonly podId: string,
    spec: OciSpec,
    host: PodHostFacts,
    log: Logger,
  ) {
    this.actor = createActor(podMachine, { input: { podId, spec, host } });
    this.replies = new Replies();
    this.actor.on('reply', (ev) => this.replies.settle(ev));
    this.actor.subscribe({ error: (err) => log.fatal({ err, podId }, 'pod machine failed') });
    this.actor.start();
  }

  /** Runs hcsshim's CreateTask checks; on success the id is reserved in the pod. */
  admitTask(taskId: string, spec: OciSpec): Promise<{ annotations: Record<string, string> }> {
    return this.replies.ask(this.actor, { type: 'ADMIT_TASK', reqId: this.replies.nextId('admit'), taskId, spec });
  }

  /** Refuses the sandbox's deletion while workloads remain (decision 6). */
  admitDelete(taskId: string): Promise<void> {
    return this.replies.ask(this.actor, { type: 'ADMIT_DELETE', reqId: this.replies.nextId('delete'), taskId });
  }

  workloadGone(taskId: string): void {
    this.workloads.delete(taskId);
    this.actor.send({ type: 'WORKLOAD_GONE', taskId });
  }

  sandboxRunning(running: boolean): void {
    this.actor.send({ type: running ? 'SANDBOX_RUNNING' : 'SANDBOX_STOPPED' });
  }

  /** Every task of the pod, sandbox first (hcsshim's ListTasks order). */
  tasks(): TaskActor[] {
    return [...(this.sandbox === undefined ? [] : [this.sandbox]), ...this.workloads.values()];
  }

  remove(): void {
    this.actor.send({ type: 'REMOVE' });
    this.actor.stop();
  }
}
