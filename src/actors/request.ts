import type { AnyActorRef } from 'xstate';
import { InternalError } from '../errors.ts';
import type { Reply } from '../machines/exec.ts';

/**
 * Matches a machine's emitted `reply` to the command that asked for it.
 * Machines answer by emitting `{ type: 'reply', reqId }`; the actor's owner
 * hands each one to {@link settle}, and this turns it into a promise per
 * command.
 */
export class Replies {
  private readonly waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private seq = 0;

  /** The machine answered `reqId`. */
  settle({ reqId, reply }: { reqId: string; reply: Reply }): void {
    const entry = this.waiting.get(reqId);
    if (entry === undefined) return;
    this.waiting.delete(reqId);
    if (reply.ok) entry.resolve(reply.value);
    else entry.reject(reply.error);
  }

  nextId(prefix: string): string {
    return `${prefix}-${++this.seq}`;
  }

  /** Registers interest in `reqId` before the command is sent, so a synchronous reply is not missed. */
  expect<T>(reqId: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(reqId, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /**
   * Sends `event` and waits for its reply. A command the machine did not
   * answer synchronously or later is a bug in the machine, so the check after
   * the send is loud rather than a hang.
   */
  async ask<T>(actor: AnyActorRef, event: { type: string; reqId: string; [field: string]: unknown }): Promise<T> {
    const answer = this.expect<T>(event.reqId);
    actor.send(event);
    if (actor.getSnapshot().status !== 'active' && this.waiting.has(event.reqId)) {
      this.waiting.delete(event.reqId);
      throw new InternalError(`actor ${actor.id} stopped before answering ${event.type}`);
    }
    return answer;
  }

  /**
   * Fails every unanswered command, for an actor that is being stopped. The
   * error is built only when a command still waits: an Error captures a
   * stack, and almost every actor stops with nothing outstanding.
   */
  abandon(error: () => Error): void {
    if (this.waiting.size === 0) return;
    const err = error();
    for (const entry of this.waiting.values()) entry.reject(err);
    this.waiting.clear();
  }
}
