/**
 * Lifecycle events on NATS: subjects, envelope, contiguous per-node seq
 * (across restarts), replay from JetStream, two nodes on one server, and a
 * NATS restart in the middle of a run of lifecycles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PodvisorClient } from '../../src/cli/client.ts';
import { listNodes } from '../../src/cli/watch.ts';
import type { EventEnvelope } from '../../src/bus/events.ts';
import { startPodvisor, type Podvisor } from '../../src/bus/server.ts';
import { SimBackend } from '../../src/hcs/sim/backend.ts';
import { silentLogger } from '../../src/log.ts';
import { linux, sandboxOf, workloadOf } from '../helpers/harness.ts';
import { request, startTestNats, type TestNats } from '../helpers/nats.ts';

let nats: TestNats;
let stateDir: string;
const running: Podvisor[] = [];
const backends: SimBackend[] = [];

beforeEach(async () => {
  nats = await startTestNats();
  stateDir = mkdtempSync(join(tmpdir(), 'podvisor-state-'));
});
afterEach(async () => {
  for (const pv of running.splice(0)) await pv.stop();
  for (const b of backends.splice(0)) await b.close();
  await nats.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

async function serve(node: string): Promise<Podvisor> {
  const backend = new SimBackend();
  backends.push(backend);
  const pv = await startPodvisor({ backend, log: silentLogger(), natsUrl: nats.server.url, node, stateDir });
  running.push(pv);
  return pv;
}

/** Every stored event of the stream, in stream order. */
async function replay(nc: NatsConnection, filter = 'podvisor.*.events.>'): Promise<{ subject: string; env: EventEnvelope }[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get('PODVISOR_EVENTS', { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  const out: { subject: string; env: EventEnvelope }[] = [];
  const info = await consumer.info(true);
  let left = info.num_pending;
  while (left > 0) {
    const m = await consumer.next({ expires: 2_000 });
    if (m === null) break;
    out.push({ subject: m.subject, env: m.json() as EventEnvelope });
    left--;
  }
  return out;
}

async function lifecycle(nc: NatsConnection, node: string, id: string, annotations: Record<string, string> = {}): Promise<void> {
  const cmd = (op: string, body: unknown) => request(nc, `podvisor.${node}.task.${op}`, body, 10_000);
  await cmd('create', { id, spec: linux('echo hi; exit 2', annotations) });
  await cmd('start', { id });
  await cmd('wait', { id });
  await cmd('delete', { id });
}

describe('events on NATS', () => {
  it('podvisor nodes lists every node on the NATS system', async () => {
    await serve('n1');
    await serve('n2');
    const client = await PodvisorClient.connect({ natsUrl: nats.server.url, names: { prefix: 'podvisor', node: 'n1' }, timeoutMs: 5_000 });
    let printed = '';
    const out = new PassThrough();
    out.on('data', (c: Buffer) => (printed += c.toString()));
    await listNodes(client, { json: true, out });
    await client.close();
    expect((JSON.parse(printed) as { nodes: { node: string }[] }).nodes.map((n) => n.node)).toEqual(['n1', 'n2']);
  });

  it('refuses new work with unavailable, and says so, when events cannot reach NATS; works again once they do', async () => {
    const backend = new SimBackend();
    backends.push(backend);
    const pv = await startPodvisor({ backend, log: silentLogger(), natsUrl: nats.server.url, node: 'n1', stateDir, maxQueuedEvents: 3 });
    running.push(pv);
    await nats.server.stop();
    await pv.node.create({ id: 'a', spec: linux('sleep inf') });
    await pv.node.start({ id: 'a' });
    await pv.node.create({ id: 'b', spec: linux('sleep inf') });
    expect(pv.sink.queued).toBe(3);
    await expect(pv.node.create({ id: 'c', spec: linux('true') })).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('cannot publish') });
    expect(pv.node.taskCount).toBe(2);
    await nats.restart(0);
    for (let i = 0; i < 200 && pv.sink.queued > 0; i++) await new Promise((r) => setTimeout(r, 25));
    await pv.node.create({ id: 'c', spec: linux('true') });
    const nc = await nats.client();
    expect((await replay(nc)).map((e) => `${e.env.seq}:${e.env.topic}`)).toEqual(['1:/tasks/create', '2:/tasks/start', '3:/tasks/create', '4:/tasks/create']);
  });

  it('drained() resolves once the events waiting for NATS are stored, and rejects if the sink closes first', async () => {
    const backend = new SimBackend();
    backends.push(backend);
    const pv = await startPodvisor({ backend, log: silentLogger(), natsUrl: nats.server.url, node: 'n1', stateDir });
    running.push(pv);
    await pv.sink.drained();
    await nats.server.stop();
    await pv.node.create({ id: 'a', spec: linux('sleep inf') });
    await pv.node.start({ id: 'a' });
    let stored = false;
    const whenStored = pv.sink.drained().then(() => (stored = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stored).toBe(false);
    await nats.restart(0);
    await whenStored;
    expect(pv.sink.queued).toBe(0);
    const nc = await nats.client();
    expect((await replay(nc)).map((e) => e.env.topic)).toEqual(['/tasks/create', '/tasks/start']);
    await nats.server.stop();
    await pv.node.create({ id: 'b', spec: linux('true') });
    const never = pv.sink.drained();
    expect(await pv.sink.close(100)).toBe(1);
    await expect(never).rejects.toThrow('1 events were never stored');
    await nats.restart(0);
  });

  it('are published on <prefix>.<node>.events.<pod>.<task>.<topic> with the envelope and contiguous seq', async () => {
    await serve('n1');
    const nc = await nats.client();
    const cmd = (op: string, body: unknown) => request(nc, `podvisor.n1.task.${op}`, body);
    await cmd('create', { id: 'pod1', spec: linux('sleep inf', sandboxOf('pod1')) });
    await cmd('start', { id: 'pod1' });
    await cmd('create', { id: 'w1', spec: linux('exit 0', workloadOf('pod1')) });
    await cmd('start', { id: 'w1' });
    await cmd('wait', { id: 'w1' });
    const events = await replay(nc);
    expect(events.map((e) => e.subject)).toEqual([
      'podvisor.n1.events.pod1.pod1.create',
      'podvisor.n1.events.pod1.pod1.start',
      'podvisor.n1.events.pod1.w1.create',
      'podvisor.n1.events.pod1.w1.start',
      'podvisor.n1.events.pod1.w1.exit',
    ]);
    expect(events.map((e) => e.env.seq)).toEqual([1, 2, 3, 4, 5]);
    const exit = events[4]?.env;
    expect(exit).toMatchObject({ topic: '/tasks/exit', node: 'n1', podId: 'pod1', event: { containerId: 'w1', id: 'w1', exitStatus: 0 } });
    expect(exit?.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  });

  it('a late subscriber replays everything from JetStream; a live one sees the same in order', async () => {
    await serve('n1');
    const nc = await nats.client();
    const live: string[] = [];
    const sub = nc.subscribe('podvisor.n1.events.>', { callback: (_e, m) => void live.push(m.subject) });
    for (let i = 0; i < 5; i++) await lifecycle(nc, 'n1', `t${i}`);
    await nc.flush();
    sub.unsubscribe();
    const late = await nats.client();
    const stored = await replay(late);
    expect(stored).toHaveLength(20);
    expect(stored.map((e) => e.subject)).toEqual(live);
    expect(stored.map((e) => e.env.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('seq continues across a restart of the node', async () => {
    const first = await serve('n1');
    const nc = await nats.client();
    await lifecycle(nc, 'n1', 'a');
    await first.stop();
    running.splice(running.indexOf(first), 1);
    const second = await serve('n1');
    expect(second.sink.lastSeq).toBe(4);
    await lifecycle(nc, 'n1', 'b');
    expect((await replay(nc)).map((e) => e.env.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('two nodes on one server each answer only for themselves, with their own seq', async () => {
    await serve('n1');
    await serve('n2');
    const nc = await nats.client();
    await lifecycle(nc, 'n1', 'x');
    await lifecycle(nc, 'n2', 'y');
    expect((await request(nc, 'podvisor.n1.task.state', { id: 'y' })).errorCode).toBe('not_found');
    expect((await request(nc, 'podvisor.n2.task.state', { id: 'x' })).errorCode).toBe('not_found');
    const n1 = await replay(nc, 'podvisor.n1.events.>');
    const n2 = await replay(nc, 'podvisor.n2.events.>');
    expect(n1.map((e) => e.env.seq)).toEqual([1, 2, 3, 4]);
    expect(n2.map((e) => e.env.seq)).toEqual([1, 2, 3, 4]);
    expect(n2.every((e) => e.env.node === 'n2' && e.env.event !== null)).toBe(true);
  });

  it('a NATS restart in the middle of lifecycles loses and reorders nothing; commands work again after', async () => {
    const pv = await serve('n1');
    const nc = await nats.client();
    await lifecycle(nc, 'n1', 'before');
    // Lifecycles driven directly on the node while NATS is down: their events must wait, in order.
    await nats.server.stop();
    for (let i = 0; i < 3; i++) {
      await pv.node.create({ id: `down${i}`, spec: linux('exit 1') });
      await pv.node.start({ id: `down${i}` });
    }
    // create, start and exit of each: the exits come once the tasks are torn down.
    for (let i = 0; i < 100 && pv.sink.queued < 9; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pv.sink.queued).toBe(9);
    await nats.restart(0);
    // The server is back; the queue drains in order, and waits (which reply after the exit is out) return.
    for (let i = 0; i < 3; i++) {
      expect(await pv.node.wait({ id: `down${i}` })).toMatchObject({ exitStatus: 1 });
      await pv.node.delete({ id: `down${i}` });
    }
    for (let i = 0; i < 100 && pv.sink.queued > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(pv.sink.queued).toBe(0);
    await lifecycle(nc, 'n1', 'after');
    const events = await replay(nc);
    expect(events.map((e) => e.env.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(events.map((e) => e.env.topic).slice(4, 13)).toEqual(
      ['create', 'start', 'create', 'start', 'create', 'start', 'exit', 'exit', 'exit'].map((t) => `/tasks/${t}`),
    );
    expect(events.filter((e) => e.env.topic === '/tasks/exit').map((e) => (e.env.event as { id: string }).id)).toEqual([
      'before',
      'down0',
      'down1',
      'down2',
      'after',
    ]);
  });

  it('commands fail cleanly while NATS is down and work after it returns', async () => {
    await serve('n1');
    const nc = await nats.client();
    await nats.server.stop();
    await expect(request(nc, 'podvisor.n1.task.list', {}, 300)).rejects.toThrow();
    await nats.restart(0);
    let answer;
    for (let i = 0; i < 50; i++) {
      answer = await request(nc, 'podvisor.n1.task.list', {}, 500).catch(() => undefined);
      if (answer !== undefined) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(answer).toMatchObject({ ok: true, body: { tasks: [] } });
  });
});
