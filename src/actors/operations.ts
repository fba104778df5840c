/**
 * The operations of api.md's table, their requests and replies, in the
 * wire's camelCase. The bus validates requests against these shapes; the node
 * checks ids and states again, because it is also driven directly (the demo,
 * tests, embedders).
 */
import type { RootfsMount } from '../events.ts';
import type { Statistics } from '../hcs/backend.ts';
import type { OciProcess, OciSpec } from '../oci.ts';
import type { ProcessEntry, TaskStatus } from './task-actor.ts';

export const OPERATIONS = [
  'create',
  'start',
  'exec',
  'kill',
  'delete',
  'state',
  'wait',
  'pids',
  'pause',
  'resume',
  'resize-pty',
  'close-io',
  'update',
  'stats',
  'connect',
  'shutdown',
  'checkpoint',
  'list',
] as const;

export type Operation = (typeof OPERATIONS)[number];

export interface Stdio {
  terminal?: boolean;
  stdin?: string;
  stdout?: string;
  stderr?: string;
}

export interface CreateRequest extends Stdio {
  id: string;
  bundle?: string;
  spec?: OciSpec;
  rootfs?: RootfsMount[];
  options?: Record<string, unknown>;
}
export interface TaskRef {
  id: string;
}
export interface ExecRef {
  id: string;
  execId?: string;
}
export interface ExecCreateRequest extends ExecRef, Stdio {
  spec: OciProcess;
}
export interface KillRequest extends ExecRef {
  signal: number;
  all?: boolean;
}
export interface ResizePtyRequest extends ExecRef {
  width: number;
  height: number;
}
export interface CloseIoRequest extends ExecRef {
  stdin?: boolean;
}
export interface UpdateRequest extends TaskRef {
  resources?: Record<string, unknown>;
  annotations?: Record<string, string>;
}
export interface ShutdownRequest extends TaskRef {
  now?: boolean;
}
export interface CheckpointRequest extends TaskRef {
  path?: string;
  options?: Record<string, unknown>;
}

export interface PidReply {
  pid: number;
}
export interface ExitReply {
  exitStatus: number;
  exitedAt: string | null;
}
export interface DeleteReply extends ExitReply {
  pid: number;
}
export interface StateReply {
  id: string;
  execId: string;
  bundle: string;
  pid: number;
  status: TaskStatus;
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
  exitStatus: number;
  exitedAt: string | null;
}
export interface ListedTask extends StateReply {
  podId: string;
}
export interface PidsReply {
  processes: ProcessEntry[];
}
export interface StatsReply {
  stats: Statistics;
}
export interface ConnectReply {
  shimPid: number;
  taskPid: number;
  version: string;
}
export interface ListReply {
  tasks: ListedTask[];
}
export type Empty = Record<string, never>;
