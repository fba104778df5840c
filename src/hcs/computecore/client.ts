/**
 * The main thread's end of the worker: requests by id, events as a stream,
 * and the worker's death turned into `unavailable` for every pending and
 * later request instead of a hang.
 */
import { Worker } from 'node:worker_threads';
import { Subject } from 'rxjs';
import type { BackendError } from '../backend.ts';
import { fromWire, unavailable } from './errors.ts';
import type { Request, ResponseValues, WorkerData, WorkerMessage } from './protocol.ts';

export type WorkerEvent = Extract<WorkerMessage, { type: 'event' }>;

export class WorkerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: BackendError) => void; what: string }>();
  private nextId = 1;
  private failure: BackendError | undefined;
  private gone = false;
  readonly events = new Subject<WorkerEvent>();
  /** Settles when the worker thread has ended, however it ended. */
  readonly exited: Promise<number>;

  constructor(data: WorkerData) {
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: data });
    this.worker.on('message', (m: WorkerMessage) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(unavailable(`the HCS worker failed: ${err.message}`, err)));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        this.gone = true;
        this.fail(unavailable(`the HCS worker exited (code ${code})`));
        this.events.complete();
        resolve(code);
      });
    });
  }

  get dead(): boolean {
    return this.failure !== undefined;
  }

  request<K extends Request['op']>(request: Extract<Request, { op: K }>): Promise<ResponseValues[K]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.send(request);
  }

  private send<K extends Request['op']>(request: Extract<Request, { op: K }>): Promise<ResponseValues[K]> {
    if (this.gone) return Promise.reject(this.failure ?? unavailable('the HCS worker has exited'));
    const id = this.nextId++;
    return new Promise<ResponseValues[K]>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, what: request.op });
      this.worker.postMessage({ id, request });
    });
  }

  /** Every pending and later request rejects with `err`; the first failure is the one kept. */
  fail(err: BackendError): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(unavailable(`${p.what}: ${this.failure.message}`, this.failure));
    this.pending.clear();
  }

  /**
   * Asks the worker to close its handles and end, within `boundMs`. Only
   * past the bound is it terminated: the worker never sits in a synchronous
   * FFI call, so terminate() only waits for calls on the pool to return.
   */
  async shutdown(boundMs: number): Promise<void> {
    if (!this.gone) {
      // Sent even after fail(): refusing callers must not stop the worker from closing its handles.
      const asked = this.send({ op: 'shutdown' }).catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), boundMs)));
      const outcome = await Promise.race([asked.then(() => this.exited), late]);
      clearTimeout(timer);
      if (outcome === 'late') await this.worker.terminate();
    }
    await this.exited;
  }

  /** Tests only: the worker thread exits at once, as a crash would end it. */
  die(): void {
    this.worker.postMessage({ id: 0, request: { op: 'die' } });
  }

  private onMessage(m: WorkerMessage): void {
    if (m.type === 'event') {
      this.events.next(m);
      return;
    }
    const p = this.pending.get(m.id);
    if (p === undefined) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.value);
    else p.reject(fromWire(m.error));
  }
}
