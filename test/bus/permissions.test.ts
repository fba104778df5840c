/**
 * deploy/nats/authorization.conf on a real nats-server: the podvisor service
 * works with its own user, a controller can command and read events but not
 * forge them, a dashboard can only read and replay events.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Podvisor } from '../../src/bus/server.ts';
import { linux } from '../helpers/harness.ts';
import { request, serveNode, startTestNats, type ServedNode, type TestNats } from '../helpers/nats.ts';

const AUTH = join(import.meta.dirname, '..', '..', 'deploy', 'nats', 'authorization.conf');
let nats: TestNats;
let pv: Podvisor;
let served: ServedNode;
const conns: NatsConnection[] = [];

async function as(user: string, pass: string): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.server.url, user, pass });
  conns.push(nc);
  return nc;
}

beforeAll(async () => {
  // The file as shipped, after the variables it expects (an include would resolve relative to the test's config).
  nats = await startTestNats(`SERVICE_PASS: "svc-secret"\nCONTROLLER_PASS: "ctl-secret"\nDASHBOARD_PASS: "dash-secret"\n${readFileSync(AUTH, 'utf8')}`);
  served = await serveNode(nats, 'n1', { user: 'podvisor', pass: 'svc-secret' });
  pv = served.pv;
});
afterAll(async () => {
  for (const c of conns) await c.close().catch(() => undefined);
  await served?.stop();
  await nats?.stop();
});

describe('deploy/ NATS permissions', () => {
  it('an unknown user is refused', async () => {
    await expect(connect({ servers: nats.server.url, user: 'mallory', pass: 'x' })).rejects.toThrow(/Authorization/i);
  });

  it('a controller drives a task, follows its events and replays them', async () => {
    const ctl = await as('controller', 'ctl-secret');
    const live: string[] = [];
    ctl.subscribe('podvisor.n1.events.>', { callback: (_e, m) => void live.push(m.subject) });
    await ctl.flush();
    expect((await request(ctl, 'podvisor.n1.task.create', { id: 't1', spec: linux('exit 4') })).ok).toBe(true);
    await request(ctl, 'podvisor.n1.task.start', { id: 't1' });
    expect((await request(ctl, 'podvisor.n1.task.wait', { id: 't1' })).body).toMatchObject({ exitStatus: 4 });
    await ctl.flush();
    expect(live).toEqual(['podvisor.n1.events.t1.t1.create', 'podvisor.n1.events.t1.t1.start', 'podvisor.n1.events.t1.t1.exit']);
    const consumer = await jetstream(ctl).consumers.get('PODVISOR_EVENTS', { deliver_policy: DeliverPolicy.All });
    const first = await consumer.next({ expires: 2_000 });
    expect(first?.subject).toBe('podvisor.n1.events.t1.t1.create');
  });

  it('a controller cannot publish an event', async () => {
    // A dashboard, which may read events, watches for the forgery.
    const watcher = await as('dashboard', 'dash-secret');
    const seen: string[] = [];
    watcher.subscribe('podvisor.n1.events.forged.>', { callback: (err, m) => void seen.push(err === null ? m.subject : `error: ${err.message}`) });
    await watcher.flush();
    const ctl = await as('controller', 'ctl-secret');
    const errors: string[] = [];
    void (async () => {
      for await (const s of ctl.status()) if (s.type === 'error') errors.push(String(s.error));
    })();
    ctl.publish('podvisor.n1.events.forged.forged.exit', JSON.stringify({ topic: '/tasks/exit' }));
    await ctl.flush().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toEqual([]);
    expect(errors.join(' ')).toMatch(/Permissions Violation for Publish to "podvisor\.n1\.events\.forged/);
  });

  it('a dashboard cannot send a command, but can follow and replay events', async () => {
    const dash = await as('dashboard', 'dash-secret');
    await expect(request(dash, 'podvisor.n1.task.list', {}, 1_000)).rejects.toThrow(/Permissions Violation|timeout|no responders/i);
    const consumer = await jetstream(dash).consumers.get('PODVISOR_EVENTS', { deliver_policy: DeliverPolicy.All });
    const first = await consumer.next({ expires: 2_000 });
    expect(first?.json()).toMatchObject({ topic: '/tasks/create', node: 'n1', seq: 1 });
    // Nothing a dashboard did reached the node.
    expect((await pv.node.list()).tasks.map((t) => t.id)).toEqual(['t1']);
  });
});
