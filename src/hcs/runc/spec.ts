import { isAbsolute, join } from 'node:path';
import { BackendError } from '../backend.ts';
import type { OciMount, OciProcess, OciSpec } from '../../oci.ts';

/**
 * Completes a podvisor spec into one runc accepts. A controller may send a
 * full OCI spec (as containerd's clients do) or only what differs from the
 * defaults (as the simulator allows: a process and a root); whatever it leaves
 * out is filled with what `runc spec` would have written, so the very same
 * spec runs on the simulator and on runc. Nothing the caller set is changed,
 * except the root path, which becomes absolute because the bundle runc sees is
 * podvisor's own.
 */
export function runcConfig(spec: OciSpec, opts: { id: string; bundle: string; rootfs: string | null; cgroupParent: string }): Record<string, unknown> {
  if (spec.windows !== undefined && spec.windows !== null) {
    throw new BackendError('not-supported', 'the runc backend runs Linux containers only; this spec is for Windows');
  }
  const root = rootPath(spec, opts.bundle, opts.rootfs);
  const linux: Record<string, unknown> = { ...(spec.linux ?? {}) };
  linux['namespaces'] ??= ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type }));
  linux['maskedPaths'] ??= MASKED_PATHS;
  linux['readonlyPaths'] ??= READONLY_PATHS;
  // A known cgroup path lets podvisor (and its tests) find the container's limits.
  linux['cgroupsPath'] ??= `${opts.cgroupParent}/${opts.id}`;
  return {
    ...spec,
    ociVersion: spec.ociVersion ?? '1.0.2',
    process: runcProcess(spec.process ?? {}),
    root: { path: root, readonly: spec.root?.readonly ?? false },
    hostname: spec.hostname ?? opts.id.slice(0, 63),
    mounts: spec.mounts ?? DEFAULT_MOUNTS,
    linux,
  };
}

/** A process as runc wants it: user, env and cwd filled, terminal explicit. */
export function runcProcess(p: OciProcess, terminal?: boolean): OciProcess {
  if (!Array.isArray(p.args) || p.args.length === 0) {
    throw new BackendError('invalid-argument', 'process.args must name a program to run (commandLine is for Windows)');
  }
  return {
    ...p,
    terminal: terminal ?? p.terminal ?? false,
    user: p.user ?? { uid: 0, gid: 0 },
    env: p.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
    cwd: p.cwd ?? '/',
    capabilities: p['capabilities'] ?? { bounding: CAPS, effective: CAPS, permitted: CAPS },
    noNewPrivileges: p['noNewPrivileges'] ?? true,
  };
}

function rootPath(spec: OciSpec, bundle: string, rootfs: string | null): string {
  if (rootfs !== null) return rootfs;
  const path = spec.root?.path;
  if (path === undefined || path === '') throw new BackendError('invalid-argument', 'spec.root.path is empty and no rootfs mounts were given');
  if (isAbsolute(path)) return path;
  if (bundle === '') throw new BackendError('invalid-argument', `spec.root.path '${path}' is relative, and there is no bundle to resolve it against`);
  return join(bundle, path);
}

// What `runc spec` grants: the capabilities Docker leaves a default container.
const CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/sys/firmware',
  '/proc/scsi',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const DEFAULT_MOUNTS: OciMount[] = [
  { destination: '/proc', type: 'proc', source: 'proc' },
  { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
  { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
  { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
  { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
];
