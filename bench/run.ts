/**
 * podvisor's benchmarks, each figure beside a baseline measured in the same
 * run where one can be (a bare NATS echo service on the same server with the
 * same client library), or beside its published anchor (reference/perf.md).
 * `--quick` runs every scenario small, to prove the harness works.
 *
 *   npm run bench            full run (a few minutes)
 *   npm run bench -- --quick
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm } from '@nats-io/services';
import { startEmbeddedNats } from '../src/bus/embedded.ts';
import { startPodvisor, type Podvisor } from '../src/bus/server.ts';
import type { EventEnvelope } from '../src/bus/events.ts';
import { SimBackend } from '../src/hcs/sim/backend.ts';
import { silentLogger } from '../src/log.ts';
import type { OciSpec } from '../src/oci.ts';
import { Worker } from 'node:worker_threads';
import type { LoadJob } from './load-worker.ts';
import { ECHO_SUBJECT, runcCreateStartRows, spawnFlatnessRows } from './runc.ts';
import { printTable, sequential, summarise, type Latencies, type Row } from './stats.ts';

const quick = process.argv.includes('--quick');
const SIZE = quick
  ? { seq: 500, warmup: 100, tputMs: 1_500, killWait: 100, pods: [200, 1_000], exitSamples: 200, exitWarmup: 200, cycles: 30 }
  : { seq: 10_000, warmup: 1_000, tputMs: 10_000, killWait: 1_000, pods: [1_000, 10_000], exitSamples: 1_000, exitWarmup: 3_000, cycles: 300 };
const WINDOW = 64;
const WINDOWS = [64, 256];
const gc = (globalThis as { gc?: () => void }).gc;

function spec(script: string, annotations: Record<string, string> = {}): OciSpec {
  return { process: { args: ['sh', '-c', script] }, linux: {}, annotations };
}
const sandbox = (pod: string) => ({ 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': pod });
const workload = (pod: string) => ({ 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': pod });

async function request(nc: NatsConnection, subject: string, body: unknown): Promise<Record<string, unknown>> {
  const m = await nc.request(subject, JSON.stringify(body), { timeout: 30_000 });
  if (m.headers?.get('Nats-Service-Error-Code')) throw new Error(`${subject}: ${m.string()}`);
  return m.json();
}

function settleHeap(): void {
  gc?.();
  gc?.();
}

/** One pod as perf.md counts it: a sandbox, two workloads, one exec; every process running. */
async function residentPod(pv: Podvisor, i: number): Promise<void> {
  const pod = `p${i}`;
  await pv.node.create({ id: pod, spec: spec('sleep inf', sandbox(pod)) });
  await pv.node.start({ id: pod });
  for (const w of ['a', 'b']) {
    await pv.node.create({ id: `${pod}${w}`, spec: spec('sleep inf', workload(pod)) });
    await pv.node.start({ id: `${pod}${w}` });
  }
  await pv.node.exec({ id: `${pod}a`, execId: 'x', spec: { args: ['sh', '-c', 'sleep inf'] } });
  await pv.node.start({ id: `${pod}a`, execId: 'x' });
}

/** Runs a load job on a worker thread (its own event loop, on the machine's other core). */
function load(job: LoadJob): Promise<{ latency: Latencies | null; againstLatency: Latencies | null; rate: { perSecond: number; errors: number } | null }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: job });
    w.once('message', resolve);
    w.once('error', reject);
  });
}

async function main(): Promise<void> {
  if (gc === undefined) throw new Error('run with node --expose-gc (npm run bench does)');
  const dir = mkdtempSync(join(tmpdir(), 'podvisor-bench-'));
  const nats = await startEmbeddedNats({ dir });
  const backend = new SimBackend();
  const pv = await startPodvisor({ backend, log: silentLogger(), natsUrl: nats.url, node: 'bench', stateDir: dir, maxQueuedEvents: 1_000_000 });
  const echoConn = await connect({ servers: nats.url, name: 'echo' });
  const echo = await new Svcm(echoConn).add({ name: 'echo', version: '0.0.1', queue: '' });
  echo.addEndpoint('echo', { subject: ECHO_SUBJECT, handler: (_e, m) => void m.respond(m.data) });
  await echoConn.flush();
  // The bench's own requests carry no async traces, as in the load worker: a
  // stack captured per request is the client's cost, not the service's.
  const nc = await connect({ servers: nats.url, name: 'bench-client', noAsyncTraces: true });
  const rows: Row[] = [];
  const task = (op: string) => `podvisor.bench.task.${op}`;
  process.stderr.write(`podvisor bench${quick ? ' --quick' : ''}: nats-server ${nats.url}\n`);
  // Spawn latency first, while the heap is still small: it compares a small heap with a grown one.
  const spawn = await spawnFlatnessRows(quick);
  settleHeap();
  // 5. Whole pods cycled per second over NATS; this also warms the service for 4.
  const cycleOne = async (i: number) => {
    const pod = `c${i}`;
    await request(nc, task('create'), { id: pod, spec: spec('sleep inf', sandbox(pod)) });
    await request(nc, task('start'), { id: pod });
    for (const w of ['a', 'b']) {
      await request(nc, task('create'), { id: `${pod}${w}`, spec: spec('sleep inf', workload(pod)) });
      await request(nc, task('start'), { id: `${pod}${w}` });
    }
    await request(nc, task('exec'), { id: `${pod}a`, execId: 'x', spec: { args: ['sh', '-c', 'sleep inf'] } });
    await request(nc, task('start'), { id: `${pod}a`, execId: 'x' });
    await request(nc, task('kill'), { id: pod, signal: 9, all: true });
    for (const t of [`${pod}a`, `${pod}b`, pod]) {
      await request(nc, task('wait'), { id: t });
      await request(nc, task('delete'), { id: t });
    }
  };
  const t5 = performance.now();
  await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
    for (let i = lane; i < SIZE.cycles; i += 8) await cycleOne(i);
  }));
  const podsPerSecond = (SIZE.cycles / (performance.now() - t5)) * 1000;
  const cycled: Row = { metric: 'pods cycled per second (8 at a time)', value: podsPerSecond, unit: '/s', baseline: null, baselineName: '', target: 'info (perf.md: ≥ 50 pods/s up)', pass: null };
  // 4. A real container's create+start, with the service warm and its heap settled.
  settleHeap();
  const runc = await runcCreateStartRows(nats.url, nc, quick);
  settleHeap();

  // 1. Command round trip over NATS against a bare echo service.
  await request(nc, task('create'), { id: 'probe', spec: spec('sleep inf') });
  await request(nc, task('start'), { id: 'probe' });
  const stateBody = { id: 'probe' };
  const payload = JSON.stringify(stateBody);
  const job = { url: nats.url, body: payload, n: SIZE.seq, warmup: SIZE.warmup, window: WINDOW, ms: 0 };
  // state and echo requests alternate on one connection: both see the same machine.
  const paired = await load({ ...job, subject: task('state'), against: ECHO_SUBJECT });
  const stateLat = paired.latency as Latencies;
  const echoLat = paired.againstLatency as Latencies;
  for (let i = 0; i < SIZE.killWait; i++) {
    await pv.node.create({ id: `kw${i}`, spec: spec('sleep inf') });
    await pv.node.start({ id: `kw${i}` });
  }
  const killWait = await sequential(SIZE.killWait, 0, async (i) => {
    await request(nc, task('kill'), { id: `kw${i}`, signal: 9 });
    await request(nc, task('wait'), { id: `kw${i}` });
  });
  // The highest rate held over the in-flight windows tried, for each side.
  const best = async (subject: string) => {
    let top = { perSecond: 0, errors: 0, window: 0 };
    for (const window of WINDOWS) {
      const r = (await load({ ...job, subject, n: 0, ms: SIZE.tputMs, window })).rate as { perSecond: number; errors: number };
      if (r.perSecond > top.perSecond) top = { ...r, window };
    }
    return top;
  };
  const echoTput = await best(ECHO_SUBJECT);
  const stateTput = await best(task('state'));
  rows.push(
    { metric: 'state p50', value: stateLat.p50, unit: 'ms', baseline: echoLat.p50, baselineName: 'echo', target: 'info', pass: null },
    { metric: 'state p99', value: stateLat.p99, unit: 'ms', baseline: echoLat.p99, baselineName: 'echo', target: '≤ 1.5× echo', pass: stateLat.p99 <= 1.5 * echoLat.p99 },
    { metric: 'state p99.9', value: stateLat.p999, unit: 'ms', baseline: echoLat.p999, baselineName: 'echo', target: 'info', pass: null },
    { metric: 'kill then wait p99 (2 requests)', value: killWait.p99, unit: 'ms', baseline: 2 * echoLat.p99, baselineName: '2 echos', target: 'info', pass: null },
    { metric: `state throughput (best of ${WINDOWS.join('/')} in flight)`, value: stateTput.perSecond, unit: '/s', baseline: echoTput.perSecond, baselineName: 'echo', target: '≥ 20000/s', pass: stateTput.perSecond >= 20_000 && stateTput.errors === 0 },
  );

  // Exit events as a dashboard sees them: subscribed to the node's event subjects.
  const exits = new Map<string, (t: number) => void>();
  const live: EventEnvelope[] = [];
  nc.subscribe('podvisor.bench.events.>', {
    callback: (_e, m) => {
      const env = m.json() as EventEnvelope;
      live.push(env);
      if (env.topic === '/tasks/exit') exits.get((env.event as { containerId: string; id: string }).containerId + '/' + (env.event as { id: string }).id)?.(performance.now());
    },
  });
  await nc.flush();
  // Exit → event with the pods resident: the exec of pod i exits, its event is
  // timed to the subscriber, then (untimed) the exec is deleted and a new one
  // started in its place, so every pod keeps a running exec however many
  // samples are taken. The next sample starts once the sink is idle, so no
  // exit waits behind the replacement's own events (one event is in flight at
  // a time, by design).
  const execOf: string[] = [];
  let generation = 0;
  const exitOnce = async (i: number): Promise<number> => {
    const taskId = `p${i}a`;
    const execId = execOf[i] ?? 'x';
    const pid = (await pv.node.state({ id: taskId, execId })).pid;
    const arrived = new Promise<number>((r) => exits.set(`${taskId}/${execId}`, r));
    const t0 = performance.now();
    await backend.terminateProcess(taskId, pid);
    const latency = (await arrived) - t0;
    exits.delete(`${taskId}/${execId}`);
    await pv.node.delete({ id: taskId, execId });
    const next = `x${++generation}`;
    execOf[i] = next;
    await pv.node.exec({ id: taskId, execId: next, spec: { args: ['sh', '-c', 'sleep inf'] } });
    await pv.node.start({ id: taskId, execId: next });
    await pv.sink.drained();
    return latency;
  };
  const exitToEvent = async (pods: number, count: number): Promise<Latencies> => {
    const exitLat: number[] = [];
    for (let k = 0; k < count; k++) exitLat.push(await exitOnce(k % pods));
    return summarise(exitLat);
  };

  // 2. Memory per resident pod, and commands with every pod resident.
  await pv.sink.drained();
  settleHeap();
  const base = process.memoryUsage();
  let made = 0;
  const exitRows: Row[] = [];
  for (const n of SIZE.pods) {
    for (; made < n; made++) await residentPod(pv, made);
    await pv.sink.drained();
    live.length = 0; // the bench's own record of events is not the service's memory
    settleHeap();
    const now = process.memoryUsage();
    rows.push(
      { metric: `RSS per pod @ ${n}`, value: (now.rss - base.rss) / n / 1024, unit: 'KiB', baseline: 6 * 1024, baselineName: 'Go shim, perf.md', target: '≤ 128 KiB', pass: (now.rss - base.rss) / n / 1024 <= 128 },
      { metric: `heap per pod @ ${n}`, value: (now.heapUsed - base.heapUsed) / n / 1024, unit: 'KiB', baseline: 270 * 4, baselineName: 'conmon ×4, perf.md', target: '≤ 128 KiB', pass: (now.heapUsed - base.heapUsed) / n / 1024 <= 128 },
    );
    // The target is set with 1,000 pods resident, on a service past its JIT
    // warm-up (a node's exits come after it has run a while). The first exits
    // after the pods are made are shown for information, as is each other size.
    const first = await exitToEvent(n, SIZE.exitSamples);
    exitRows.push({ metric: `exit → event p99 @ ${n} pods, first ${first.n} exits`, value: first.p99, unit: 'ms', baseline: null, baselineName: '', target: 'info (JIT still warming)', pass: null });
    if (n === SIZE.pods[0]) await exitToEvent(n, SIZE.exitWarmup);
    const e = await exitToEvent(n, SIZE.exitSamples);
    exitRows.push({ metric: `exit → event p50 @ ${n} pods`, value: e.p50, unit: 'ms', baseline: null, baselineName: '', target: 'info', pass: null });
    exitRows.push({ metric: `exit → event p99 @ ${n} pods`, value: e.p99, unit: 'ms', baseline: null, baselineName: '', target: n === 1_000 ? '≤ 2 ms' : 'info', pass: n === 1_000 ? e.p99 <= 2 : null });
  }
  const resident = await load({ ...job, subject: task('state'), against: ECHO_SUBJECT });
  const residentState = resident.latency as Latencies;
  const residentEcho = resident.againstLatency as Latencies;
  rows.push({ metric: `state p99 @ ${made} pods`, value: residentState.p99, unit: 'ms', baseline: residentEcho.p99, baselineName: 'echo alongside', target: '≤ 1.5× echo', pass: residentState.p99 <= 1.5 * residentEcho.p99 });

  // 3. Exit to event (measured at each size above), then a burst of simultaneous exits.
  rows.push(...exitRows);
  const burst = Math.min(SIZE.exitSamples, made);
  const burstDone: Promise<number>[] = [];
  live.length = 0;
  for (let i = 0; i < burst; i++) burstDone.push(new Promise<number>((r) => exits.set(`p${i}b/p${i}b`, r)));
  const tb = performance.now();
  await Promise.all(Array.from({ length: burst }, async (_, i) => backend.terminateProcess(`p${i}b`, (await pv.node.state({ id: `p${i}b` })).pid)));
  const lastArrival = Math.max(...(await Promise.all(burstDone))) - tb;
  const orderOk = Array.from({ length: burst }, (_, i) => `p${i}b`).every((t) => {
    const mine = live.filter((e) => (e.event as { containerId: string }).containerId === t).map((e) => e.topic);
    return mine.length === 1 && mine[0] === '/tasks/exit';
  });
  rows.push({ metric: `burst of ${burst} exits, last event`, value: lastArrival, unit: 'ms', baseline: null, baselineName: '', target: '≤ 1000 ms, ordered', pass: lastArrival <= 1_000 && orderOk });

  // 4 and 5 (measured first, above).
  rows.push(...runc, ...spawn, cycled);

  printTable(rows);
  await nc.close();
  await echo.stop();
  await echoConn.close();
  await pv.stop();
  await backend.close();
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
  const failed = rows.filter((r) => r.pass === false).length;
  process.stdout.write(`\n${rows.filter((r) => r.pass === true).length} targets met, ${failed} missed\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
