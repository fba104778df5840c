/**
 * The load generator, on its own thread: the requester must not share the
 * service's event loop, or the benchmark measures their contention.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { connect } from '@nats-io/transport-node';
import { sequential, throughput } from './stats.ts';

export interface LoadJob {
  url: string;
  subject: string;
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
const call = async () => {
  const m = await nc.request(job.subject, job.body, { timeout: 10_000 });
  if (m.headers?.get('Nats-Service-Error-Code')) throw new Error(m.string());
};
const latency = job.n > 0 ? await sequential(job.n, job.warmup, call) : null;
const rate = job.ms > 0 ? await throughput(job.window, job.ms, call) : null;
await nc.close();
parentPort?.postMessage({ latency, rate });
