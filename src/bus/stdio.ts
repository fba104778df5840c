import { Readable, Writable } from 'node:stream';
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { streamsIo, type StdioOpener, type StdioRequest } from '../actors/stdio.ts';
import { ioSubject, type BusNames } from './subjects.ts';

export const NATS_STDIO = 'nats';
export const EOF_HEADER = 'Podvisor-EOF';

/**
 * Adds api.md's `nats` stdio form to a path opener: output is published in
 * chunks on `<prefix>.<node>.io.<task>.<exec|init>.stdout|stderr`, input is
 * read from `...stdin` until a message with `Podvisor-EOF: 1`. Output goes
 * out on the same connection as the events, ahead of the exit event that
 * follows it, so subscribers see every byte before the exit.
 */
export function withNatsStdio(nc: NatsConnection, names: BusNames, paths: StdioOpener): StdioOpener {
  return async (req, taskId, execId) => {
    const nats = (v: string) => v === NATS_STDIO;
    const rest: StdioRequest = {
      terminal: req.terminal,
      stdin: nats(req.stdin) ? '' : req.stdin,
      stdout: nats(req.stdout) ? '' : req.stdout,
      stderr: nats(req.stderr) ? '' : req.stderr,
    };
    const base = await paths(rest, taskId, execId);
    if (!nats(req.stdin) && !nats(req.stdout) && !nats(req.stderr)) return base;
    const out = (stream: 'stdout' | 'stderr') =>
      new Writable({
        write(chunk: Buffer, _enc, done) {
          nc.publish(ioSubject(names, taskId, execId, stream), chunk);
          done();
        },
      });
    let subscription: Subscription | undefined;
    let stdin = base.io.stdin;
    if (nats(req.stdin)) {
      const input = new Readable({ read() {} });
      subscription = nc.subscribe(ioSubject(names, taskId, execId, 'stdin'), {
        callback: (err, msg) => {
          if (err !== null || msg.headers?.get(EOF_HEADER) === '1') {
            input.push(null);
            subscription?.unsubscribe();
            return;
          }
          input.push(Buffer.from(msg.data));
        },
      });
      stdin = input;
    }
    const merged = streamsIo({
      stdin,
      stdout: nats(req.stdout) ? out('stdout') : base.io.stdout,
      stderr: nats(req.stderr) ? out('stderr') : base.io.stderr,
    });
    return {
      io: merged.io,
      closeStdin: () => {
        subscription?.unsubscribe();
        merged.closeStdin();
      },
      close: async () => {
        subscription?.unsubscribe();
        // `merged` holds the path streams of `base` too; closing it closes them all once.
        await merged.close();
      },
    };
  };
}

/** The message that ends a `nats` stdin. */
export function eofHeaders(): ReturnType<typeof natsHeaders> {
  const h = natsHeaders();
  h.set(EOF_HEADER, '1');
  return h;
}
