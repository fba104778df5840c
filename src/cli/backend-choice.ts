import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Backend } from '../hcs/backend.ts';
import { RuncBackend } from '../hcs/runc/backend.ts';
import { SimBackend } from '../hcs/sim/backend.ts';
import type { Logger } from '../log.ts';

export interface BackendChoice {
  /** sim | runc | auto */
  backend: string;
  /** podvisor's local state; the runc backend keeps bundles and runc's root under it. */
  stateDir: string;
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
 * Chooses the backend `auto` stands for, and says why in the log: runc on
 * Linux as root when runc is installed, else the simulated HCS. A backend
 * asked for by name that cannot run here is an error, never a silent fallback.
 */
export function chooseBackend(flags: BackendChoice, log: Logger): Backend {
  const runcBinary = flags.runc ?? 'runc';
  const runc = (): Backend => new RuncBackend({ stateDir: join(flags.stateDir, 'runc-backend'), binary: runcBinary });
  if (flags.backend === 'sim') return new SimBackend();
  if (flags.backend === 'runc') {
    const why = runcUnusable(runcBinary);
    if (why !== null) throw new Error(`backend 'runc' cannot run here: ${why}`);
    return runc();
  }
  if (flags.backend === 'auto') {
    const why = runcUnusable(runcBinary);
    if (why === null) {
      log.info({ backend: 'runc' }, 'backend auto: runc is installed and podvisor runs as root, so containers are real');
      return runc();
    }
    log.info({ backend: 'sim', reason: why }, 'backend auto: using the simulated HCS');
    return new SimBackend();
  }
  throw new Error(`backend '${flags.backend}' is not available in this build (available: sim, runc, auto)`);
}
