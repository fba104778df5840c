/**
 * Every NATS subject and stream name podvisor uses (api.md "Names",
 * "Events", "Stdio"), built in one place so the service, the publisher,
 * the CLI and the deploy permissions agree.
 */
import type { Operation } from '../actors/operations.ts';
import type { Topic } from '../events.ts';

export interface BusNames {
  prefix: string;
  node: string;
}

/** The host name as a subject token: lower-cased, anything outside [a-z0-9_-] replaced by '-'. */
export function defaultNodeId(hostname: string): string {
  return hostname.toLowerCase().replace(/[^a-z0-9_-]/g, '-');
}

export function commandSubject(n: BusNames, op: Operation): string {
  return `${n.prefix}.${n.node}.task.${op}`;
}

export function eventSubject(n: BusNames, podId: string, taskId: string, topic: Topic): string {
  return `${n.prefix}.${n.node}.events.${podId}.${taskId}.${topic}`;
}

/** Everything one node publishes as events. */
export function nodeEventsFilter(n: BusNames): string {
  return `${n.prefix}.${n.node}.events.>`;
}

/** What the events stream captures: every node's events under the prefix. */
export function eventsStreamSubject(prefix: string): string {
  return `${prefix}.*.events.>`;
}

export function eventsStreamName(prefix: string): string {
  return `${prefix.toUpperCase().replace(/[^A-Z0-9_-]/g, '_')}_EVENTS`;
}

export function ioSubject(n: BusNames, taskId: string, execId: string, stream: 'stdin' | 'stdout' | 'stderr'): string {
  return `${n.prefix}.${n.node}.io.${taskId}.${execId === '' ? 'init' : execId}.${stream}`;
}
