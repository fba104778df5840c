import { BackendError, type Statistics } from '../backend.ts';

interface RuncStats {
  type?: string;
  data?: {
    cpu?: { usage?: { total?: number; user?: number; kernel?: number } };
    memory?: { usage?: { usage?: number; limit?: number } };
    pids?: { current?: number };
    blkio?: { ioServicedRecursive?: BlkioEntry[]; ioServiceBytesRecursive?: BlkioEntry[] };
  };
}
interface BlkioEntry {
  op?: string;
  value?: number;
}

// cgroup v1 writes "no limit" as the largest page-aligned int64.
const UNLIMITED = 9_223_372_036_854_771_712;

/** `runc events --stats` output in the shape HCS statistics take. */
export function statisticsOf(output: string, at: { timestamp: string; uptimeNs: number }): Statistics {
  let parsed: RuncStats;
  try {
    parsed = JSON.parse(output.trim().split('\n')[0] ?? '') as RuncStats;
  } catch {
    throw new BackendError('other', `runc events --stats printed something that is not JSON: ${output.slice(0, 200)}`);
  }
  const d = parsed.data ?? {};
  const usage = d.cpu?.usage ?? {};
  const limit = d.memory?.usage?.limit;
  const sum = (entries: BlkioEntry[] | undefined, op: string): number =>
    (entries ?? []).filter((e) => e.op?.toLowerCase() === op).reduce((n, e) => n + (e.value ?? 0), 0);
  return {
    timestamp: at.timestamp,
    uptimeNs: at.uptimeNs,
    processor: { totalRuntimeNs: usage.total ?? 0, userRuntimeNs: usage.user ?? 0, kernelRuntimeNs: usage.kernel ?? 0 },
    memory: {
      usageBytes: d.memory?.usage?.usage ?? 0,
      ...(limit !== undefined && limit < UNLIMITED ? { limitBytes: limit } : {}),
    },
    storage: {
      readCount: sum(d.blkio?.ioServicedRecursive, 'read'),
      readBytes: sum(d.blkio?.ioServiceBytesRecursive, 'read'),
      writeCount: sum(d.blkio?.ioServicedRecursive, 'write'),
      writeBytes: sum(d.blkio?.ioServiceBytesRecursive, 'write'),
    },
    processCount: d.pids?.current ?? 0,
  };
}
