/**
 * hcsshim's supporting-package tests (reference/hcsshim.md §5.3 P22, §5.7
 * O1–O6, G4–G6) as podvisor tests. Adapted: hcsshim returns plain errors for
 * bad sandbox annotations; podvisor types them `invalid_argument`
 * (decision 9). Signals arrive as numbers on the wire, so the string forms
 * of G1–G3/G5 (`"TERM"`, `"test"`) have no counterpart; their numeric
 * halves are below.
 */
import { describe, expect, it } from 'vitest';
import { applyHostProcessRules, sandboxTypeAndId } from '../../src/machines/pod-rules.ts';
import { planSignal } from '../../src/signals.ts';
import type { OciSpec } from '../../src/oci.ts';

describe('sandbox annotations (O1–O6)', () => {
  const t = 'io.kubernetes.cri.container-type';
  const s = 'io.kubernetes.cri.sandbox-id';
  it('O1 container type without a sandbox id is invalid_argument', () => {
    expect(() => sandboxTypeAndId({ [t]: 'container' })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
  it('O2 sandbox type without a sandbox id is invalid_argument', () => {
    expect(() => sandboxTypeAndId({ [t]: 'sandbox' })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
  it('O3 a sandbox id without a type is invalid_argument', () => {
    expect(() => sandboxTypeAndId({ [s]: 'x' })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
  it('O4 no annotations is a standalone task', () => {
    expect(sandboxTypeAndId(undefined)).toEqual({ type: '', sandboxId: '' });
  });
  it('O5 container with a sandbox id', () => {
    expect(sandboxTypeAndId({ [t]: 'container', [s]: 'x' })).toEqual({ type: 'container', sandboxId: 'x' });
  });
  it('O6 sandbox with a sandbox id', () => {
    expect(sandboxTypeAndId({ [t]: 'sandbox', [s]: 'x' })).toEqual({ type: 'sandbox', sandboxId: 'x' });
  });
  it('an unknown container type is invalid_argument naming it', () => {
    expect(() => sandboxTypeAndId({ [t]: 'pause', [s]: 'x' })).toThrow(/'pause'/);
  });
});

describe('signals (G4–G6 numeric, Linux table)', () => {
  it('G6 WCOW: 0,1,2,5 map to console events; 6 and 15 to CtrlShutdown; 9 terminates', () => {
    const events = [0, 1, 2, 5, 6, 15].map((n) => planSignal(n, true, 'x'));
    expect(events).toEqual([
      { kind: 'signal', signal: { kind: 'windows', event: 'CtrlC' } },
      { kind: 'signal', signal: { kind: 'windows', event: 'CtrlBreak' } },
      { kind: 'signal', signal: { kind: 'windows', event: 'CtrlClose' } },
      { kind: 'signal', signal: { kind: 'windows', event: 'CtrlLogOff' } },
      { kind: 'signal', signal: { kind: 'windows', event: 'CtrlShutdown' } },
      { kind: 'signal', signal: { kind: 'windows', event: 'CtrlShutdown' } },
    ]);
    expect(planSignal(9, true, 'x')).toEqual({ kind: 'terminate' });
  });
  it('G6 WCOW: any other number (20) is invalid_argument', () => {
    for (const n of [3, 4, 7, 20, 64]) expect(() => planSignal(n, true, 'x')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
  it('Linux: 1–31 and 34–64 are signals; 0, 32, 33, 65, -1, 1.5 and "TERM" are invalid_argument', () => {
    for (const n of [1, 9, 15, 31, 34, 64]) expect(planSignal(n, false, 'x')).toEqual({ kind: 'signal', signal: { kind: 'linux', signal: n } });
    for (const n of [0, 32, 33, 65, -1, 1.5, 'TERM']) {
      expect(() => planSignal(n, false, 'task t')).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });
});

describe('HostProcess rules (P22)', () => {
  const hpc = { 'microsoft.com/hostprocess-container': 'true' };
  const spec = (annotations: Record<string, string>, iso: boolean): OciSpec => ({
    windows: { ...(iso ? { hyperv: {} } : {}) },
    annotations,
  });
  const host = { hasHost: false, hostSupportsHostProcess: true };
  const inherit = 'microsoft.com/hostprocess-inherit-user';
  const rootfs = 'microsoft.com/hostprocess-rootfs-location';

  it('a: plain isolated pod, HPC isolated container: unchanged', () => {
    expect(applyHostProcessRules(spec({}, true), spec(hpc, true), host)).toEqual(hpc);
  });
  it('b: HPC isolated pod, HPC isolated container: unchanged', () => {
    expect(applyHostProcessRules(spec(hpc, true), spec(hpc, true), host)).toEqual(hpc);
  });
  it('c: HPC process-isolated pod, plain process-isolated container: failed_precondition', () => {
    expect(() => applyHostProcessRules(spec(hpc, false), spec({}, false), host)).toThrow(
      expect.objectContaining({ code: 'failed_precondition', message: expect.stringContaining('job container running on host') }),
    );
  });
  it('d: HPC isolated pod, plain process-isolated container: unchanged', () => {
    expect(applyHostProcessRules(spec(hpc, true), spec({}, false), host)).toEqual({});
  });
  it('e: HPC isolated pod with inherit-user and rootfs-location: passed to an HPC isolated container', () => {
    const pod = spec({ ...hpc, [inherit]: 'true', [rootfs]: 'C:\\test' }, true);
    expect(applyHostProcessRules(pod, spec(hpc, true), host)).toEqual({ ...hpc, [inherit]: 'true', [rootfs]: 'C:\\test' });
  });
  it('f: the same pass-through when both are process-isolated', () => {
    const pod = spec({ ...hpc, [inherit]: 'true', [rootfs]: 'C:\\test' }, false);
    expect(applyHostProcessRules(pod, spec(hpc, false), host)).toEqual({ ...hpc, [inherit]: 'true', [rootfs]: 'C:\\test' });
  });
  it('g: a non-HPC pod passes nothing to a normal container', () => {
    const pod = spec({ [inherit]: 'true', [rootfs]: 'C:\\test' }, true);
    expect(applyHostProcessRules(pod, spec({}, true), host)).toEqual({});
  });
  it('h: HPC isolated pod, plain isolated container: unchanged', () => {
    expect(applyHostProcessRules(spec({ ...hpc, [inherit]: 'true' }, true), spec({}, true), host)).toEqual({});
  });
  it('i: a normal container asking to inherit the user gets "false"', () => {
    expect(applyHostProcessRules(spec(hpc, true), spec({ [inherit]: 'true' }, true), host)).toEqual({ [inherit]: 'false' });
  });
  it('rule 1: an HPC isolated container in a utility VM without HostProcess support is refused', () => {
    expect(() => applyHostProcessRules(spec({}, true), spec(hpc, true), { hasHost: true, hostSupportsHostProcess: false })).toThrow(
      expect.objectContaining({ code: 'failed_precondition' }),
    );
  });
  it('never mutates the specs it is given', () => {
    const ctr = spec({ [inherit]: 'true' }, true);
    applyHostProcessRules(spec(hpc, true), ctr, host);
    expect(ctr.annotations).toEqual({ [inherit]: 'true' });
  });
});
