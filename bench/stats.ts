/** Small measuring helpers for the benchmarks: percentiles, rates, the result table. */

export function percentile(sortedMs: number[], p: number): number {
  if (sortedMs.length === 0) return NaN;
  const i = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[i] as number;
}

export interface Latencies {
  p50: number;
  p99: number;
  p999: number;
  n: number;
}

export function summarise(samplesMs: number[]): Latencies {
  const s = [...samplesMs].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p99: percentile(s, 99), p999: percentile(s, 99.9), n: s.length };
}

/** Runs `op` sequentially `n` times (after `warmup`), timing each. */
export async function sequential(n: number, warmup: number, op: (i: number) => Promise<unknown>): Promise<Latencies> {
  for (let i = 0; i < warmup; i++) await op(i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op(i);
    out.push(performance.now() - t);
  }
  return summarise(out);
}

/** Keeps `window` operations in flight for `ms`; returns completed operations per second. */
export async function throughput(window: number, ms: number, op: (i: number) => Promise<unknown>): Promise<{ perSecond: number; errors: number }> {
  const deadline = performance.now() + ms;
  let done = 0;
  let errors = 0;
  let i = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: window }, async () => {
      while (performance.now() < deadline) {
        try {
          await op(i++);
        } catch {
          errors++;
        }
        done++;
      }
    }),
  );
  return { perSecond: (done / (performance.now() - start)) * 1000, errors };
}

export interface Row {
  metric: string;
  value: number;
  unit: string;
  baseline: number | null;
  baselineName: string;
  target: string;
  pass: boolean | null;
}

function fmt(n: number | null, unit: string): string {
  if (n === null || Number.isNaN(n)) return '—';
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : n >= 1 ? 2 : 3;
  return `${n.toFixed(digits)} ${unit}`;
}

export function printTable(rows: Row[], out: NodeJS.WritableStream = process.stdout): void {
  const cells = [
    ['metric', 'podvisor', 'baseline', 'ratio', 'target', 'result'],
    ...rows.map((r) => [
      r.metric,
      fmt(r.value, r.unit),
      r.baseline === null ? '—' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`,
      r.baseline === null || r.baseline === 0 ? '—' : `${(r.value / r.baseline).toFixed(2)}×`,
      r.target,
      r.pass === null ? 'info' : r.pass ? 'PASS' : 'FAIL',
    ]),
  ];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => (c[i] ?? '').length)));
  for (const c of cells) out.write(`${c.map((x, i) => x.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`);
}
