/**
 * Issue 6 item 4: real containers. A busybox container's create+start
 * through podvisor (over NATS, runc backend) beside bare `runc run -d` in the
 * same run, and the cost of starting a process from a small and a large
 * heap: posix_spawn (what the runc backend uses) against child_process.spawn.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import { startPodvisor } from '../src/bus/server.ts';
import { runcUnusable } from '../src/cli/backend-choice.ts';
import { RuncBackend } from '../src/hcs/runc/backend.ts';
import { buildBusyboxRootfs } from '../src/hcs/runc/busybox.ts';
import { libc } from '../src/hcs/runc/libc.ts';
import { Reaper } from '../src/hcs/runc/reaper.ts';
import { runcConfig } from '../src/hcs/runc/spec.ts';
import { silentLogger } from '../src/log.ts';
import { summarise, type Row } from './stats.ts';

/**
 * create+start through podvisor against `runc run -d`. The target is
 * podvisor's steady-state overhead, not its JIT warm-up: the simulated pods
 * cycled first warm the actors, but the runc backend's own path (bundle,
 * relay, reaper) is warm only after a hundred or so containers of its own.
 * Measured from the first container, podvisor's create+start costs about
 * 6-7 ms over runc's; after 300, about 2 ms in a probe and 2-3 ms in the full
 * bench, against the ~1.7 ms posix_spawn saves over spawn().
 */
export async function runcCreateStartRows(natsUrl: string, nc: NatsConnection, quick: boolean): Promise<Row[]> {
  const why = runcUnusable('runc');
  if (why !== null) {
    return [{ metric: `runc (not measured: ${why})`, value: NaN, unit: 'ms', baseline: null, baselineName: '', target: '≤ 1.05×', pass: null }];
  }
  const dir = mkdtempSync(join(tmpdir(), 'podvisor-bench-runc-'));
  try {
    const rootfs = buildBusyboxRootfs(join(dir, 'rootfs'));
    // runc's own time varies by several ms from one container to the next, so
    // the two medians want more than a few dozen pairs to settle.
    const n = quick ? 5 : 120;
    // Interleaved, one of each per round, so drift on a shared machine hits both sides alike.
    const bare = await bareRuncRun(dir, rootfs);
    const ours = await podvisorCreateStart(natsUrl, nc, dir, rootfs);
    const bareMs: number[] = [];
    const oursMs: number[] = [];
    try {
      for (let i = 0; i < (quick ? 5 : WARMUP_CONTAINERS); i++) await ours.once(10_000 + i);
      for (let i = 0; i < n + WARMUP_ROUNDS; i++) {
        const b = await bare.once(i);
        const o = await ours.once(i);
        if (i >= WARMUP_ROUNDS) {
          // The first rounds warm the page cache and both code paths.
          bareMs.push(b);
          oursMs.push(o);
        }
      }
    } finally {
      await ours.close();
    }
    const bareP50 = summarise(bareMs).p50;
    const oursP50 = summarise(oursMs).p50;
    return [
      {
        metric: 'runc create+start via podvisor (p50)',
        value: oursP50,
        unit: 'ms',
        baseline: bareP50,
        baselineName: 'runc run -d',
        target: '≤ 1.05× runc run -d',
        pass: oursP50 <= 1.05 * bareP50,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const WARMUP_ROUNDS = 3;
/** Untimed containers through podvisor before the pairs (see above). */
const WARMUP_CONTAINERS = 150;

interface Sampler {
  /** Creates and starts container number `i`, returns the milliseconds that took, then removes it. */
  once(i: number): Promise<number>;
  close(): Promise<void>;
}

/** The baseline: `runc run -d` from a small process, as a person at a shell would run it. */
async function bareRuncRun(dir: string, rootfs: string): Promise<Sampler> {
  const root = join(dir, 'bare-root');
  const bundle = join(dir, 'bare-bundle');
  const config = runcConfig({ process: { args: ['sleep', '1000'] }, root: { path: rootfs }, linux: {} }, { id: 'bare', bundle: '', rootfs: null, cgroupParent: '/podvisor-bench' });
  mkdirSync(bundle, { recursive: true });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
  const runc = (args: string[]) =>
    new Promise<number | null>((resolve) => {
      const child = spawn('runc', ['--root', root, ...args], { stdio: 'ignore' });
      child.on('exit', (code) => resolve(code));
    });
  return {
    async once(i) {
      const t = performance.now();
      const code = await runc(['run', '-d', '--bundle', bundle, `bare${i}`]);
      const ms = performance.now() - t;
      if (code !== 0) throw new Error(`runc run -d exited ${code}`);
      await runc(['delete', '--force', `bare${i}`]);
      return ms;
    },
    close: async () => undefined,
  };
}

/** create + start requests over NATS to a podvisor node on the runc backend. */
async function podvisorCreateStart(natsUrl: string, nc: NatsConnection, dir: string, rootfs: string): Promise<Sampler> {
  const backend = new RuncBackend({ stateDir: join(dir, 'state'), cgroupParent: '/podvisor-bench' });
  const pv = await startPodvisor({ backend, log: silentLogger(), stateDir: join(dir, 'pv'), natsUrl, node: 'benchrunc', prefix: 'podvisor' });
  const call = async (op: string, body: unknown): Promise<void> => {
    const m = await nc.request(`podvisor.benchrunc.task.${op}`, JSON.stringify(body), { timeout: 30_000 });
    if (m.headers?.get('Nats-Service-Error-Code')) throw new Error(`${op}: ${m.string()}`);
  };
  return {
    async once(i) {
      const id = `r${i}`;
      const t = performance.now();
      await call('create', { id, spec: { process: { args: ['sleep', '1000'] }, root: { path: rootfs }, linux: {} } });
      await call('start', { id });
      const ms = performance.now() - t;
      await call('kill', { id, signal: 9 });
      await call('wait', { id });
      await call('delete', { id });
      return ms;
    },
    async close() {
      await pv.stop();
      await backend.close();
    },
  };
}

/**
 * Starting `true` with posix_spawn and with child_process.spawn, from a heap
 * of about 50 MB and one of about 1 GB: fork() copies page tables in
 * proportion to the heap, posix_spawn (vfork-like) does not.
 */
export async function spawnFlatnessRows(quick: boolean): Promise<Row[]> {
  if (process.platform !== 'linux') return [];
  const reaper = new Reaper();
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
  const n = quick ? 20 : 100;
  const measure = async (): Promise<{ posix: number; node: number }> => {
    const posix: number[] = [];
    const node: number[] = [];
    for (let i = 0; i < n; i++) {
      let t = performance.now();
      const pid = libc().posixSpawn(['true'], env, [0, 1, 2]);
      posix.push(performance.now() - t);
      await reaper.wait(pid);
      t = performance.now();
      const child = spawn('true', { stdio: 'ignore' });
      node.push(performance.now() - t);
      await new Promise((r) => child.on('exit', r));
    }
    return { posix: summarise(posix).p50, node: summarise(node).p50 };
  };
  try {
    const small = await measure();
    const ballast: number[][] = [];
    const targetMb = quick ? 300 : 1024;
    // Plain arrays of doubles: about 8 bytes a slot, all of it live heap.
    while (process.memoryUsage().heapUsed < targetMb * 1024 * 1024) ballast.push(new Array<number>(1 << 20).fill(Math.random()));
    const heapMb = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
    const large = await measure();
    ballast.length = 0;
    return [
      {
        metric: `posix_spawn p50 @ ${heapMb} MB heap (runc backend)`,
        value: large.posix,
        unit: 'ms',
        baseline: small.posix,
        baselineName: 'same, small heap',
        target: '≤ 1.5× (flat)',
        pass: large.posix <= 1.5 * small.posix + 0.05,
      },
      {
        metric: `child_process.spawn p50 @ ${heapMb} MB heap`,
        value: large.node,
        unit: 'ms',
        baseline: small.node,
        baselineName: 'same, small heap',
        target: 'info (what podvisor avoids)',
        pass: null,
      },
    ];
  } finally {
    await reaper.close();
  }
}
