/** Pause and resume (decision 7): events, state, and where the backend cannot. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, linux, rejection, windows, type Harness } from '../helpers/harness.ts';

let h: Harness;
beforeEach(() => {
  h = harness();
});
afterEach(async () => {
  expect((await h.close()).openSystems).toBe(0);
});

describe('pause and resume', () => {
  it('publish paused and resumed, and state reports paused in between', async () => {
    await h.node.create({ id: 't1', spec: linux('sleep 10; exit 4') });
    await h.node.start({ id: 't1' });
    await h.node.pause({ id: 't1' });
    expect((await h.node.state({ id: 't1' })).status).toBe('paused');
    // Time passes while paused: the sleep does not finish.
    await h.advance(20_000);
    expect((await h.node.state({ id: 't1' })).status).toBe('paused');
    expect((await rejection(h.node.pause({ id: 't1' }))).code).toBe('failed_precondition');
    await h.node.resume({ id: 't1' });
    expect((await h.node.state({ id: 't1' })).status).toBe('running');
    const waited = h.node.wait({ id: 't1' });
    await h.advance(10_000);
    expect(await waited).toMatchObject({ exitStatus: 4 });
    expect(h.sink.topics('t1')).toEqual(['create', 'start', 'paused', 'resumed', 'exit:t1']);
    await h.node.delete({ id: 't1' });
  });

  it('a pause before the task runs is failed_precondition and publishes nothing', async () => {
    await h.node.create({ id: 't1', spec: linux('true') });
    expect((await rejection(h.node.pause({ id: 't1' }))).code).toBe('failed_precondition');
    expect(h.sink.topics('t1')).toEqual(['create']);
    await h.node.delete({ id: 't1' });
  });

  it('a process-isolated Windows container answers not_implemented (moby, seed 000)', async () => {
    await h.node.create({ id: 'w1', spec: windows('cmd /c ping -t 127.0.0.1') });
    await h.node.start({ id: 'w1' });
    const err = await rejection(h.node.pause({ id: 'w1' }));
    expect(err.code).toBe('not_implemented');
    expect((await h.node.state({ id: 'w1' })).status).toBe('running');
    await h.node.kill({ id: 'w1', signal: 9 });
    expect(await h.node.wait({ id: 'w1' })).toMatchObject({ exitStatus: 1 });
    await h.node.delete({ id: 'w1' });
    expect(h.sink.topics('w1')).toEqual(['create', 'start', 'exit:w1', 'delete:']);
  });

  it('a Hyper-V isolated Windows container can be paused', async () => {
    await h.node.create({ id: 'w1', spec: windows('cmd /c ping -t 127.0.0.1', {}, true) });
    await h.node.start({ id: 'w1' });
    await h.node.pause({ id: 'w1' });
    await h.node.resume({ id: 'w1' });
    await h.node.kill({ id: 'w1', signal: 15 });
    // A console CtrlShutdown ends the process with STATUS_CONTROL_C_EXIT.
    expect(await h.node.wait({ id: 'w1' })).toMatchObject({ exitStatus: 0xc000013a });
    await h.node.delete({ id: 'w1' });
  });
});
