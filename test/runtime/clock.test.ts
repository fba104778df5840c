import { describe, expect, it } from 'vitest';
import { formatTimestamp } from '../../src/clock.ts';

const S = 1_000_000_000n;

describe('formatTimestamp', () => {
  it('writes RFC 3339 in UTC with nine fraction digits', () => {
    expect(formatTimestamp(0n)).toBe('1970-01-01T00:00:00.000000000Z');
    expect(formatTimestamp(1_795_860_000n * S + 123_456_789n)).toBe('2026-11-28T10:00:00.123456789Z');
    expect(formatTimestamp(1_795_860_000n * S + 5n)).toBe('2026-11-28T10:00:00.000000005Z');
  });

  it('gets the date right when the second changes, in either direction', () => {
    // The date part is kept per second; a clock set back (a test's virtual clock) must not reuse it.
    const at = 1_795_859_999n * S;
    expect(formatTimestamp(at + 999_999_999n)).toBe('2026-11-28T09:59:59.999999999Z');
    expect(formatTimestamp(at + S)).toBe('2026-11-28T10:00:00.000000000Z');
    expect(formatTimestamp(at + 999_999_999n)).toBe('2026-11-28T09:59:59.999999999Z');
    expect(formatTimestamp(at + 86_400n * S)).toBe('2026-11-29T09:59:59.000000000Z');
  });
});
