import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The busybox root every Linux test spec names (built once by test/global-setup.ts). */
export const TEST_ROOTFS = join(tmpdir(), 'podvisor-test-busybox', 'rootfs');
