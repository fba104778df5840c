import { createReadStream, createWriteStream } from 'node:fs';
import { isAbsolute } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { FailedPreconditionError, InvalidArgumentError, describeExec } from '../errors.ts';
import type { ProcessIo } from '../hcs/backend.ts';

/** The stdio fields of a create or exec request. */
export interface StdioRequest {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

/** The upstream end of a process's stdio, owned by its exec actor. */
export interface UpstreamIo {
  readonly io: ProcessIo;
  /** Ends the process's input (CloseIO). Idempotent. */
  closeStdin(): void;
  /** Flushes and closes every stream. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens the upstream IO a request names. `src/bus/` wraps this to add the
 * `nats` form; the actors only know this signature.
 */
export type StdioOpener = (req: StdioRequest, taskId: string, execId: string) => Promise<UpstreamIo>;

/** hcsshim's rule: a terminal merges stderr into stdout, so a separate stderr is refused. */
export function checkTerminalStdio(req: StdioRequest, taskId: string, execId: string): void {
  if (req.terminal && req.stderr !== '') {
    throw new FailedPreconditionError(`${describeExec(taskId, execId)}: if using terminal, stderr must be empty`);
  }
}

function checkPath(value: string, field: string, target: string): void {
  if (value !== '' && !isAbsolute(value)) {
    throw new InvalidArgumentError(`${field} '${value}' for ${target} must be empty or an absolute path`);
  }
}

/**
 * Files and FIFOs by absolute path, as containerd passes them: output is
 * appended (a FIFO is opened for writing), input is read until EOF.
 */
export const openPathStdio: StdioOpener = async (req, taskId, execId) => {
  const target = describeExec(taskId, execId);
  checkPath(req.stdin, 'stdin', target);
  checkPath(req.stdout, 'stdout', target);
  checkPath(req.stderr, 'stderr', target);
  const stdin: Readable | null = req.stdin === '' ? null : createReadStream(req.stdin);
  const stdout: Writable | null = req.stdout === '' ? null : createWriteStream(req.stdout, { flags: 'a' });
  const stderr: Writable | null = req.stderr === '' ? null : createWriteStream(req.stderr, { flags: 'a' });
  return streamsIo({ stdin, stdout, stderr });
};

/** Wraps already-open streams as an {@link UpstreamIo}. */
export function streamsIo(io: ProcessIo): UpstreamIo {
  let closing: Promise<void> | undefined;
  const closeStdin = () => {
    if (io.stdin !== null && !io.stdin.destroyed) io.stdin.destroy();
  };
  return {
    io,
    closeStdin,
    close() {
      closing ??= (async () => {
        closeStdin();
        await Promise.all(
          [io.stdout, io.stderr].map(async (w) => {
            if (w === null || w.destroyed || w.writableFinished) return;
            w.end();
            await finished(w).catch(() => undefined);
          }),
        );
      })();
      return closing;
    },
  };
}

export const noStdio: StdioRequest = { stdin: '', stdout: '', stderr: '', terminal: false };
