import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readlinkSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Where Debian's `busybox-static` puts its one binary. */
export const BUSYBOX = '/bin/busybox';

/**
 * Lays out a minimal root filesystem from a static busybox: the binary, a
 * relative symlink per applet (absolute ones would point at the host), and
 * the directories runc mounts over. Enough for the `sh` subset the simulator
 * speaks, so the same specs run on both backends. Idempotent.
 */
export function buildBusyboxRootfs(dir: string, busybox = BUSYBOX): string {
  if (!existsSync(busybox)) throw new Error(`${busybox} is missing: install Debian's busybox-static`);
  const bin = join(dir, 'bin');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root']) mkdirSync(join(dir, d), { recursive: true });
  if (!existsSync(join(bin, 'busybox'))) copyFileSync(busybox, join(bin, 'busybox'));
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a !== '' && a !== 'busybox');
  for (const applet of applets) {
    const link = join(bin, applet);
    if (!isLink(link)) symlinkSync('busybox', link);
  }
  return dir;
}

function isLink(path: string): boolean {
  try {
    readlinkSync(path);
    return true;
  } catch {
    return false;
  }
}
