import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { Svcm } from '@nats-io/services';
import type { EventEnvelope } from '../bus/events.ts';
import { SERVICE_NAME } from '../bus/service.ts';
import { eventsStreamName } from '../bus/subjects.ts';
import type { PodvisorClient } from './client.ts';
import { json, table, type Output } from './output.ts';

function line(o: Output, subject: string, env: EventEnvelope): void {
  if (o.json) json(o, { subject, ...env });
  else o.out.write(`${env.seq} ${env.timestamp} ${env.node} ${env.topic} ${subject.split('.').slice(3, 5).join('/')} ${JSON.stringify(env.event)}\n`);
}

/**
 * `podvisor events`: follows events live, or with `since` replays them from
 * the JetStream stream first (a seq number or an RFC 3339 time) and goes on
 * following. `filter` is a subject under the prefix, e.g. `*.events.pod1.>`.
 */
export async function followEvents(
  client: PodvisorClient,
  o: Output,
  opts: { prefix: string; filter?: string; since?: string; limit?: number; onReady?: (filter: string) => void },
): Promise<void> {
  const filter = `${opts.prefix}.${opts.filter ?? '*.events.>'}`;
  let printed = 0;
  const done = () => opts.limit !== undefined && printed >= opts.limit;
  if (opts.since !== undefined) {
    const js = jetstream(client.nc);
    const since = opts.since;
    const start = /^\d+$/.test(since)
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Number(since) }
      : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(since).toISOString() };
    const consumer = await js.consumers.get(eventsStreamName(opts.prefix), { filter_subjects: filter, ...start });
    const messages = await consumer.consume();
    for await (const m of messages) {
      line(o, m.subject, m.json() as EventEnvelope);
      printed++;
      if (done()) break;
    }
    return;
  }
  const sub = client.nc.subscribe(filter);
  // Once the server has the subscription, nothing published from now on is missed.
  await client.nc.flush();
  opts.onReady?.(filter);
  for await (const m of sub) {
    line(o, m.subject, m.json() as EventEnvelope);
    printed++;
    if (done()) break;
  }
}

/** `podvisor nodes`: every podvisor node answering a $SRV.PING on this NATS system. */
export async function listNodes(client: PodvisorClient, o: Output): Promise<void> {
  const rows: { node: string; version: string; id: string; prefix: string }[] = [];
  for await (const p of await new Svcm(client.nc).client({ strategy: 'timer', maxWait: 1_000 }).ping(SERVICE_NAME)) {
    rows.push({ node: p.metadata?.['node'] ?? '?', prefix: p.metadata?.['prefix'] ?? '?', version: p.version, id: p.id });
  }
  rows.sort((a, b) => a.node.localeCompare(b.node));
  if (o.json) json(o, { nodes: rows });
  else table(o, ['NODE', 'PREFIX', 'VERSION', 'ID'], rows.map((r) => [r.node, r.prefix, r.version, r.id]));
}
