/**
 * Bad input: every operation with an unknown id, a wrong state, a bad signal
 * or a malformed spec gets its typed error, names what was wrong, and leaves
 * the node exactly as it was.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListReply } from '../../src/actors/operations.ts';
import { harness, linux, rejection, sandboxOf, workloadOf, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeEach(async () => {
  h = harness();
  // A running task with a running exec and a created exec, and a pod with a running sandbox.
  await h.node.create({ id: 't1', spec: linux('sleep inf') });
  await h.node.start({ id: 't1' });
  await h.node.exec({ id: 't1', execId: 'run', spec: { args: ['sh', '-c', 'sleep inf'] } });
  await h.node.start({ id: 't1', execId: 'run' });
  await h.node.exec({ id: 't1', execId: 'new', spec: { args: ['true'] } });
  await h.node.create({ id: 'pod', spec: linux('sleep inf', sandboxOf('pod')) });
  await h.node.start({ id: 'pod' });
});
afterEach(async () => {
  for (const id of ['t1', 'pod']) {
    await h.node.kill({ id, signal: 9, all: true }).catch(() => undefined);
    await h.node.wait({ id });
    await h.node.delete({ id });
  }
  expect((await h.close()).openSystems).toBe(0);
});

interface Snapshot {
  list: ListReply;
  execs: unknown[];
  events: number;
  systems: number;
}

async function snapshot(): Promise<Snapshot> {
  return {
    list: await h.node.list(),
    execs: await Promise.all(['run', 'new'].map((execId) => h.node.state({ id: 't1', execId }))),
    events: h.sink.events.length,
    systems: h.backend.openSystems,
  };
}

/** Asserts the call fails with `code`, its message mentions `mentions`, and nothing changed. */
async function refused(call: () => Promise<unknown>, code: string, mentions: string | RegExp): Promise<void> {
  const before = await snapshot();
  const err = await rejection(call());
  expect(err.code).toBe(code);
  expect(err.message).toMatch(mentions);
  expect(await snapshot()).toEqual(before);
}

describe('unknown ids are not_found naming the id', () => {
  const ops: [string, () => Promise<unknown>][] = [
    ['start', () => h.node.start({ id: 'nope' })],
    ['exec', () => h.node.exec({ id: 'nope', execId: 'e', spec: { args: ['true'] } })],
    ['kill', () => h.node.kill({ id: 'nope', signal: 15 })],
    ['delete', () => h.node.delete({ id: 'nope' })],
    ['state', () => h.node.state({ id: 'nope' })],
    ['wait', () => h.node.wait({ id: 'nope' })],
    ['pids', () => h.node.pids({ id: 'nope' })],
    ['pause', () => h.node.pause({ id: 'nope' })],
    ['resume', () => h.node.resume({ id: 'nope' })],
    ['resize-pty', () => h.node.resizePty({ id: 'nope', width: 1, height: 1 })],
    ['close-io', () => h.node.closeIo({ id: 'nope' })],
    ['update', () => h.node.update({ id: 'nope', resources: { memory: { limit: 1 } } })],
    ['stats', () => h.node.stats({ id: 'nope' })],
    ['connect', () => h.node.connect({ id: 'nope' })],
  ];
  for (const [op, call] of ops) it(`${op} of an unknown task`, () => refused(call, 'not_found', /'nope'/));

  const execOps: [string, () => Promise<unknown>][] = [
    ['start', () => h.node.start({ id: 't1', execId: 'ghost' })],
    ['kill', () => h.node.kill({ id: 't1', execId: 'ghost', signal: 15 })],
    ['delete', () => h.node.delete({ id: 't1', execId: 'ghost' })],
    ['state', () => h.node.state({ id: 't1', execId: 'ghost' })],
    ['wait', () => h.node.wait({ id: 't1', execId: 'ghost' })],
    ['resize-pty', () => h.node.resizePty({ id: 't1', execId: 'ghost', width: 1, height: 1 })],
    ['close-io', () => h.node.closeIo({ id: 't1', execId: 'ghost' })],
  ];
  for (const [op, call] of execOps) it(`${op} of an unknown exec`, () => refused(call, 'not_found', /'ghost'.*'t1'/));
});

describe('malformed ids and fields are invalid_argument naming the field', () => {
  const bad = ['', 'has.dot', 'has space', 'x'.repeat(77), '-lead', 'trail_', 'a*b'];
  for (const id of bad) {
    it(`create with id ${JSON.stringify(id.slice(0, 12))}`, () => refused(() => h.node.create({ id, spec: linux('true') }), 'invalid_argument', /id/));
  }
  it('state with a non-string id', () => refused(() => h.node.state({ id: 42 as unknown as string }), 'invalid_argument', /id 42/));
  it('start with a dotted exec id', () => refused(() => h.node.start({ id: 't1', execId: 'a.b' }), 'invalid_argument', /execId/));
  it('exec with an empty exec id', () => refused(() => h.node.exec({ id: 't1', execId: '', spec: { args: ['true'] } }), 'invalid_argument', /execId/));
  it('exec with a spec that is not an object', () =>
    refused(() => h.node.exec({ id: 't1', execId: 'e9', spec: 'sh' as unknown as { args: string[] } }), 'invalid_argument', /spec/));
  it('create with a spec that is not an object', () =>
    refused(() => h.node.create({ id: 't9', spec: [] as unknown as Record<string, unknown> }), 'invalid_argument', /spec/));
  it('create with neither spec nor bundle', () => refused(() => h.node.create({ id: 't9' }), 'invalid_argument', /spec nor bundle/));
  it('create with a relative bundle', () => refused(() => h.node.create({ id: 't9', bundle: 'rel/dir' }), 'invalid_argument', /absolute/));
  it('create whose bundle has no config.json', () =>
    refused(() => h.node.create({ id: 't9', bundle: '/nonexistent/bundle' }), 'invalid_argument', /config\.json/));
  it('create with a relative stdout path', () =>
    refused(() => h.node.create({ id: 't9', stdout: 'out.log', spec: linux('true') }), 'invalid_argument', /stdout/));
  it('create with terminal and stderr', () =>
    refused(() => h.node.create({ id: 't9', terminal: true, stderr: '/tmp/err', spec: linux('true') }), 'failed_precondition', /stderr/));
  it('create with an unknown container type', () =>
    refused(
      () => h.node.create({ id: 't9', spec: linux('true', { 'io.kubernetes.cri.container-type': 'pause', 'io.kubernetes.cri.sandbox-id': 'x' }) }),
      'invalid_argument',
      /'pause'/,
    ));
  it('create of a spec with neither linux nor windows', () =>
    refused(() => h.node.create({ id: 't9', spec: { process: { args: ['true'] } } }), 'failed_precondition', /WCOW or LCOW/));
  it('resize with a negative width', () =>
    refused(() => h.node.resizePty({ id: 't1', width: -1, height: 1 }), 'invalid_argument', /width/));
  it('kill with all as a string', () =>
    refused(() => h.node.kill({ id: 't1', signal: 9, all: 'yes' as unknown as boolean }), 'invalid_argument', /all/));
});

describe('bad signals are invalid_argument', () => {
  for (const signal of [0, 32, 65, -9, 2.5]) {
    it(`signal ${signal} to a running init`, () => refused(() => h.node.kill({ id: 't1', signal }), 'invalid_argument', new RegExp(`signal ${signal}`)));
  }
  it('a bad signal to a created exec is refused too, leaving it created', () =>
    refused(() => h.node.kill({ id: 't1', execId: 'new', signal: 99 }), 'invalid_argument', /signal 99/));
});

describe('wrong state is failed_precondition or not_found, changing nothing', () => {
  it('start of a running init', () => refused(() => h.node.start({ id: 't1' }), 'failed_precondition', /'running' for start/));
  it('start of a running exec', () => refused(() => h.node.start({ id: 't1', execId: 'run' }), 'failed_precondition', /'running' for start/));
  it('delete of a running exec', () => refused(() => h.node.delete({ id: 't1', execId: 'run' }), 'failed_precondition', /'running' for delete/));
  it('kill all with an exec id', () =>
    refused(() => h.node.kill({ id: 't1', execId: 'run', signal: 9, all: true }), 'failed_precondition', /all/));
  it('resize of a process without a terminal', () =>
    refused(() => h.node.resizePty({ id: 't1', execId: 'run', width: 80, height: 24 }), 'failed_precondition', /not a tty/));
  it('resume of a task that is not paused', () => refused(() => h.node.resume({ id: 't1' }), 'failed_precondition', /not paused/));
  it('exec with an id already in use', () =>
    refused(() => h.node.exec({ id: 't1', execId: 'run', spec: { args: ['true'] } }), 'already_exists', /'run'/));
  it('exec whose id is the task id (decision 9)', () =>
    refused(() => h.node.exec({ id: 't1', execId: 't1', spec: { args: ['true'] } }), 'already_exists', /'t1'/));
  it('create with an id in use on the node (decision 4)', () =>
    refused(() => h.node.create({ id: 't1', spec: linux('true') }), 'already_exists', /'t1'/));
  it('create of a workload in a pod that does not exist', () =>
    refused(() => h.node.create({ id: 'w1', spec: linux('true', workloadOf('ghostpod')) }), 'not_found', /'ghostpod'/));
  it('create of a workload whose id is the pod id', () =>
    refused(() => h.node.create({ id: 'pod', spec: linux('true', workloadOf('pod')) }), 'already_exists', /'pod'/));
  it('create of a sandbox whose sandbox id differs', () =>
    refused(
      () => h.node.create({ id: 'p2', spec: linux('true', { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'other' }) }),
      'failed_precondition',
      /'other'/,
    ));
  it('update without resources', () => refused(() => h.node.update({ id: 't1' }), 'invalid_argument', /resources/));
  it('checkpoint is not_implemented', () => refused(() => h.node.checkpoint({ id: 't1' }), 'not_implemented', /checkpoint/));
});
