/**
 * Time for the whole node. Actors' `after` delays, the simulated HCS's
 * `sleep`, and every event's timestamp read the same clock, so a test on
 * virtual time sees a consistent world: advancing it by 30 s fires the
 * teardown timeouts and ends `sleep 30` together.
 */

export type TimerId = unknown;

export interface Clock {
  /** Nanoseconds since the Unix epoch. */
  nowNs(): bigint;
  setTimeout(fn: () => void, ms: number): TimerId;
  clearTimeout(id: TimerId): void;
}

/** RFC 3339 with nanoseconds in UTC, the wire's timestamp form. */
export function formatTimestamp(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  // Every event is stamped, and most fall in the same second as the one
  // before: the date part is made once per second (a Date and its ISO
  // string cost 1.5 µs of the 2 a stamp took).
  if (sec !== stampSecond) {
    stampSecond = sec;
    stampPrefix = new Date(Number(sec) * 1000).toISOString().slice(0, 19); // 2026-11-22T10:00:00
  }
  return `${stampPrefix}.${(ns - sec * 1_000_000_000n).toString().padStart(9, '0')}Z`;
}
let stampSecond = -1n;
let stampPrefix = '';

export class RealClock implements Clock {
  // performance.now() gives sub-millisecond resolution; anchoring it to
  // timeOrigin keeps timestamps monotonic within the process.
  private readonly originNs = BigInt(Math.round(performance.timeOrigin * 1e6));
  nowNs(): bigint {
    return this.originNs + BigInt(Math.round(performance.now() * 1e6));
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    // Referenced on purpose: a simulated `sleep` is real work the process must wait for.
    // Actors clear their own timers when they stop.
    return setTimeout(fn, ms);
  }
  clearTimeout(id: TimerId): void {
    clearTimeout(id as ReturnType<typeof setTimeout>);
  }
}

interface VirtualTimer {
  id: number;
  dueMs: number;
  fn: () => void;
}

/**
 * Time that moves only when told to. Timers due at the same instant fire in
 * the order they were set, and timers set by a firing timer for a due time
 * within the advanced window fire in the same `advance` call.
 */
export class VirtualClock implements Clock {
  private nowMs = 0;
  private nextId = 1;
  private timers: VirtualTimer[] = [];
  constructor(private readonly epochNs: bigint = 1_800_000_000_000_000_000n) {}

  nowNs(): bigint {
    return this.epochNs + BigInt(Math.round(this.nowMs * 1e6));
  }
  get elapsedMs(): number {
    return this.nowMs;
  }
  setTimeout(fn: () => void, ms: number): TimerId {
    const timer = { id: this.nextId++, dueMs: this.nowMs + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }
  clearTimeout(id: TimerId): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  get pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order. Between timers it
   * yields to the microtask queue so promise continuations (backend replies,
   * actor transitions) settle before time moves on.
   */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      const next = this.earliest();
      if (next === undefined || next.dueMs > target) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.nowMs = next.dueMs;
      next.fn();
      await settle();
    }
    this.nowMs = target;
    await settle();
  }

  private earliest(): VirtualTimer | undefined {
    let best: VirtualTimer | undefined;
    for (const t of this.timers) if (best === undefined || t.dueMs < best.dueMs || (t.dueMs === best.dueMs && t.id < best.id)) best = t;
    return best;
  }
}

/** Lets every queued promise continuation run (several hops deep). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}
