import { InvalidArgumentError } from './errors.ts';
import type { ProcessSignal, WindowsConsoleEvent } from './hcs/backend.ts';

export const SIGKILL = 9;
export const SIGTERM = 15;

/**
 * What a kill request turns into on the system's platform: a forced
 * terminate, or a signal the backend delivers.
 */
export type SignalPlan = { kind: 'terminate' } | { kind: 'signal'; signal: ProcessSignal };

/** WCOW's table (reference/hcsshim.md §1.4), for builds that support signals. */
const WINDOWS_SIGNALS: ReadonlyMap<number, WindowsConsoleEvent | 'terminate'> = new Map([
  [0, 'CtrlC'],
  [1, 'CtrlBreak'],
  [2, 'CtrlClose'],
  [5, 'CtrlLogOff'],
  [6, 'CtrlShutdown'],
  [SIGTERM, 'CtrlShutdown'],
  [SIGKILL, 'terminate'],
] as const);

function isLinuxSignal(n: number): boolean {
  // 32 and 33 are reserved by glibc for its threads; runc refuses them too.
  return (n >= 1 && n <= 31) || (n >= 34 && n <= 64);
}

/**
 * MUST throw `invalid_argument` for a signal the platform does not know
 * (decision 9), naming the process it was meant for.
 */
export function planSignal(signal: unknown, windows: boolean, target: string): SignalPlan {
  if (typeof signal !== 'number' || !Number.isInteger(signal)) {
    throw new InvalidArgumentError(`signal ${JSON.stringify(signal)} for ${target} is not an integer`);
  }
  if (windows) {
    const mapped = WINDOWS_SIGNALS.get(signal);
    if (mapped === undefined) {
      throw new InvalidArgumentError(`signal ${signal} for ${target}: invalid signal value for a Windows container`);
    }
    return mapped === 'terminate' ? { kind: 'terminate' } : { kind: 'signal', signal: { kind: 'windows', event: mapped } };
  }
  if (!isLinuxSignal(signal)) {
    throw new InvalidArgumentError(`signal ${signal} for ${target}: invalid signal value for a Linux container`);
  }
  return { kind: 'signal', signal: { kind: 'linux', signal } };
}
