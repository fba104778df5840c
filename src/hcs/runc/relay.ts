import { Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import type { Readable } from 'node:stream';
import type { ProcessIo } from '../backend.ts';
import { libc, O_CLOEXEC } from './libc.ts';

/** hcsshim gives a process's output this long to drain after the process exits. */
export const COPY_AFTER_EXIT_MS = 1000;

/**
 * Connects one container process's stdio to podvisor's upstream streams: a
 * pipe per connected stream for a plain process (seed 004's PipeRelay), or the
 * pty master runc hands over its console socket for a terminal (its TtyRelay).
 * Output is written to upstream without ending it: the exec actor owns the
 * upstream streams and ends them after the exit.
 */
export class StdioRelay {
  private readonly c = libc();
  /** The fds runc passes on to the process (its own stdio for create and exec). */
  readonly childFds: [number, number, number];
  private childEnds: number[] = [];
  private stdinSocket: Socket | null = null;
  private terminal: ReadStream | null = null;
  private master = -1;
  private readonly outputs: Promise<void>[] = [];
  private readonly readers: { destroy(): void }[] = [];

  constructor(
    private readonly io: ProcessIo,
    devNull: number,
    readonly isTerminal: boolean,
  ) {
    this.childFds = [devNull, devNull, devNull];
    if (isTerminal) return;
    if (io.stdin !== null) {
      const [r, w] = this.c.pipe2(O_CLOEXEC);
      this.childFds[0] = r;
      this.childEnds.push(r);
      const socket = new Socket({ fd: w, readable: false, writable: true });
      socket.on('error', () => undefined); // the process closed its stdin: nothing more to deliver
      io.stdin.pipe(socket);
      this.stdinSocket = socket;
    }
    for (const [index, sink] of [[1, io.stdout], [2, io.stderr]] as const) {
      if (sink === null) continue;
      const [r, w] = this.c.pipe2(O_CLOEXEC);
      this.childFds[index] = w;
      this.childEnds.push(w);
      const socket = new Socket({ fd: r, readable: true, writable: false });
      this.follow(socket, sink);
    }
  }

  /** Closes podvisor's copies of the process's ends once runc has them, so EOF can happen. */
  closeChildEnds(): void {
    for (const fd of this.childEnds) this.c.close(fd);
    this.childEnds = [];
  }

  /** Takes the pty master runc sent over the console socket. */
  attachTerminal(master: number, size?: { width: number; height: number }): void {
    if (size !== undefined) this.c.setWindowSize(master, size.height, size.width);
    const tty = new ReadStream(master);
    this.terminal = tty;
    this.master = master;
    if (this.io.stdout !== null) this.follow(tty, this.io.stdout);
    else {
      // Nobody reads the output, but an unread pty fills up and blocks the process.
      tty.on('data', () => undefined);
      this.outputs.push(endOf(tty));
      this.readers.push(tty);
    }
    if (this.io.stdin !== null) this.io.stdin.pipe(tty, { end: false });
  }

  resize(width: number, height: number): boolean {
    // The fd belongs to the tty stream, which keeps it open until the relay is destroyed.
    if (this.terminal === null || this.terminal.destroyed) return false;
    return this.c.setWindowSize(this.master, height, width) === 0;
  }

  closeStdin(): void {
    if (this.terminal !== null) {
      if (this.io.stdin !== null) this.io.stdin.unpipe(this.terminal);
      // A pty has no half-close: end-of-file is the EOF character at the start of a line.
      if (!this.terminal.destroyed) this.terminal.write('\x04');
      return;
    }
    if (this.stdinSocket !== null) {
      this.io.stdin?.unpipe(this.stdinSocket);
      this.stdinSocket.end();
      this.stdinSocket = null;
    }
  }

  /** Resolves when every output stream reached EOF, or `boundMs` passed (then stops copying). */
  async drained(boundMs = COPY_AFTER_EXIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, boundMs);
    });
    await Promise.race([Promise.all(this.outputs), bound]);
    clearTimeout(timer);
    this.destroy();
  }

  destroy(): void {
    this.closeChildEnds();
    for (const r of this.readers) r.destroy();
    this.readers.length = 0;
    if (this.stdinSocket !== null) {
      this.io.stdin?.unpipe(this.stdinSocket);
      this.stdinSocket.destroy();
      this.stdinSocket = null;
    }
    if (this.terminal !== null) {
      this.io.stdin?.unpipe(this.terminal);
      this.terminal.destroy();
      this.terminal = null;
    }
  }

  private follow(source: Readable & { destroy(): void }, sink: NodeJS.WritableStream): void {
    source.on('error', () => undefined); // EIO from a pty whose last slave closed is its EOF
    source.pipe(sink, { end: false });
    this.outputs.push(endOf(source));
    this.readers.push(source);
  }
}

function endOf(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}
