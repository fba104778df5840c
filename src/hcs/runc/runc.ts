import { openSync, closeSync, readFileSync } from 'node:fs';
import { Socket } from 'node:net';
import { BackendError, type BackendErrorKind } from '../backend.ts';
import { libc, O_CLOEXEC } from './libc.ts';
import type { Reaper } from './reaper.ts';

export interface RuncOptions {
  /** The runc executable (a name looked up in PATH, or a path). */
  binary: string;
  /** runc's state directory (`runc --root`), podvisor's own so other runc users are not disturbed. */
  root: string;
}

export interface RunOptions {
  /** The stdio runc (and for create/exec, the container process) gets; default /dev/null and captured pipes. */
  stdio?: readonly [number, number, number];
  /** Where runc logs when its stdout/stderr belong to the container. */
  logFile?: string;
}

/**
 * Runs the runc CLI. runc is started with posix_spawn through koffi, not
 * child_process: the child never copies podvisor's page tables, so starting a
 * container costs the same with a 50 MB heap as with a 1 GB one. runc is then
 * reaped by the {@link Reaper} like every other process podvisor owns.
 */
export class Runc {
  private readonly c = libc();
  private readonly devNull = openSync('/dev/null', 'r+');
  private readonly env = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);

  constructor(
    private readonly reaper: Reaper,
    readonly options: RuncOptions,
  ) {}

  /** Runs `runc ARGS`; resolves with its stdout, rejects with a typed error read from its log. */
  async run(args: readonly string[], opts: RunOptions = {}): Promise<string> {
    const argv = [this.options.binary, '--root', this.options.root, '--log-format', 'json'];
    if (opts.logFile !== undefined) argv.push('--log', opts.logFile);
    argv.push(...args);
    if (opts.stdio !== undefined) {
      const status = await this.spawnAndWait(argv, opts.stdio);
      if (status !== 0) throw runcError(args, status, opts.logFile !== undefined ? lastLogError(opts.logFile) : '');
      return '';
    }
    const [outR, outW] = this.c.pipe2(O_CLOEXEC);
    const [errR, errW] = this.c.pipe2(O_CLOEXEC);
    const out = collect(outR);
    const err = collect(errR);
    let status: number;
    try {
      status = await this.spawnAndWait(argv, [this.devNull, outW, errW], () => {
        this.c.close(outW);
        this.c.close(errW);
      });
    } catch (e) {
      out.socket.destroy();
      err.socket.destroy();
      throw e;
    }
    const [stdout, stderr] = await Promise.all([out.text, err.text]);
    if (status !== 0) throw runcError(args, status, lastJsonError(stderr) || stderr.trim());
    return stdout;
  }

  /** /dev/null, for the stdio a process does not connect. */
  get devNullFd(): number {
    return this.devNull;
  }

  close(): void {
    closeSync(this.devNull);
  }

  private spawnAndWait(argv: string[], stdio: readonly [number, number, number], afterSpawn?: () => void): Promise<number> {
    let pid: number;
    try {
      pid = this.c.posixSpawn(argv, this.env, stdio);
    } catch (e) {
      afterSpawn?.();
      const errno = (e as { errno?: number }).errno;
      return Promise.reject(new BackendError(errno === 2 ? 'unavailable' : 'other', `cannot start ${this.options.binary}: ${(e as Error).message}`));
    }
    afterSpawn?.();
    return this.reaper.wait(pid);
  }
}

function collect(fd: number): { socket: Socket; text: Promise<string> } {
  const socket = new Socket({ fd, readable: true, writable: false });
  const chunks: Buffer[] = [];
  const text = new Promise<string>((resolve) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  return { socket, text };
}

function lastJsonError(text: string): string {
  let message = '';
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if ((entry.level === 'error' || entry.level === 'fatal') && typeof entry.msg === 'string') message = entry.msg;
    } catch {
      // runc prints nothing but JSON with --log-format json; a torn line says nothing useful.
    }
  }
  return message;
}

function lastLogError(path: string): string {
  try {
    return lastJsonError(readFileSync(path, 'utf8'));
  } catch {
    return '';
  }
}

/** runc's words become kinds the actors understand (seed 004 does the same with its own table). */
export function runcErrorKind(command: string, message: string): BackendErrorKind {
  const m = message.toLowerCase();
  if (m.includes('does not exist')) return 'not-found';
  if (m.includes('already exists')) return 'already-exists';
  if (m.includes('executable file not found') || (m.includes('exec:') && m.includes('no such file or directory'))) return 'executable-not-found';
  if (m.includes('not running') || m.includes('stopped container') || m.includes('process already finished')) {
    return command === 'kill' ? 'already-stopped' : 'invalid-state';
  }
  if (m.includes('not paused') || m.includes('is paused') || m.includes('not stopped') || m.includes('cannot')) return 'invalid-state';
  if (m.includes('permission denied') || m.includes('operation not permitted')) return 'access-denied';
  return 'other';
}

function runcError(args: readonly string[], status: number, message: string): BackendError {
  const command = args[0] ?? '';
  const text = message === '' ? `exited with status ${status}` : message;
  return new BackendError(runcErrorKind(command, text), `runc ${command}: ${text}`);
}
