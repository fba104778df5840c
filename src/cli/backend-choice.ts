import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { delimiter, join } from 'node:path';
import type { Backend } from '../hcs/backend.ts';
import { HcsBackend } from '../hcs/computecore/backend.ts';
import { SIMULATOR_LIBRARY } from '../hcs/computecore/simulator.ts';
import { RuncBackend } from '../hcs/runc/backend.ts';
import { SimBackend } from '../hcs/sim/backend.ts';
import type { Logger } from '../log.ts';

export interface BackendChoice {
  /** sim | hcs | runc | auto */
  backend: string;
  /** The library the hcs backend loads: computecore.dll on Windows, the native simulator on Linux by default. */
  hcsLibrary?: string;
  /** podvisor's local state; the runc backend keeps bundles and runc's root under it unless `runtimeDir` is given. */
  stateDir: string;
  /**
   * Where the runc backend keeps bundles, pid files and runc's root: state
   * that ends with the containers, which containerd keeps in /run (a tmpfs).
   * On a disk every create and delete writes and removes files for nothing.
   */
  runtimeDir?: string;
  runc?: string;
}

/** Why runc cannot run containers here, or null when it can. */
export function runcUnusable(binary: string): string | null {
  if (process.platform !== 'linux') return 'runc needs Linux';
  if (process.getuid?.() !== 0) return 'runc needs root';
  const found = binary.includes('/') ? existsSync(binary) : (process.env['PATH'] ?? '').split(delimiter).some((d) => d !== '' && existsSync(join(d, binary)));
  return found ? null : `${binary} is not installed`;
}

/**
 * Chooses the backend `auto` stands for, and says why in the log: HCS on
 * Windows; runc on Linux as root when runc is installed; else the simulated HCS. A backend
 * asked for by name that cannot run here is an error, never a silent fallback.
 */
export function chooseBackend(flags: BackendChoice, log: Logger): Backend {
  const runcBinary = flags.runc ?? 'runc';
  const runc = (): Backend => new RuncBackend({ stateDir: flags.runtimeDir ?? join(flags.stateDir, 'runc-backend'), binary: runcBinary });
  if (flags.backend === 'sim') return new SimBackend();
  if (flags.backend === 'hcs') return hcs(flags.hcsLibrary, log);
  if (flags.backend === 'runc') {
    const why = runcUnusable(runcBinary);
    if (why !== null) throw new Error(`backend 'runc' cannot run here: ${why}`);
    return runc();
  }
  if (flags.backend === 'auto') {
    if (process.platform === 'win32') {
      log.info({ backend: 'hcs' }, 'backend auto: Windows, so computecore.dll');
      return hcs(flags.hcsLibrary, log);
    }
    const why = runcUnusable(runcBinary);
    if (why === null) {
      log.info({ backend: 'runc' }, 'backend auto: runc is installed and podvisor runs as root, so containers are real');
      return runc();
    }
    log.info({ backend: 'sim', reason: why }, 'backend auto: using the simulated HCS');
    return new SimBackend();
  }
  throw new Error(`backend '${flags.backend}' is not known (available: sim, hcs, runc, auto)`);
}

/**
 * HCS through koffi: computecore.dll on Windows; on Linux the native
 * simulator with the same ABI, built with the system C compiler on first use.
 */
function hcs(library: string | undefined, log: Logger): Backend {
  if (library === undefined && process.platform !== 'win32' && !existsSync(SIMULATOR_LIBRARY)) {
    log.info({ library: SIMULATOR_LIBRARY }, 'building the native HCS simulator (scripts/build-native.sh)');
    execFileSync('bash', [BUILD_SCRIPT], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  // A path that names nothing fails here, at start, rather than as `unavailable` on the first command.
  if (library !== undefined && /[\\/]/.test(library) && !existsSync(library)) throw new Error(`--hcs-library '${library}' does not exist`);
  return new HcsBackend(library === undefined ? {} : { library });
}

const BUILD_SCRIPT = fileURLToPath(new URL('../../scripts/build-native.sh', import.meta.url));
