import type { NatsConnection } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { TOPIC_STRINGS, type EventSink, type LifecycleEvent } from '../events.ts';
import type { Logger } from '../log.ts';
import { JetStreamAcks } from './jetstream-acks.ts';
import { eventSubject, eventsStreamName, eventsStreamSubject, nodeEventsFilter, type BusNames } from './subjects.ts';

/** The envelope of api.md: what a subscriber receives for each event. */
export interface EventEnvelope {
  topic: string;
  node: string;
  seq: number;
  timestamp: string;
  podId: string;
  event: unknown;
}

export interface EventStreamLimits {
  /** Oldest event kept, in milliseconds; 0 keeps them until the byte limit. */
  maxAgeMs: number;
  maxBytes: number;
}

export const DEFAULT_LIMITS: EventStreamLimits = { maxAgeMs: 7 * 24 * 3600 * 1000, maxBytes: 1024 * 1024 * 1024 };

interface Pending {
  subject: string;
  seq: number;
  payload: string;
  done: () => void;
}

/**
 * Creates the events stream, or updates its limits, before anything is published.
 */
export async function ensureEventsStream(nc: NatsConnection, prefix: string, limits: EventStreamLimits): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const name = eventsStreamName(prefix);
  const config = {
    subjects: [eventsStreamSubject(prefix)],
    max_age: limits.maxAgeMs * 1_000_000,
    max_bytes: limits.maxBytes,
    // Retried publishes carry the same message id; the window drops the repeat.
    duplicate_window: 120 * 1_000_000_000,
  };
  try {
    await jsm.streams.info(name);
    await jsm.streams.update(name, config);
  } catch (err) {
    if (!/stream not found/i.test(String((err as Error).message))) throw err;
    await jsm.streams.add({ name, ...config });
  }
}

/**
 * The last `seq` this node published, read back from the stream (0 for a
 * new node): the stream is the durable record, so the count survives
 * restarts without a second store to keep in step.
 */
export async function lastPublishedSeq(nc: NatsConnection, names: BusNames): Promise<number> {
  const jsm = await jetstreamManager(nc);
  try {
    const msg = await jsm.streams.getMessage(eventsStreamName(names.prefix), { last_by_subj: nodeEventsFilter(names) });
    return msg === null ? 0 : (msg.json() as EventEnvelope).seq;
  } catch (err) {
    if (/no message found/i.test(String((err as Error).message))) return 0;
    throw err;
  }
}

/**
 * Publishes lifecycle events into JetStream, in the order they happened,
 * numbered contiguously per node across restarts. One event at a time is in
 * flight, so a retry can never overtake the event behind it; a failed
 * publish (NATS unreachable, no ack) is retried, never skipped. While NATS
 * is away events wait in memory; past `maxQueued` the sink reports itself
 * saturated so the node refuses new work instead of losing events.
 */
export class JetStreamEventSink implements EventSink {
  private readonly acks: JetStreamAcks;
  private readonly queue: Pending[] = [];
  private pumping = false;
  private kicked = false;
  private closed = false;
  /** Told when the queue is next empty, or that it never will be (closed with events left). */
  private emptied: { resolve(): void; reject(err: Error): void }[] = [];
  private warned = false;

  private constructor(
    nc: NatsConnection,
    private readonly names: BusNames,
    private seq: number,
    private readonly maxQueued: number,
    private readonly log: Logger,
  ) {
    this.acks = new JetStreamAcks(nc, 5_000);
  }

  static async open(
    nc: NatsConnection,
    names: BusNames,
    options: { limits?: EventStreamLimits; maxQueued?: number; log: Logger },
  ): Promise<JetStreamEventSink> {
    await ensureEventsStream(nc, names.prefix, options.limits ?? DEFAULT_LIMITS);
    const seq = await lastPublishedSeq(nc, names);
    options.log.info({ stream: eventsStreamName(names.prefix), seq }, 'events stream ready');
    return new JetStreamEventSink(nc, names, seq, options.maxQueued ?? 10_000, options.log);
  }

  /** The number the next event gets, minus one. */
  get lastSeq(): number {
    return this.seq;
  }

  get queued(): number {
    return this.queue.length;
  }

  /**
   * Resolves once every event published so far is stored (at once when none
   * waits); rejects if the sink is closed with events still waiting.
   */
  drained(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(this.neverStored());
    return new Promise((resolve, reject) => this.emptied.push({ resolve, reject }));
  }

  private neverStored(): Error {
    return new Error(`${this.queue.length} events were never stored`);
  }

  /** Too many events wait for NATS: new work must be refused until they are out. */
  get saturated(): boolean {
    return this.queue.length >= this.maxQueued;
  }

  publish(event: LifecycleEvent): Promise<void> {
    const seq = ++this.seq;
    const envelope: EventEnvelope = {
      topic: TOPIC_STRINGS[event.topic],
      node: this.names.node,
      seq,
      timestamp: event.timestamp,
      podId: event.podId,
      event: event.event,
    };
    const subject = eventSubject(this.names, event.podId, event.taskId, event.topic);
    const published = new Promise<void>((done) => this.queue.push({ subject, seq, payload: JSON.stringify(envelope), done }));
    if (this.saturated && !this.warned) {
      this.warned = true;
      this.log.error({ queued: this.queue.length }, 'events are not reaching NATS; refusing new work until they do');
    }
    this.kick();
    return published;
  }

  /**
   * Starts the pump on the event loop's next turn rather than in this one: an
   * event is mostly published while its command's reply is on its way, and
   * the reply then leaves before the event's send and acknowledgement wait
   * are set up (about 0.1 ms of a cold create or start). The event is already
   * queued, numbered and in order; only its sending waits.
   */
  private kick(): void {
    if (this.pumping || this.kicked) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    let backoff = 50;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const head = this.queue[0] as Pending;
        try {
          await this.acks.publish(head.subject, head.payload, `${this.names.node}-${head.seq}`);
          this.queue.shift();
          head.done();
          if (this.queue.length === 0) for (const w of this.emptied.splice(0)) w.resolve();
          backoff = 50;
          if (this.warned && !this.saturated) {
            this.warned = false;
            this.log.warn('events reach NATS again');
          }
        } catch (err) {
          if (this.closed) break;
          this.log.warn({ err, seq: head.seq, queued: this.queue.length }, 'publishing an event failed; retrying in order');
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 2_000);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Waits up to `timeoutMs` for queued events to go out, then stops retrying. */
  async close(timeoutMs = 5_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.drained().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.closed = true;
    this.acks.close();
    for (const w of this.emptied.splice(0)) w.reject(this.neverStored());
    if (this.queue.length > 0) this.log.error({ lost: this.queue.length }, 'shutting down with events not yet in NATS');
    return this.queue.length;
  }
}
