import { createInbox, headers, type NatsConnection, type Subscription } from '@nats-io/nats-core';

/** Why a publish was not stored: the message is to be sent again (same id, so never stored twice). */
export class PublishNotAcked extends Error {
  override readonly name = 'PublishNotAcked';
}

interface Waiter {
  resolve(): void;
  reject(err: PublishNotAcked): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Publishes into a JetStream stream and waits for the stream's acknowledgement,
 * as `JetStreamClient.publish` does, through one inbox subscription held for
 * the life of the connection instead of a request per message: nats.js builds
 * a timer, a mux entry and an Error (with its stack) for every request, which
 * on the event path cost about 50 µs of the service thread and a few KiB of
 * garbage per lifecycle event (docs/performance.md).
 *
 * The wire is the same: the message goes to its subject with a reply subject,
 * and the stream answers there with `{"stream","seq"}` (or `{"error"}`); with
 * no stream listening, the server answers 503 (no responders).
 */
export class JetStreamAcks {
  private readonly inbox: string;
  private readonly sub: Subscription;
  private readonly waiting = new Map<string, Waiter>();
  private next = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    this.inbox = createInbox();
    this.sub = nc.subscribe(`${this.inbox}.*`, {
      callback: (err, m) => {
        if (err !== null) return this.failAll(`the acknowledgement subscription failed: ${err.message}`);
        const token = m.subject.slice(this.inbox.length + 1);
        const w = this.waiting.get(token);
        if (w === undefined) return; // an answer that came after its wait gave up
        this.settle(token);
        if (m.headers?.hasError === true) return w.reject(new PublishNotAcked(`no stream stored the message (${m.headers.code} ${m.headers.description})`));
        let ack: { stream?: string; error?: { code?: number; description?: string } };
        try {
          ack = m.json();
        } catch {
          return w.reject(new PublishNotAcked(`the acknowledgement was not JSON: ${m.string().slice(0, 200)}`));
        }
        if (ack.error !== undefined) return w.reject(new PublishNotAcked(`the stream refused the message (${ack.error.code}): ${ack.error.description}`));
        if (typeof ack.stream !== 'string' || ack.stream === '') return w.reject(new PublishNotAcked('the acknowledgement named no stream'));
        w.resolve();
      },
    });
  }

  /**
   * Resolves once the stream has stored the message (or had already stored
   * one with this `msgId`, within its duplicate window).
   */
  publish(subject: string, payload: string, msgId: string): Promise<void> {
    const token = String(++this.next);
    const h = headers();
    h.set('Nats-Msg-Id', msgId);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.settle(token);
        reject(new PublishNotAcked(`no acknowledgement within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting.set(token, { resolve, reject, timer });
      try {
        this.nc.publish(subject, payload, { headers: h, reply: `${this.inbox}.${token}` });
      } catch (err) {
        this.settle(token);
        reject(new PublishNotAcked(`the message could not be sent: ${(err as Error).message}`));
      }
    });
  }

  private settle(token: string): void {
    const w = this.waiting.get(token);
    if (w === undefined) return;
    clearTimeout(w.timer);
    this.waiting.delete(token);
  }

  private failAll(why: string): void {
    for (const [token, w] of [...this.waiting]) {
      this.settle(token);
      w.reject(new PublishNotAcked(why));
    }
  }

  /** Fails every wait still open and drops the subscription. */
  close(): void {
    this.failAll('closed');
    this.sub.unsubscribe();
  }
}
