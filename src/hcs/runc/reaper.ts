import { Worker } from 'node:worker_threads';
import { BackendError } from '../backend.ts';
import { exitStatusOf, libc } from './libc.ts';
import type { ReaperMessage, ReaperWorkerData } from './reaper-loop.ts';

/**
 * Waits for specific processes to exit and reaps them: runc invocations (our
 * direct children) and container processes (our children once runc exits,
 * because podvisor is a child subreaper). One worker thread blocks in
 * epoll_wait over a pidfd per process, so a thousand running containers cost
 * a thousand fds, not a thousand blocked threads.
 */
export class Reaper {
  private readonly c = libc();
  private readonly epfd: number;
  private readonly wake: number;
  private readonly control = new SharedArrayBuffer(4);
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { pid: number; resolve: (status: number) => void; reject: (err: Error) => void }>();
  private failure: Error | undefined;
  private readonly exited: Promise<void>;

  constructor() {
    if (this.c.setChildSubreaper() !== 0) throw new Error(`prctl(PR_SET_CHILD_SUBREAPER): errno ${this.c.errno()}`);
    this.epfd = this.c.epollCreate();
    this.wake = this.c.eventfd();
    if (this.epfd < 0 || this.wake < 0) throw new Error(`epoll/eventfd: errno ${this.c.errno()}`);
    this.c.epollAdd(this.epfd, this.wake, 0);
    const data: ReaperWorkerData = { epfd: this.epfd, control: this.control };
    this.worker = new Worker(new URL('./reaper-worker.mjs', import.meta.url), { workerData: data });
    this.worker.on('message', (m: ReaperMessage) => this.onMessage(m));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        if (Atomics.load(new Int32Array(this.control), 0) === 0) this.fail(new Error(`the reaper thread exited (code ${code})`));
        resolve();
      });
    });
    this.worker.on('error', (err) => this.fail(err));
  }

  /** Resolves with the process's exit status (128 + N for signal N) once it is reaped. */
  wait(pid: number): Promise<number> {
    if (this.failure !== undefined) return Promise.reject(unavailable(this.failure));
    const fd = this.c.pidfdOpen(pid);
    if (fd < 0) {
      // ESRCH: nobody can report this exit any more; inventing a status would be a lie.
      return Promise.reject(new BackendError('not-found', `process ${pid} cannot be watched: errno ${this.c.errno()}`));
    }
    return new Promise((resolve, reject) => {
      this.waiting.set(fd, { pid, resolve, reject });
      if (this.c.epollAdd(this.epfd, fd, fd) !== 0) {
        this.waiting.delete(fd);
        this.c.close(fd);
        reject(new BackendError('other', `epoll_ctl for process ${pid}: errno ${this.c.errno()}`));
      }
    });
  }

  get watched(): number {
    return this.waiting.size;
  }

  /** Stops the worker; processes still watched are reported `unavailable`. */
  async close(): Promise<void> {
    if (Atomics.compareExchange(new Int32Array(this.control), 0, 0, 1) === 0) this.c.eventfdWrite(this.wake);
    await this.exited;
    this.fail(new Error('the runc backend is closed'));
    this.c.close(this.wake);
    this.c.close(this.epfd);
  }

  private onMessage(m: ReaperMessage): void {
    const w = this.waiting.get(m.fd);
    if (w === undefined) return;
    this.waiting.delete(m.fd);
    this.c.close(m.fd);
    if (m.type === 'exit') w.resolve(exitStatusOf(m.code, m.status));
    else w.reject(new BackendError('other', `waitid for process ${w.pid}: errno ${m.errno}`));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const [fd, w] of this.waiting) {
      this.c.close(fd);
      w.reject(unavailable(err));
    }
    this.waiting.clear();
  }
}

function unavailable(cause: Error): BackendError {
  return new BackendError('unavailable', `process supervision is unavailable: ${cause.message}`, undefined, { cause });
}
