import { MemorySink } from '../../src/actors/memory-sink.ts';
import { Node } from '../../src/actors/node.ts';
import type { StdioOpener } from '../../src/actors/stdio.ts';
import { VirtualClock, settle, type Clock } from '../../src/clock.ts';
import { SimBackend } from '../../src/hcs/sim/backend.ts';
import { silentLogger } from '../../src/log.ts';
import type { OciSpec } from '../../src/oci.ts';
import { TEST_ROOTFS } from './rootfs.ts';

export interface Harness {
  node: Node;
  backend: SimBackend;
  sink: MemorySink;
  clock: VirtualClock;
  /** Advances virtual time and lets every actor settle. */
  advance(ms: number): Promise<void>;
  /** Deletes whatever is left, closes everything, and asserts nothing leaked. */
  close(): Promise<{ openSystems: number; tasks: number }>;
}

export function harness(options: { clock?: Clock; openStdio?: StdioOpener } = {}): Harness {
  const clock = (options.clock as VirtualClock | undefined) ?? new VirtualClock();
  const backend = new SimBackend({ clock });
  const sink = new MemorySink();
  const node = new Node({ backend, sink, log: silentLogger(), clock, ...(options.openStdio ? { openStdio: options.openStdio } : {}) });
  return {
    node,
    backend,
    sink,
    clock,
    advance: (ms) => clock.advance(ms),
    async close() {
      const tasks = node.taskCount;
      await node.close();
      const openSystems = backend.openSystems;
      await backend.close();
      await settle(2);
      return { openSystems, tasks };
    },
  };
}

export const SANDBOX = 'io.kubernetes.cri.container-type';
export const SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';

/** A Linux spec whose process is `sh -c SCRIPT` (runs the same on the simulator and on busybox). */
export function linux(script: string, annotations: Record<string, string> = {}): OciSpec {
  return { ociVersion: '1.0.2', process: { args: ['sh', '-c', script], cwd: '/' }, root: { path: TEST_ROOTFS }, linux: {}, annotations };
}

export function windows(commandLine: string, annotations: Record<string, string> = {}, hyperv = false): OciSpec {
  return {
    ociVersion: '1.0.2',
    process: { commandLine, cwd: 'C:\\' },
    root: { path: '\\\\?\\Volume{00000000-0000-0000-0000-000000000000}\\' },
    windows: { layerFolders: ['C:\\layers\\base'], ...(hyperv ? { hyperv: {} } : {}) },
    annotations,
  };
}

export function sandboxOf(podId: string): Record<string, string> {
  return { [SANDBOX]: 'sandbox', [SANDBOX_ID]: podId };
}

export function workloadOf(podId: string): Record<string, string> {
  return { [SANDBOX]: 'container', [SANDBOX_ID]: podId };
}

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected a rejection, got a result');
}
