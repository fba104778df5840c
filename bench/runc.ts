/**
 * Issue 6 item 4: real containers. A busybox container's create+start
 * through podvisor (over NATS, runc backend) beside bare `runc run -d` in the
 * same run, and the cost of starting a process from a small and a large
 * heap: posix_spawn (what the runc backend uses) against child_process.spawn.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/nats-core';
import { startPodvisor, type Podvisor } from '../src/bus/server.ts';
import { runcUnusable } from '../src/cli/backend-choice.ts';
import { RuncBackend } from '../src/hcs/runc/backend.ts';
import { buildBusyboxRootfs } from '../src/hcs/runc/busybox.ts';
import { libc } from '../src/hcs/runc/libc.ts';
import { Reaper } from '../src/hcs/runc/reaper.ts';
import { runcConfig } from '../src/hcs/runc/spec.ts';
import { silentLogger } from '../src/log.ts';
import type { OciSpec } from '../src/oci.ts';
import { summarise, type Row } from './stats.ts';

/**
 * create+start through podvisor against `runc run -d`. The target is
 * podvisor's steady-state overhead, not its JIT warm-up: the simulated pods
 * cycled first warm the actors, but the runc backend's own path (bundle,
 * relay, reaper) is warm only after a hundred or so containers of its own.
 *
 * The target row's controller is the bench's own thread, as in every run
 * before; a second row, for information, has the controller in a process of
 * its own, as a real one is (docs/performance.md has what separates them).
 * Both sides keep their state on a tmpfs when the machine has one, as runc
 * (/run/runc) and containerd (/run/containerd) do on a host.
 */
export async function runcCreateStartRows(natsUrl: string, nc: NatsConnection, quick: boolean): Promise<Row[]> {
  const why = runcUnusable('runc');
  if (why !== null) {
    return [{ metric: `runc (not measured: ${why})`, value: NaN, unit: 'ms', baseline: null, baselineName: '', target: '≤ 1.05×', pass: null }];
  }
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'podvisor-bench-runc-'));
  const backend = new RuncBackend({ stateDir: join(dir, 'state'), cgroupParent: '/podvisor-bench' });
  const reaper = new Reaper();
  let pv: Podvisor | undefined;
  try {
    pv = await startPodvisor({ backend, log: silentLogger(), stateDir: join(dir, 'pv'), natsUrl, node: RUNC_NODE, prefix: 'podvisor' });
    const rootfs = buildBusyboxRootfs(join(dir, 'rootfs'));
    // runc's own time varies by several ms from one container to the next, so
    // the two medians want more than a few dozen pairs to settle.
    const sizes = { warmup: quick ? 5 : WARMUP_CONTAINERS, pairs: quick ? 5 : 120 };
    const here = await pairs(sampleRunc(dir, 'here', rootfs, reaper), samplePodvisor(nc, 'here', rootfs), sizes);
    const apart = await pairsInOwnProcess({ url: natsUrl, dir, rootfs, ...sizes });
    return [
      ...pairRows('runc create+start via podvisor (p50)', here, '≤ 1.05× runc run -d', true),
      ...pairRows('same, controller in its own process (p50)', apart, 'info', false),
    ];
  } finally {
    await pv?.stop();
    await backend.close();
    await reaper.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The node the runc rows' service answers as. */
export const RUNC_NODE = 'benchrunc';
const WARMUP_ROUNDS = 3;
/** Untimed containers through podvisor before the pairs (see above). */
const WARMUP_CONTAINERS = 150;

/** The container both sides create: busybox's sleep, which outlives the sample. */
const sleeper = (rootfs: string): OciSpec => ({ process: { args: ['sleep', '1000'] }, root: { path: rootfs }, linux: {} });

export interface PairSamples {
  bare: number[];
  ours: number[];
}

function pairRows(metric: string, s: PairSamples, target: string, judged: boolean): Row[] {
  const bare = summarise(s.bare).p50;
  const ours = summarise(s.ours).p50;
  // The paired difference says what podvisor adds with runc's own spread taken out.
  const diff = summarise(s.ours.map((o, i) => o - (s.bare[i] as number))).p50;
  return [
    { metric, value: ours, unit: 'ms', baseline: bare, baselineName: 'runc run -d', target, pass: judged ? ours <= 1.05 * bare : null },
    { metric: '  podvisor − runc run -d, paired, p50', value: diff, unit: 'ms', baseline: null, baselineName: '', target: `info: ${((100 * diff) / bare).toFixed(1)} % of runc's p50`, pass: null },
  ];
}

interface Sampler {
  /** Creates and starts container number `i`, returns the milliseconds that took, then removes it. */
  once(i: number): Promise<number>;
}

/** Interleaved, one of each per round, so drift on a shared machine hits both sides alike. */
export async function pairs(bare: Sampler, ours: Sampler, sizes: { warmup: number; pairs: number }): Promise<PairSamples> {
  const out: PairSamples = { bare: [], ours: [] };
  for (let i = 0; i < sizes.warmup; i++) await ours.once(10_000 + i);
  for (let i = 0; i < sizes.pairs + WARMUP_ROUNDS; i++) {
    const b = await bare.once(i);
    const o = await ours.once(i);
    // The first rounds warm the page cache and both code paths.
    if (i >= WARMUP_ROUNDS) {
      out.bare.push(b);
      out.ours.push(o);
    }
  }
  return out;
}

/**
 * The baseline: `runc run -d` from a small process, as a person at a shell
 * would run it. The container's process becomes the controller's child when
 * runc exits (the controller is a child subreaper, as podvisor is), so it is
 * reaped here, untimed, after the delete.
 */
export function sampleRunc(dir: string, name: string, rootfs: string, reaper: Reaper): Sampler {
  const root = join(dir, `bare-root-${name}`);
  const bundle = join(dir, `bare-bundle-${name}`);
  const config = runcConfig(sleeper(rootfs), { id: 'bare', bundle: '', rootfs: null, cgroupParent: '/podvisor-bench' });
  mkdirSync(bundle, { recursive: true });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
  // Only `state` gets a pipe: the container inherits `run`'s stdio, and would hold a pipe open.
  const runc = (args: string[], stdout: 'ignore' | 'pipe' = 'ignore') =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('runc', ['--root', root, ...args], { stdio: ['ignore', stdout, 'ignore'] });
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.on(stdout === 'pipe' ? 'close' : 'exit', (code) => resolve({ code, out }));
    });
  return {
    async once(i) {
      const id = `bare${i}`;
      const t = performance.now();
      const { code } = await runc(['run', '-d', '--bundle', bundle, id]);
      const ms = performance.now() - t;
      if (code !== 0) throw new Error(`runc run -d exited ${code}`);
      const pid = (JSON.parse((await runc(['state', id], 'pipe')).out) as { pid: number }).pid;
      const exited = reaper.wait(pid);
      await runc(['delete', '--force', id]);
      await exited;
      return ms;
    },
  };
}

/** create + start requests over NATS to the podvisor node on the runc backend. */
export function samplePodvisor(nc: NatsConnection, name: string, rootfs: string): Sampler {
  const call = async (op: string, body: unknown): Promise<void> => {
    const m = await nc.request(`podvisor.${RUNC_NODE}.task.${op}`, JSON.stringify(body), { timeout: 30_000 });
    if (m.headers?.get('Nats-Service-Error-Code')) throw new Error(`${op}: ${m.string()}`);
  };
  return {
    async once(i) {
      const id = `${name}${i}`;
      const t = performance.now();
      await call('create', { id, spec: sleeper(rootfs) });
      await call('start', { id });
      const ms = performance.now() - t;
      await call('kill', { id, signal: 9 });
      await call('wait', { id });
      await call('delete', { id });
      return ms;
    },
  };
}

/** The same pairs, with the controller (the NATS client and the shell's runc alike) in a process of its own. */
function pairsInOwnProcess(job: RuncControllerJob): Promise<PairSamples> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', fileURLToPath(new URL('../src/register-ts.mjs', import.meta.url)), fileURLToPath(new URL('./runc-controller.ts', import.meta.url)), JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the runc controller exited ${code}`));
      resolve(JSON.parse(out) as PairSamples);
    });
  });
}

export interface RuncControllerJob {
  url: string;
  dir: string;
  rootfs: string;
  warmup: number;
  pairs: number;
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
