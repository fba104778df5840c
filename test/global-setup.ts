import { existsSync } from 'node:fs';
import { buildBusyboxRootfs, BUSYBOX } from '../src/hcs/runc/busybox.ts';
import { TEST_ROOTFS } from './helpers/rootfs.ts';

/** Builds the busybox root the runc tests share, once, before any test file runs. */
export default function setup(): void {
  if (process.platform === 'linux' && existsSync(BUSYBOX)) buildBusyboxRootfs(TEST_ROOTFS);
}
