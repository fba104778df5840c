/**
 * The lifecycle suite runs once per backend: the simulated HCS (virtual time),
 * runc (real containers on a busybox root, real time) and HCS through koffi
 * against the native simulator (real time). A backend that
 * cannot exist on this machine is skipped with its reason printed; CI installs
 * runc and busybox-static and runs as root, so there it runs.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { expect } from 'vitest';
import { MemorySink } from '../../src/actors/memory-sink.ts';
import { Node } from '../../src/actors/node.ts';
import type { StdioOpener } from '../../src/actors/stdio.ts';
import { RealClock, VirtualClock, settle } from '../../src/clock.ts';
import type { Backend } from '../../src/hcs/backend.ts';
import { HcsBackend } from '../../src/hcs/computecore/backend.ts';
import { SIMULATOR_LIBRARY, simulatorControl } from '../../src/hcs/computecore/simulator.ts';
import { RuncBackend } from '../../src/hcs/runc/backend.ts';
import { SimBackend } from '../../src/hcs/sim/backend.ts';
import { silentLogger } from '../../src/log.ts';
import { childProcesses } from './processes.ts';
import { TEST_ROOTFS } from './rootfs.ts';

export { childProcesses };

export type BackendKind = 'sim' | 'runc' | 'hcs';

export { TEST_ROOTFS };

/** Why runc cannot run here, or null when it can. */
export const RUNC_UNUSABLE: string | null = whyNoRunc();

function whyNoRunc(): string | null {
  if (process.platform !== 'linux') return 'runc needs Linux';
  if (process.getuid?.() !== 0) return 'runc containers need root';
  try {
    execFileSync('runc', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'runc is not installed (apt-get install runc)';
  }
  if (!existsSync(join(TEST_ROOTFS, 'bin', 'busybox'))) return `no busybox root at ${TEST_ROOTFS} (apt-get install busybox-static)`;
  return null;
}

export const BACKENDS: BackendKind[] = ['sim', 'runc', 'hcs'];

export function unusable(kind: BackendKind): string | null {
  if (kind === 'runc') return RUNC_UNUSABLE;
  if (kind === 'hcs') return existsSync(SIMULATOR_LIBRARY) ? null : `the native HCS simulator is not built (${SIMULATOR_LIBRARY}; needs a C compiler)`;
  return null;
}

export interface LiveHarness {
  kind: BackendKind;
  /** Where the containers' cgroups are (runc only). */
  cgroupParent?: string;
  /** runc's --root for this harness's backend (runc only). */
  runcRoot?: string;
  node: Node;
  backend: Backend;
  sink: MemorySink;
  /** Lets time pass: virtual on the simulator, real (polled) on runc. */
  until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs?: number): Promise<void>;
  /** Closes everything and asserts nothing was left: systems, containers, processes, fds, mounts. */
  close(): Promise<void>;
}

export function liveHarness(kind: BackendKind, options: { openStdio?: StdioOpener } = {}): LiveHarness {
  const sink = new MemorySink();
  if (kind === 'sim') {
    const clock = new VirtualClock();
    const backend = new SimBackend({ clock });
    const node = new Node({ backend, sink, log: silentLogger(), clock, ...(options.openStdio ? { openStdio: options.openStdio } : {}) });
    return {
      kind,
      node,
      backend,
      sink,
      until: (condition, what, timeoutMs) => poll(condition, what, timeoutMs, () => clock.advance(10)),
      async close() {
        await node.close();
        expect(backend.openSystems).toBe(0);
        await backend.close();
        await settle(2);
      },
    };
  }
  if (kind === 'hcs') return hcsHarness(options);
  const fdsBefore = openFds();
  const stateDir = mkdtempSync(join(tmpdir(), 'podvisor-runc-'));
  const clock = new RealClock();
  // Test files run in parallel and reuse ids: each harness gets cgroups of its own.
  const cgroupParent = `/podvisor-test/${basename(stateDir)}`;
  const backend = new RuncBackend({ stateDir, cgroupParent });
  const node = new Node({ backend, sink, log: silentLogger(), clock, ...(options.openStdio ? { openStdio: options.openStdio } : {}) });
  return {
    kind,
    node,
    backend,
    sink,
    cgroupParent,
    runcRoot: join(stateDir, 'runc'),
    until: (condition, what, timeoutMs) => poll(condition, what, timeoutMs, () => new Promise((r) => setTimeout(r, 10))),
    async close() {
      // Everything is released before anything is asserted, so one failed test cannot leak into the next.
      await node.close();
      const openSystems = backend.openSystems;
      const containers = await backend.runcContainers().catch((err: Error) => [err.message]);
      await backend.close();
      const children = childProcesses();
      const mounted = readFileSync('/proc/self/mountinfo', 'utf8').includes(stateDir);
      // Sockets close on the next turn of the loop.
      await new Promise((r) => setTimeout(r, 20));
      const fds = openFds();
      rmSync(stateDir, { recursive: true, force: true });
      removeCgroups(cgroupParent);
      expect({ openSystems, containers, children, mounted, fds }).toEqual({ openSystems: 0, containers: [], children: [], mounted: false, fds: fdsBefore });
    },
  };
}

/** HCS through koffi against the native simulator, in real time; it counts its own handles and threads. */
function hcsHarness(options: { openStdio?: StdioOpener }): LiveHarness {
  const sink = new MemorySink();
  const clock = new RealClock();
  const backend = new HcsBackend({ clock });
  const node = new Node({ backend, sink, log: silentLogger(), clock, ...(options.openStdio ? { openStdio: options.openStdio } : {}) });
  return {
    kind: 'hcs',
    node,
    backend,
    sink,
    until: (condition, what, timeoutMs) => poll(condition, what, timeoutMs, () => new Promise((r) => setTimeout(r, 10))),
    async close() {
      await node.close();
      const openSystems = backend.openSystems;
      await backend.close();
      const c = simulatorControl();
      await poll(() => c.liveThreads() === 0, 'the simulator threads to end', 8000, () => new Promise((r) => setTimeout(r, 10)));
      expect({ openSystems, handles: c.openHandles(), strings: c.outstandingStrings(), systems: c.systems() }).toEqual({ openSystems: 0, handles: 0, strings: 0, systems: 0 });
    },
  };
}

/** Removes a harness's (empty) cgroup directories in every v1 hierarchy and the unified one. */
function removeCgroups(parent: string): void {
  for (const hierarchy of readdirSync('/sys/fs/cgroup')) {
    try {
      rmdirSync(join('/sys/fs/cgroup', hierarchy, parent));
    } catch {
      // Not in this hierarchy (or a symlinked alias already handled).
    }
  }
}

/** Polls `condition` every 10 ms of the harness's time, virtual or real. */
async function poll(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000, tick: () => Promise<unknown>): Promise<void> {
  for (let waited = 0; !(await condition()); waited += 10) {
    if (waited > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

function openFds(): string[] {
  return readdirSync('/proc/self/fd')
    .map((fd) => {
      try {
        return `${fd} ${readlinkSafe(`/proc/self/fd/${fd}`)}`;
      } catch {
        return '';
      }
    })
    .filter((s) => s !== '' && !s.includes('/proc/') && !s.startsWith(' '))
    .sort();
}

function readlinkSafe(path: string): string {
  return readlinkSync(path);
}
