import type { EventSink, LifecycleEvent } from '../events.ts';

export interface RecordedEvent {
  seq: number;
  event: LifecycleEvent;
}

/**
 * An event sink that keeps everything in memory, numbered as the NATS
 * publisher numbers them. The demo prints from it and tests assert on it.
 */
export class MemorySink implements EventSink {
  readonly events: RecordedEvent[] = [];
  private readonly listeners = new Set<(e: RecordedEvent) => void>();

  async publish(event: LifecycleEvent): Promise<void> {
    const recorded = { seq: this.events.length + 1, event };
    this.events.push(recorded);
    for (const listener of this.listeners) listener(recorded);
  }

  subscribe(listener: (e: RecordedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The events of one task, as `topic` or `topic:id` strings, for compact assertions. */
  topics(taskId?: string): string[] {
    return this.events
      .filter((r) => taskId === undefined || r.event.taskId === taskId)
      .map(({ event }) => {
        if (event.topic === 'exit' || event.topic === 'delete') return `${event.topic}:${event.event.id}`;
        if (event.topic === 'exec-added' || event.topic === 'exec-started') return `${event.topic}:${event.event.execId}`;
        return event.topic;
      });
  }
}
