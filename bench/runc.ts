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
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/nats-core';
import { startPodvisor, type Podvisor } from '../src/bus/server.ts';
import { runcUnusable } from '../src/cli/backend-choice.ts';
import { RuncBackend } from '../src/hcs/runc/backend.ts';
import { buildBusyboxRootfs } from '../src/hcs/runc/busybox.ts';
import { libc } from '../src/hcs/runc/libc.ts';
import { Reaper } from '../src/hcs/runc/reaper.ts';
import { Runc } from '../src/hcs/runc/runc.ts';
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
 * The baseline is runc started the way a shell or Go's os/exec starts it
 * (posix_spawn, no copy of the parent's page tables), and every sample, on
 * either side, starts after the same idle pause: a runc started straight
 * after the previous one runs about 4 ms faster than one started on an idle
 * machine (docs/performance.md), so back-to-back samples would favour
 * whichever side starts runc sooner. Beside it, for information: the same
 * runc through child_process.spawn (what a Node controller pays to run runc
 * itself), two round trips to a bare NATS echo service after the same pause
 * (the least any controller pays for create and start over NATS), and the
 * baseline again straight after its own delete, with no pause (what the pause
 * is for).
 *
 * The target row's controller is the bench's own thread; a second set, for
 * information, has the controller in a process of its own, as a real one is.
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
  const runc = new Runc(reaper, { binary: 'runc', root: join(dir, 'bare-root') });
  let pv: Podvisor | undefined;
  try {
    pv = await startPodvisor({ backend, log: silentLogger(), stateDir: join(dir, 'pv'), natsUrl, node: RUNC_NODE, prefix: 'podvisor' });
    const rootfs = buildBusyboxRootfs(join(dir, 'rootfs'));
    // runc's own time varies by several ms from one container to the next, so
    // the medians want more than a few dozen rounds to settle.
    const sizes = { warmup: quick ? 5 : WARMUP_CONTAINERS, rounds: quick ? 5 : 120 };
    const here = await rounds(samplers(nc, dir, 'here', rootfs, runc, reaper), sizes);
    const apart = await roundsInOwnProcess({ url: natsUrl, dir, rootfs, ...sizes });
    return [
      ...runcRows('runc create+start via podvisor (p50)', here, '≤ 1.05× runc run -d', true),
      ...runcRows('same, controller in its own process (p50)', apart, 'info', false),
    ];
  } finally {
    await pv?.stop();
    await backend.close();
    runc.close();
    await reaper.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The node the runc rows' service answers as. */
export const RUNC_NODE = 'benchrunc';
/** The subject of the bench's bare NATS echo service (served by bench/run.ts). */
export const ECHO_SUBJECT = 'bench.echo';
const WARMUP_ROUNDS = 3;
/** Untimed containers through podvisor before the rounds (see above). */
const WARMUP_CONTAINERS = 150;
/** Idle time before every sample: past the ~5 ms after which runc no longer runs at its back-to-back speed. */
export const PAUSE_MS = 25;

/** The container every side creates: busybox's sleep, which outlives the sample. */
const sleeper = (rootfs: string): OciSpec => ({ process: { args: ['sleep', '1000'] }, root: { path: rootfs }, linux: {} });

interface Sampler {
  /** Creates and starts container number `i`, returns the milliseconds that took, then removes it. */
  once(i: number): Promise<number>;
}

/** What each round times: the baseline, podvisor, and the two references beside them. */
export const SIDES = ['bare', 'ours', 'node', 'floor'] as const;
/** `backToBack`: the baseline again, straight after its own delete, to show what the pause is for. */
export type RoundSamples = Record<(typeof SIDES)[number] | 'backToBack', number[]>;

export function samplers(nc: NatsConnection, dir: string, name: string, rootfs: string, runc: Runc, reaper: Reaper): Record<(typeof SIDES)[number], Sampler> {
  return {
    bare: sampleRunc(dir, name, rootfs, runc, reaper),
    ours: samplePodvisor(nc, name, rootfs),
    node: sampleRuncChildProcess(dir, name, rootfs, reaper),
    floor: sampleEchoFloor(nc, rootfs),
  };
}

function runcRows(metric: string, s: RoundSamples, target: string, judged: boolean): Row[] {
  const bare = summarise(s.bare).p50;
  const ours = summarise(s.ours).p50;
  const share = (ms: number) => `info: ${((100 * ms) / bare).toFixed(1)} % of runc's p50`;
  // The paired difference says what podvisor adds with runc's own spread taken out.
  const diff = summarise(s.ours.map((o, i) => o - (s.bare[i] as number))).p50;
  const floor = summarise(s.floor).p50;
  return [
    { metric, value: ours, unit: 'ms', baseline: bare, baselineName: 'runc run -d', target, pass: judged ? ours <= 1.05 * bare : null },
    { metric: '  podvisor − runc run -d, paired, p50', value: diff, unit: 'ms', baseline: null, baselineName: '', target: share(diff), pass: null },
    { metric: '  NATS alone: the 2 requests to an echo, p50', value: floor, unit: 'ms', baseline: null, baselineName: '', target: share(floor), pass: null },
    { metric: '  podvisor against runc via child_process.spawn', value: ours, unit: 'ms', baseline: summarise(s.node).p50, baselineName: 'Node spawn', target: 'info', pass: null },
    { metric: '  runc run -d straight after the last one, no pause', value: summarise(s.backToBack).p50, unit: 'ms', baseline: bare, baselineName: 'after the pause', target: 'info (why the pause)', pass: null },
  ];
}

/**
 * Round-robin, one sample of each side per round, each after the same idle
 * pause, with the order rotating so that no side always follows another; the
 * baseline's back-to-back sample follows its own, with no pause.
 */
export async function rounds(sides: Record<(typeof SIDES)[number], Sampler>, sizes: { warmup: number; rounds: number }): Promise<RoundSamples> {
  const out: RoundSamples = { bare: [], ours: [], node: [], floor: [], backToBack: [] };
  for (let i = 0; i < sizes.warmup; i++) await sides.ours.once(10_000 + i);
  for (let i = 0; i < sizes.rounds + WARMUP_ROUNDS; i++) {
    for (let j = 0; j < SIDES.length; j++) {
      const side = SIDES[(i + j) % SIDES.length] as (typeof SIDES)[number];
      await sleep(PAUSE_MS);
      const ms = await sides[side].once(i);
      const again = side === 'bare' ? await sides.bare.once(100_000 + i) : NaN;
      // The first rounds warm the page cache and every code path.
      if (i < WARMUP_ROUNDS) continue;
      out[side].push(ms);
      if (side === 'bare') out.backToBack.push(again);
    }
  }
  return out;
}

/** The bundle both bare samplers run: the same spec podvisor is sent. */
function bareBundle(dir: string, name: string, rootfs: string): string {
  const bundle = join(dir, `bare-bundle-${name}`);
  mkdirSync(bundle, { recursive: true });
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(runcConfig(sleeper(rootfs), { id: 'bare', bundle: '', rootfs: null, cgroupParent: '/podvisor-bench' })));
  return bundle;
}

/** Runs `runc ARGS` in the sampler's root; `capture` pipes stdout and resolves with it. */
type RuncCli = (args: string[], capture: boolean) => Promise<string>;

/**
 * One bare `runc run -d`, timed, then removed. The container's process
 * becomes the controller's child when runc exits (the controller is a child
 * subreaper, as podvisor is), so it is reaped here, untimed, after the delete.
 * `run` gets no pipe: the container inherits its stdio, and would hold it open.
 */
function bareSampler(prefix: string, bundle: string, runc: RuncCli, reaper: Reaper): Sampler {
  return {
    async once(i) {
      const id = `${prefix}${i}`;
      const t = performance.now();
      await runc(['run', '--detach', '--bundle', bundle, id], false);
      const ms = performance.now() - t;
      const { pid } = JSON.parse(await runc(['state', id], true)) as { pid: number };
      const exited = reaper.wait(pid);
      await runc(['delete', '--force', id], true);
      await exited;
      return ms;
    },
  };
}

/**
 * The baseline: `runc run -d` as a shell runs it, started with posix_spawn
 * (podvisor's own Runc class, without podvisor's log and pid files).
 */
export function sampleRunc(dir: string, name: string, rootfs: string, runc: Runc, reaper: Reaper): Sampler {
  const quiet = [runc.devNullFd, runc.devNullFd, runc.devNullFd] as const;
  return bareSampler('bare', bareBundle(dir, `${name}-spawn`, rootfs), (args, capture) => (capture ? runc.run(args) : runc.run(args, { stdio: quiet })), reaper);
}

/** The same `runc run -d` through child_process.spawn, which copies the controller's page tables. */
export function sampleRuncChildProcess(dir: string, name: string, rootfs: string, reaper: Reaper): Sampler {
  const root = join(dir, `node-root-${name}`);
  const runc: RuncCli = (args, capture) =>
    new Promise((resolve, reject) => {
      const child = spawn('runc', ['--root', root, ...args], { stdio: ['ignore', capture ? 'pipe' : 'ignore', 'ignore'] });
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.once('error', reject);
      child.on(capture ? 'close' : 'exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`runc ${args[0] ?? ''} exited ${code}`))));
    });
  return bareSampler('node', bareBundle(dir, `${name}-node`, rootfs), runc, reaper);
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

/** The create and start requests' payloads, sent to the bare echo service instead. */
export function sampleEchoFloor(nc: NatsConnection, rootfs: string): Sampler {
  return {
    async once(i) {
      const id = `floor${i}`;
      const t = performance.now();
      await nc.request(ECHO_SUBJECT, JSON.stringify({ id, spec: sleeper(rootfs) }), { timeout: 30_000 });
      await nc.request(ECHO_SUBJECT, JSON.stringify({ id }), { timeout: 30_000 });
      return performance.now() - t;
    },
  };
}

/** The same rounds, with the controller (the NATS client and the shell's runc alike) in a process of its own. */
function roundsInOwnProcess(job: RuncControllerJob): Promise<RoundSamples> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', fileURLToPath(new URL('../src/register-ts.mjs', import.meta.url)), fileURLToPath(new URL('./runc-controller.ts', import.meta.url)), JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code !== 0) return reject(new Error(`the runc controller exited ${code}`));
      resolve(JSON.parse(out) as RoundSamples);
    });
  });
}

export interface RuncControllerJob {
  url: string;
  dir: string;
  rootfs: string;
  warmup: number;
  rounds: number;
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
