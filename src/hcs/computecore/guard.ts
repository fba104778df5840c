/**
 * One HCS handle's lifetime: calls on it are counted, and it is closed
 * exactly once, after the last call on it finished (closing a handle under a
 * call in flight has crashed computecore.dll, reference/hcsshim.md §6.3).
 */
export class HandleGuard {
  private inflight = 0;
  private closing: Promise<void> | undefined;
  private idle: (() => void) | undefined;

  constructor(
    readonly handle: bigint,
    private readonly closeHandle: (handle: bigint) => Promise<void>,
  ) {}

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** Runs fn with the handle; throws `closedError()` once a close began. */
  async use<T>(fn: (handle: bigint) => Promise<T>, closedError: () => Error): Promise<T> {
    if (this.closing !== undefined) throw closedError();
    this.inflight++;
    try {
      return await fn(this.handle);
    } finally {
      if (--this.inflight === 0) this.idle?.();
    }
  }

  /** Waits for the calls in flight, then closes; later callers share the one close. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.inflight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
      await this.closeHandle(this.handle);
    })();
    return this.closing;
  }
}
