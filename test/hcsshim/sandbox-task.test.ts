/**
 * The WCOW pod sandbox's stand-in task (reference/hcsshim.md §2.7), beside
 * its init's cases in exec.test.ts (§5.1): which pods get one, and that it
 * runs no execs.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { harness, rejection, sandboxOf, windows, type Harness } from '../helpers/harness.ts';

const POD = 'hvpod';
let h: Harness;
beforeEach(async () => {
  h = harness();
  await h.node.create({ id: POD, bundle: '/bundles/hvpod', spec: windows('cmd /c ping -t 127.0.0.1', sandboxOf(POD), true) });
});
afterEach(async () => {
  const state = await h.node.state({ id: POD }).catch(() => null);
  if (state !== null) {
    if (state.status !== 'stopped') await h.node.kill({ id: POD, signal: 9 });
    await h.node.wait({ id: POD });
    await h.node.delete({ id: POD });
  }
  expect(await h.close()).toEqual({ openSystems: 0, tasks: 0 });
});


describe('WCOW pod sandbox stand-in task (§2.7)', () => {
  it('the fake sandbox task runs no execs: exec is not_implemented (hcsshim §2.7)', async () => {
    await h.node.start({ id: POD });
    const err = await rejection(h.node.exec({ id: POD, execId: 'e1', spec: { commandLine: 'cmd /c echo hi' } }));
    expect(err.code).toBe('not_implemented');
    expect(h.sink.topics(POD)).toEqual(['create', 'start']);
  });

  it('a HostProcess pod (process-isolated, hostprocess annotation) also gets the fake sandbox', async () => {
    await h.node.create({
      id: 'hpc',
      spec: windows('cmd /c ping -t 127.0.0.1', { ...sandboxOf('hpc'), 'microsoft.com/hostprocess-container': 'true' }),
    });
    expect(await h.node.start({ id: 'hpc' })).toEqual({ pid: 1 });
    expect(h.backend.openSystems).toBe(0);
    await h.node.kill({ id: 'hpc', signal: 9 });
    await h.node.wait({ id: 'hpc' });
    await h.node.delete({ id: 'hpc' });
  });
});
