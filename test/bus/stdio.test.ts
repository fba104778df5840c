/** The `nats` stdio form over a real nats-server: output before exit, input until EOF. */
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Podvisor } from '../../src/bus/server.ts';
import { eofHeaders } from '../../src/bus/stdio.ts';
import type { SimBackend } from '../../src/hcs/sim/backend.ts';
import { linux } from '../helpers/harness.ts';
import { request, serveNode, startTestNats, type ServedNode, type TestNats } from '../helpers/nats.ts';

let nats: TestNats;
let served: ServedNode;
let pv: Podvisor;
let backend: SimBackend;
let nc: NatsConnection;
const cmd = (op: string, body: unknown) => request(nc, `podvisor.n1.task.${op}`, body);

beforeAll(async () => {
  nats = await startTestNats();
  served = await serveNode(nats, 'n1');
  ({ pv, backend } = served);
  nc = await nats.client();
});
afterAll(async () => {
  await served?.stop();
  await nats?.stop();
});

describe('nats stdio', () => {
  it('delivers all output of a process before its exit event, stdout and stderr apart', async () => {
    const seen: string[] = [];
    const dec = new TextDecoder();
    nc.subscribe('podvisor.n1.io.t1.init.*', { callback: (_e, m) => void seen.push(`${m.subject.split('.').pop()}:${dec.decode(m.data)}`) });
    nc.subscribe('podvisor.n1.events.t1.t1.exit', { callback: () => void seen.push('EXIT') });
    await nc.flush();
    await cmd('create', { id: 't1', stdout: 'nats', stderr: 'nats', spec: linux('echo one; echo two; nosuchcmd; exit 2') });
    await cmd('start', { id: 't1' });
    expect((await cmd('wait', { id: 't1' })).body).toMatchObject({ exitStatus: 2 });
    await nc.flush();
    expect(seen).toEqual(['stdout:one\n', 'stdout:two\n', 'stderr:sh: nosuchcmd: not found\n', 'EXIT']);
    await cmd('delete', { id: 't1' });
  });

  it('feeds stdin from NATS until the EOF header, for an exec too', async () => {
    await cmd('create', { id: 't2', spec: linux('sleep inf') });
    await cmd('start', { id: 't2' });
    const out: string[] = [];
    nc.subscribe('podvisor.n1.io.t2.cat1.stdout', { callback: (_e, m) => void out.push(new TextDecoder().decode(m.data)) });
    await nc.flush();
    await cmd('exec', { id: 't2', execId: 'cat1', stdin: 'nats', stdout: 'nats', spec: { args: ['cat'] } });
    await cmd('start', { id: 't2', execId: 'cat1' });
    nc.publish('podvisor.n1.io.t2.cat1.stdin', 'hello ');
    nc.publish('podvisor.n1.io.t2.cat1.stdin', 'world');
    await nc.flush();
    expect((await cmd('state', { id: 't2', execId: 'cat1' })).body).toMatchObject({ status: 'running' });
    nc.publish('podvisor.n1.io.t2.cat1.stdin', '', { headers: eofHeaders() });
    expect((await cmd('wait', { id: 't2', execId: 'cat1' })).body).toMatchObject({ exitStatus: 0 });
    await nc.flush();
    expect(out.join('')).toBe('hello world');
    await cmd('kill', { id: 't2', signal: 9 });
    await cmd('wait', { id: 't2' });
    await cmd('delete', { id: 't2' });
  });
});
