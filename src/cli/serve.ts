import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPodvisor } from '../bus/server.ts';
import { createLogger } from '../log.ts';
import { chooseBackend } from './backend-choice.ts';

export interface ServeFlags {
  natsUrl?: string;
  node?: string;
  prefix: string;
  backend: string;
  hcsLibrary?: string;
  runc?: string;
  stateDir?: string;
  runtimeDir?: string;
  logLevel: string;
  creds?: string;
  dashboard?: string;
  eventsMaxAge: string;
  eventsMaxBytes: string;
}

/** `podvisor serve`: runs until SIGTERM or SIGINT, then drains and exits 0. */
export async function serve(flags: ServeFlags): Promise<number> {
  // People at a terminal get readable lines; everything else gets JSON.
  const log = createLogger({ level: flags.logLevel, pretty: process.stdout.isTTY === true });
  const stateDir = flags.stateDir ?? join(tmpdir(), `podvisor-${process.getuid?.() ?? 'user'}`);
  mkdirSync(stateDir, { recursive: true });
  if (flags.dashboard !== undefined) log.warn({ dashboard: flags.dashboard }, 'the dashboard page is not part of this build; ignoring --dashboard');
  const backend = chooseBackend(
    {
      backend: flags.backend,
      stateDir,
      ...(flags.runtimeDir === undefined || flags.runtimeDir === '' ? {} : { runtimeDir: flags.runtimeDir }),
      ...(flags.runc === undefined ? {} : { runc: flags.runc }),
      ...(flags.hcsLibrary === undefined ? {} : { hcsLibrary: flags.hcsLibrary }),
    },
    log,
  );
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
