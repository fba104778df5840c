/**
 * The engine on the HCS backend: a Node drives tasks through HcsBackend,
 * koffi and the native simulator in real time, with the same ordering rules
 * the simulated backend is held to.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { MemorySink } from '../../../src/actors/memory-sink.ts';
import { Node } from '../../../src/actors/node.ts';
import { RealClock } from '../../../src/clock.ts';
import { HcsBackend } from '../../../src/hcs/computecore/backend.ts';
import { silentLogger } from '../../../src/log.ts';
import { linux } from '../../helpers/harness.ts';
import { ensureSimulator, expectNothingLeaked } from './simulator.ts';

beforeAll(() => ensureSimulator());

let backend: HcsBackend;
let node: Node;
let sink: MemorySink;
let dir: string;
beforeEach(() => {
  backend = new HcsBackend();
  sink = new MemorySink();
  node = new Node({ backend, sink, log: silentLogger(), clock: new RealClock() });
  dir = mkdtempSync(join(tmpdir(), 'podvisor-hcs-'));
});
afterEach(async () => {
  await node.close();
  expect(backend.openSystems).toBe(0);
  await backend.close();
  await expectNothingLeaked();
  rmSync(dir, { recursive: true, force: true });
});

it('create, start, wait, delete: the exit status and every byte of output, output first', async () => {
  const out = join(dir, 'out.txt');
  await node.create({ id: 't1', stdout: out, spec: linux('echo one; echo two; exit 4') });
  let atExit = '';
  const stop = sink.subscribe((r) => {
    if (r.event.topic === 'exit') atExit = readFileSync(out, 'utf8');
  });
  await node.start({ id: 't1' });
  expect(await node.wait({ id: 't1' })).toMatchObject({ exitStatus: 4 });
  stop();
  expect(atExit).toBe('one\ntwo\n');
  await node.delete({ id: 't1' });
  expect(sink.topics('t1')).toEqual(['create', 'start', 'exit:t1', 'delete:']);
});

it('exec and kill: the exec exits before the init, each with its signal status', async () => {
  await node.create({ id: 't1', spec: linux('sleep inf') });
  await node.start({ id: 't1' });
  await node.exec({ id: 't1', execId: 'e1', spec: { args: ['sh', '-c', 'sleep inf'] } });
  await node.start({ id: 't1', execId: 'e1' });
  await node.kill({ id: 't1', execId: 'e1', signal: 15 });
  expect(await node.wait({ id: 't1', execId: 'e1' })).toMatchObject({ exitStatus: 143 });
  await node.kill({ id: 't1', signal: 9 });
  expect(await node.wait({ id: 't1' })).toMatchObject({ exitStatus: 137 });
  await node.delete({ id: 't1' });
  const topics = sink.topics('t1');
  expect(topics.indexOf('exit:e1')).toBeLessThan(topics.indexOf('exit:t1'));
});

it('a missing executable fails the start with 127 and leaves nothing behind', async () => {
  await node.create({ id: 't1', spec: { ...linux(''), process: { args: ['/bin/nosuch'], cwd: '/' } } });
  await expect(node.start({ id: 't1' })).rejects.toMatchObject({ code: expect.any(String) });
  expect(await node.wait({ id: 't1' })).toMatchObject({ exitStatus: 127 });
  await node.delete({ id: 't1' });
});

it('a task that ignores TERM keeps running until KILL, in real time', async () => {
  await node.create({ id: 't1', spec: linux("trap '' TERM; sleep inf") });
  await node.start({ id: 't1' });
  await node.kill({ id: 't1', signal: 15 });
  await new Promise((r) => setTimeout(r, 100));
  expect((await node.state({ id: 't1' })).status).toBe('running');
  await node.kill({ id: 't1', signal: 9 });
  expect(await node.wait({ id: 't1' })).toMatchObject({ exitStatus: 137 });
  await node.delete({ id: 't1' });
});
