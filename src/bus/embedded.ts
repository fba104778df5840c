import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UnavailableError } from '../errors.ts';

export interface EmbeddedNats {
  url: string;
  websocketUrl: string | null;
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after the bound) and waits for it. */
  stop(timeoutMs?: number): Promise<void>;
}

export interface EmbeddedOptions {
  /** JetStream data and the ports file live here. */
  dir: string;
  /** The binary; default `nats-server` on PATH. */
  binary?: string;
  websocket?: boolean;
  /** Extra configuration appended to the generated file (accounts, users). */
  extraConfig?: string;
  startTimeoutMs?: number;
  /** A fixed client port (a restarted server keeps its address); default any free one. */
  port?: number;
}

/**
 * Starts a `nats-server` child on a free loopback port with JetStream in
 * `dir`. The server writes its chosen ports to a file, which is how the
 * port is learnt without racing for a free one.
 */
export async function startEmbeddedNats(options: EmbeddedOptions): Promise<EmbeddedNats> {
  const dir = options.dir;
  mkdirSync(join(dir, 'jetstream'), { recursive: true });
  const config = join(dir, 'nats.conf');
  writeFileSync(
    config,
    [
      `listen: 127.0.0.1:${options.port ?? -1}`,
      `jetstream { store_dir: ${JSON.stringify(join(dir, 'jetstream'))} }`,
      options.websocket === true ? 'websocket { host: 127.0.0.1, port: -1, no_tls: true }' : '',
      options.extraConfig ?? '',
    ].join('\n'),
  );
  const binary = options.binary ?? 'nats-server';
  const child: ChildProcess = spawn(binary, ['-c', config, '--ports_file_dir', dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new UnavailableError(`'${binary}' was not found on PATH: install it (Debian: apt-get install nats-server) or pass --nats-url`)
          : err,
      ),
    ),
  );
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  const portsFile = `nats-server_${child.pid}.ports`;
  const ports = await Promise.race([
    spawnError,
    exited.then((code) => {
      throw new UnavailableError(`nats-server exited (${code}) before it was ready: ${stderr.trim()}`);
    }),
    (async () => {
      for (;;) {
        if (readdirSync(dir).includes(portsFile)) {
          try {
            return JSON.parse(readFileSync(join(dir, portsFile), 'utf8')) as { nats: string[]; websocket?: string[] };
          } catch {
            // The server is still writing it.
          }
        }
        if (Date.now() > deadline) throw new UnavailableError(`nats-server did not start within the bound: ${stderr.trim()}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    })(),
  ]).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    url: ports.nats[0] as string,
    websocketUrl: ports.websocket?.[0] ?? null,
    pid: child.pid as number,
    async stop(timeoutMs = 5_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
