/**
 * Runs an actor's commands one at a time, in arrival order (decision 5): a
 * command that arrives while another is in flight takes effect after it,
 * never fails because of the overlap. A failed command does not block the
 * ones behind it.
 */
export class Mailbox {
  private tail: Promise<unknown> = Promise.resolve();
  private depth = 0;

  run<T>(command: () => Promise<T>): Promise<T> {
    this.depth++;
    const result = this.tail.then(command);
    this.tail = result.then(
      () => this.depth--,
      () => this.depth--,
    );
    return result;
  }

  /** Commands queued or running. */
  get pending(): number {
    return this.depth;
  }
}
