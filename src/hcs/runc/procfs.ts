import { readFileSync, readdirSync } from 'node:fs';
import { basename } from 'node:path';
import { formatTimestamp } from '../../clock.ts';
import type { ProcessDetails } from '../backend.ts';

/**
 * Reads what /proc says of the processes `runc ps` listed, as seed 004 does:
 * running processes come from runc (the container's cgroup), zombies are found
 * as children of those that have exited and not been reaped, and processes
 * podvisor started (the init and the execs) are marked created by the runtime.
 */
export function describeProcesses(running: readonly number[], created: ReadonlySet<number>): ProcessDetails[] {
  const out = new Map<number, ProcessDetails>();
  for (const pid of running) {
    const d = describe(pid, created);
    if (d !== null) out.set(pid, d);
  }
  // A zombie has left its cgroup, so runc cannot list it; its parent still names it.
  for (const pid of running) {
    for (const child of childrenOf(pid)) {
      if (out.has(child)) continue;
      const d = describe(child, created);
      if (d !== null && d.state === 'zombie') out.set(child, d);
    }
  }
  for (const pid of created) {
    if (out.has(pid)) continue;
    const d = describe(pid, created);
    if (d !== null && d.state === 'zombie') out.set(pid, d);
  }
  return [...out.values()].sort((a, b) => a.pid - b.pid);
}

function describe(pid: number, created: ReadonlySet<number>): ProcessDetails | null {
  const stat = readStat(pid);
  if (stat === null) return null; // gone between the listing and now
  let image = stat.comm;
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    if (argv0) image = basename(argv0);
  } catch {
    // A zombie has no command line left; its comm is what remains.
  }
  return {
    pid,
    imageName: image,
    createdAt: formatTimestamp(bootTimeNs() + (BigInt(stat.startTicks) * 1_000_000_000n) / TICKS_PER_SECOND),
    state: stat.state === 'Z' ? 'zombie' : 'running',
    createdByRuntime: created.has(pid),
    userTime100ns: Math.round((stat.utime * 1e7) / Number(TICKS_PER_SECOND)),
    kernelTime100ns: Math.round((stat.stime * 1e7) / Number(TICKS_PER_SECOND)),
    memoryWorkingSetPrivateBytes: stat.rssPages * 4096,
  };
}

interface Stat {
  comm: string;
  state: string;
  utime: number;
  stime: number;
  startTicks: number;
  rssPages: number;
}

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm is parenthesised and may itself hold spaces and parentheses.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // Fields after comm, counted from 0 = state (field 3 of proc(5)).
  return { comm, state: f[0] ?? '?', utime: Number(f[11]), stime: Number(f[12]), startTicks: Number(f[19]), rssPages: Number(f[21]) };
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') out.push(...text.split(' ').map(Number));
    }
  } catch {
    // The parent exited meanwhile: its children are someone else's now.
  }
  return out;
}

// USER_HZ is 100 on every Linux architecture Node runs on.
const TICKS_PER_SECOND = 100n;
let boot: bigint | undefined;
function bootTimeNs(): bigint {
  if (boot === undefined) {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('btime '));
    boot = BigInt(line?.split(' ')[1] ?? '0') * 1_000_000_000n;
  }
  return boot;
}
