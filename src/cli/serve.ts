import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPodvisor } from '../bus/server.ts';
import type { Backend } from '../hcs/backend.ts';
import { SimBackend } from '../hcs/sim/backend.ts';
import { createLogger, type Logger } from '../log.ts';

export interface ServeFlags {
  natsUrl?: string;
  node?: string;
  prefix: string;
  backend: string;
  hcsLibrary?: string;
  stateDir?: string;
  logLevel: string;
  creds?: string;
  dashboard?: string;
  eventsMaxAge: string;
  eventsMaxBytes: string;
}

/**
 * Chooses the backend `auto` stands for, and says why in the log. Only the
 * simulator exists in this build; asking for hcs or runc by name is an
 * error rather than a silent fallback.
 */
function chooseBackend(name: string, log: Logger): Backend {
  if (name === 'sim') return new SimBackend();
  if (name === 'auto') {
    log.info({ backend: 'sim' }, 'backend auto: the hcs and runc backends are not part of this build yet, using the simulated HCS');
    return new SimBackend();
  }
  throw new Error(`backend '${name}' is not available in this build (available: sim, auto)`);
}

/** `podvisor serve`: runs until SIGTERM or SIGINT, then drains and exits 0. */
export async function serve(flags: ServeFlags): Promise<number> {
  // People at a terminal get readable lines; everything else gets JSON.
  const log = createLogger({ level: flags.logLevel, pretty: process.stdout.isTTY === true });
  const stateDir = flags.stateDir ?? join(tmpdir(), `podvisor-${process.getuid?.() ?? 'user'}`);
  mkdirSync(stateDir, { recursive: true });
  if (flags.dashboard !== undefined) log.warn({ dashboard: flags.dashboard }, 'the dashboard page is not part of this build; ignoring --dashboard');
  const backend = chooseBackend(flags.backend, log);
  const pv = await startPodvisor({
    backend,
    log,
    stateDir,
    prefix: flags.prefix,
    limits: { maxAgeMs: Number(flags.eventsMaxAge) * 3600 * 1000, maxBytes: Number(flags.eventsMaxBytes) },
    // An empty PODVISOR_NATS_URL means "none given", as an absent one does.
    ...(flags.natsUrl === undefined || flags.natsUrl === '' ? {} : { natsUrl: flags.natsUrl }),
    ...(flags.node === undefined ? {} : { node: flags.node }),
    ...(flags.creds === undefined ? {} : { creds: flags.creds }),
  });
  const hint = `podvisor task ls --nats-url ${pv.natsUrl} --node ${pv.names.node}`;
  process.stderr.write(`podvisor serving node '${pv.names.node}' on ${pv.natsUrl}\n  try: ${hint}\n  or:  podvisor events --nats-url ${pv.natsUrl}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await pv.stop();
  await backend.close();
  return 0;
}
