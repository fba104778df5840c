import { formatTimestamp, type Clock } from '../clock.ts';
import type { EventSink, LifecycleEvent, Topic, TopicMessages } from '../events.ts';
import type { Logger } from '../log.ts';

/**
 * Publishes one task's lifecycle events, stamped with the node's clock. A
 * sink that fails is logged, never thrown into the lifecycle: the event's
 * fate is the sink's to report (the NATS sink retries in order).
 */
export class TaskPublisher {
  constructor(
    private readonly sink: EventSink,
    private readonly clock: Clock,
    private readonly log: () => Logger,
    private readonly podId: string,
    private readonly taskId: string,
  ) {}

  /** `at` dates the event when the moment it records came before its publication (a start). */
  publish<T extends Topic>(topic: T, event: TopicMessages[T], at?: string): Promise<void> {
    // TypeScript cannot narrow the mapped union from a generic topic; the
    // signature above already ties `event` to `topic`.
    const record = { topic, podId: this.podId, taskId: this.taskId, timestamp: at ?? formatTimestamp(this.clock.nowNs()), event } as LifecycleEvent;
    return this.sink.publish(record).catch((err: unknown) => {
      this.log().error({ err, topic }, 'publishing a lifecycle event failed');
    });
  }
}
