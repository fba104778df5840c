import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RootfsMount } from '../../events.ts';
import { BackendError } from '../backend.ts';
import { libc, MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, MS_REMOUNT } from './libc.ts';

const FLAG_OPTIONS: Record<string, number> = {
  ro: MS_RDONLY,
  nosuid: 2,
  nodev: 4,
  noexec: 8,
  bind: MS_BIND,
  rbind: MS_BIND | MS_REC,
};
const IGNORED_OPTIONS = new Set(['rw', 'defaults']);

/**
 * Mounts a create request's rootfs mounts under `dir`, in order, as
 * containerd's shim does before it calls runc; returns what to unmount, last
 * first. A mount that fails unmounts the ones before it and changes nothing.
 */
export function mountRootfs(dir: string, mounts: readonly RootfsMount[]): string[] {
  const c = libc();
  const done: string[] = [];
  mkdirSync(dir, { recursive: true });
  try {
    mounts.forEach((m, i) => {
      if (m.type === '' || m.source === '') throw new BackendError('invalid-argument', `rootfs[${i}]: type and source are required`);
      const target = m.target === '' ? dir : join(dir, m.target);
      let flags = 0;
      const data: string[] = [];
      for (const o of m.options) {
        const flag = FLAG_OPTIONS[o];
        if (flag !== undefined) flags |= flag;
        else if (!IGNORED_OPTIONS.has(o)) data.push(o);
      }
      const bind = m.type === 'bind' || (flags & MS_BIND) !== 0;
      if (bind) flags |= MS_BIND;
      // A read-only bind mount takes two calls: the kernel ignores MS_RDONLY on the first.
      if (c.mount(m.source, target, m.type, flags & ~(bind ? MS_RDONLY : 0), data.length > 0 ? data.join(',') : null) !== 0) {
        const errno = c.errno();
        throw new BackendError(errno === 2 ? 'invalid-argument' : 'other', `rootfs[${i}]: mount ${m.type} ${m.source} on ${target}: errno ${errno}`);
      }
      done.push(target);
      if (bind && (flags & MS_RDONLY) !== 0 && c.mount('', target, '', MS_BIND | MS_REMOUNT | MS_RDONLY, null) !== 0) {
        throw new BackendError('other', `rootfs[${i}]: remount ${target} read-only: errno ${c.errno()}`);
      }
    });
  } catch (err) {
    unmountAll(done.reverse());
    throw err;
  }
  return done.reverse();
}

export function unmountAll(targets: readonly string[]): void {
  const c = libc();
  for (const t of targets) {
    if (c.umount(t, 0) !== 0) c.umount(t, MNT_DETACH);
  }
}
