/**
 * One simulated process: runs its program step by step, writes real bytes to
 * its stdio, reacts to signals, and reports its exit code once its output
 * has been flushed.
 */
import type { Readable, Writable } from 'node:stream';
import type { Clock, TimerId } from '../../clock.ts';
import type { ProcessSignal } from '../backend.ts';
import type { Program, Step } from './sh.ts';

/** Windows' exit code for a process ended by a console control event. */
export const STATUS_CONTROL_C_EXIT = 0xc000013a;

const IGNORED_LINUX = new Set([17, 18, 23, 28, 19, 20, 21, 22]);

export interface ProcessHost {
  readonly clock: Clock;
  readonly windows: boolean;
  /** Resolves at once while the system runs; while it is paused, when it resumes. */
  gate(): Promise<void>;
}

export type ProcessState = 'running' | 'exited';

export class SimProcess {
  state: ProcessState = 'running';
  exitCode: number | null = null;
  trapsTerm = false;
  stdinClosed = false;
  consoleSize: { width: number; height: number } | null = null;
  readonly createdAtNs: bigint;
  /** Resolves with the exit code once the process has exited and its output is flushed. */
  readonly done: Promise<number>;
  private kill!: (code: number) => void;
  private readonly killed: Promise<number>;
  private sleepTimer: TimerId | undefined;

  constructor(
    readonly pid: number,
    readonly argv: string[],
    readonly program: Program,
    readonly terminal: boolean,
    private readonly stdin: Readable | null,
    private readonly stdout: Writable | null,
    private readonly stderr: Writable | null,
    private readonly host: ProcessHost,
  ) {
    this.createdAtNs = host.clock.nowNs();
    this.killed = new Promise((resolve) => (this.kill = resolve));
    this.done = this.run();
  }

  private async run(): Promise<number> {
    // Never finish inside createProcess: its caller learns the pid first.
    await new Promise<void>((r) => setImmediate(r));
    let status = 0;
    const outcome = await Promise.race([
      this.killed.then((code) => ({ killed: code })),
      (async () => {
        for (const { connector, step } of this.program.steps) {
          if (connector === '&&' && status !== 0) continue;
          if (connector === '||' && status === 0) continue;
          await this.host.gate();
          const result = await this.step(step);
          if (result.exit) return { exited: result.code };
          status = result.code;
        }
        return { exited: status };
      })(),
    ]);
    if (this.sleepTimer !== undefined) this.host.clock.clearTimeout(this.sleepTimer);
    const code = 'killed' in outcome ? outcome.killed : outcome.exited;
    this.exitCode = code;
    this.state = 'exited';
    return code;
  }

  private async step(step: Step): Promise<{ code: number; exit?: boolean }> {
    switch (step.kind) {
      case 'echo':
        await write(this.stdout, step.text);
        return { code: 0 };
      case 'sleep':
        if (step.seconds !== Infinity) {
          await new Promise<void>((resolve) => (this.sleepTimer = this.host.clock.setTimeout(resolve, step.seconds * 1000)));
          this.sleepTimer = undefined;
          await this.host.gate();
        } else {
          await new Promise<never>(() => undefined);
        }
        return { code: 0 };
      case 'exit':
        return { code: step.code, exit: true };
      case 'status':
        return { code: step.code };
      case 'trap-term':
        this.trapsTerm = true;
        return { code: 0 };
      case 'cat':
        await this.cat();
        return { code: 0 };
      case 'missing':
        await write(this.stderr, `sh: ${step.name}: not found\n`);
        return { code: 127 };
    }
  }

  private async cat(): Promise<void> {
    const input = this.stdin;
    if (input === null || this.stdinClosed) return;
    await new Promise<void>((resolve) => {
      let pending = Promise.resolve();
      const finish = () => {
        input.off('data', onData);
        void pending.then(resolve);
      };
      const onData = (chunk: Buffer | string) => {
        pending = pending.then(() => write(this.stdout, chunk));
      };
      this.onStdinClosed = finish;
      input.on('data', onData);
      input.once('end', finish);
      input.once('close', finish);
      input.once('error', finish);
      if (input.readableEnded || input.destroyed) finish();
    });
  }

  private onStdinClosed: (() => void) | undefined;

  closeStdin(): void {
    this.stdinClosed = true;
    this.onStdinClosed?.();
  }

  /**
   * Delivers a signal. Returns false when the process ignores it. Linux: a
   * signal N that ends the process exits 128+N; Windows: a console event
   * ends it with STATUS_CONTROL_C_EXIT.
   */
  signal(signal: ProcessSignal): boolean {
    if (this.state === 'exited') return false;
    if (signal.kind === 'linux') {
      if (signal.signal === 9) return this.terminate(137);
      if (signal.signal === 15 && this.trapsTerm) return false;
      if (IGNORED_LINUX.has(signal.signal)) return false;
      return this.terminate(128 + signal.signal);
    }
    if (signal.event === 'CtrlShutdown' && this.trapsTerm) return false;
    return this.terminate(STATUS_CONTROL_C_EXIT);
  }

  terminate(code: number): boolean {
    if (this.state === 'exited') return false;
    this.kill(code);
    return true;
  }
}

function write(stream: Writable | null, data: string | Buffer): Promise<void> {
  if (stream === null || stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.write(data, () => resolve());
  });
}
