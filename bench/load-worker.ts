/**
 * The load generator, on its own thread: the requester must not share the
 * service's event loop, or the benchmark measures their contention.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from '@nats-io/transport-node';
import { sequential, summarise, throughput, type Latencies } from './stats.ts';

export interface LoadJob {
  url: string;
  subject: string;
  /**
   * A second subject whose requests alternate with `subject`'s in the
   * latency run, so both are timed under the same conditions on a shared
   * machine (its figures come back as `againstLatency`).
   */
  against?: string;
  body: string;
  n: number;
  warmup: number;
  window: number;
  ms: number;
}

const job = workerData as LoadJob;
// Without async traces nats.js builds no Error (with its stack) per request:
// the generator shares the two cores with what it measures, and spends less.
// Echo and podvisor are driven by this same client, so both get the saving.
const nc = await connect({ servers: job.url, name: 'bench-load', noAsyncTraces: true });
const callOn = (subject: string) => async () => {
  const m = await nc.request(subject, job.body, { timeout: 10_000 });
  if (m.headers?.get('Nats-Service-Error-Code')) throw new Error(m.string());
};
const call = callOn(job.subject);
let latency: Latencies | null = null;
let againstLatency: Latencies | null = null;
if (job.n > 0 && job.against === undefined) latency = await sequential(job.n, job.warmup, call);
if (job.n > 0 && job.against !== undefined) {
  const other = callOn(job.against);
  const mine: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < job.warmup + job.n; i++) {
    // Who goes first alternates too, so neither side always follows the other.
    for (const [op, into] of i % 2 === 0 ? ([[call, mine], [other, theirs]] as const) : ([[other, theirs], [call, mine]] as const)) {
      const t = performance.now();
      await op();
      if (i >= job.warmup) into.push(performance.now() - t);
    }
  }
  latency = summarise(mine);
  againstLatency = summarise(theirs);
}
const rate = job.ms > 0 ? await throughput(job.window, job.ms, call) : null;
await nc.close();
parentPort?.postMessage({ latency, againstLatency, rate });
