import { parentPort, workerData } from 'node:worker_threads';
import { libc } from './libc.ts';

/**
 * The reaper worker's whole life: block in epoll_wait on the pidfds the main
 * thread registered, and for each one that becomes readable, reap exactly that
 * process with waitid(P_PIDFD) and report its status. It never waits on "any
 * child", so Node's own child_process children are left to libuv.
 *
 * The main thread stops it by setting the shared flag and writing the eventfd,
 * so the worker always leaves epoll_wait by itself: terminating a worker inside
 * a blocking FFI call crashes Node (reference/feasibility.md §3).
 */
export interface ReaperWorkerData {
  epfd: number;
  control: SharedArrayBuffer;
}

export type ReaperMessage =
  | { type: 'exit'; fd: number; code: number; status: number }
  | { type: 'error'; fd: number; errno: number };

const { epfd, control } = workerData as ReaperWorkerData;
const stop = new Int32Array(control);
const port = parentPort;
if (port === null) throw new Error('the reaper runs only as a worker thread');

const c = libc();
const ready: number[] = [];
// Data 0 is the control eventfd; any other value is the pidfd itself.
while (Atomics.load(stop, 0) === 0) {
  // The timeout is only a backstop: a stop request also writes the eventfd.
  const n = c.epollWait(epfd, ready, 64, 1000);
  if (n < 0) continue; // EINTR
  for (const fd of ready) {
    if (fd === 0) continue;
    try {
      const exit = c.waitPidfd(fd);
      if (exit === null) continue;
      c.epollDel(epfd, fd);
      port.postMessage({ type: 'exit', fd, code: exit.code, status: exit.status } satisfies ReaperMessage);
    } catch (err) {
      c.epollDel(epfd, fd);
      port.postMessage({ type: 'error', fd, errno: (err as { errno?: number }).errno ?? -1 } satisfies ReaperMessage);
    }
  }
}
