/**
 * Per-call fault injection for the simulated HCS: make a call fail with an
 * HCS error code, take longer, or hang until released, and make
 * notifications go missing. A faulted call fails before it does anything,
 * so an injected error never leaves half an operation behind.
 */
import { BackendError } from '../backend.ts';
import { backendErrorFromHresult } from '../hresults.ts';
import type { Clock } from '../../clock.ts';

export type SimOp =
  | 'createSystem'
  | 'startSystem'
  | 'shutdownSystem'
  | 'terminateSystem'
  | 'closeSystem'
  | 'pauseSystem'
  | 'resumeSystem'
  | 'listProcesses'
  | 'statistics'
  | 'updateResources'
  | 'createProcess'
  | 'signalProcess'
  | 'terminateProcess'
  | 'resizeConsole'
  | 'closeStdin';

export type FaultAction = { type: 'error'; hresult: number } | { type: 'delay'; ms: number } | { type: 'hang' };

export interface FaultRule {
  /** The call to fault, or `*` for every call. */
  op: SimOp | '*';
  /** Only calls on this compute system. */
  systemId?: string;
  /** How many calls it applies to; default 1, `Infinity` for all. */
  times?: number;
  action: FaultAction;
}

export interface DropRule {
  type: 'process-exited' | 'system-exited';
  systemId?: string;
  pid?: number;
  times?: number;
}

export interface FaultHandle {
  /** Removes the rule and lets every call it holds hung proceed. */
  release(): void;
  /** Calls (or notifications) the rule has applied to so far. */
  readonly hits: number;
}

interface Active<R> {
  rule: R;
  left: number;
  hits: number;
  hung: Set<() => void>;
}

export class FaultInjector {
  private calls: Active<FaultRule>[] = [];
  private drops: Active<DropRule>[] = [];
  private readonly cancels = new Set<(err: Error) => void>();

  constructor(private readonly clock: Clock) {}

  inject(rule: FaultRule): FaultHandle {
    const active: Active<FaultRule> = { rule, left: rule.times ?? 1, hits: 0, hung: new Set() };
    this.calls.push(active);
    return {
      release: () => {
        this.calls = this.calls.filter((a) => a !== active);
        for (const resume of active.hung) resume();
        active.hung.clear();
      },
      get hits() {
        return active.hits;
      },
    };
  }

  dropNotification(rule: DropRule): FaultHandle {
    const active: Active<DropRule> = { rule, left: rule.times ?? 1, hits: 0, hung: new Set() };
    this.drops.push(active);
    return {
      release: () => {
        this.drops = this.drops.filter((a) => a !== active);
      },
      get hits() {
        return active.hits;
      },
    };
  }

  clear(): void {
    for (const a of this.calls) for (const resume of a.hung) resume();
    this.calls = [];
    this.drops = [];
  }

  /** Applies the first matching rule to a call about to run. */
  async before(op: SimOp, systemId: string): Promise<void> {
    const active = this.calls.find(
      (a) => a.left > 0 && (a.rule.op === '*' || a.rule.op === op) && (a.rule.systemId === undefined || a.rule.systemId === systemId),
    );
    if (active === undefined) return;
    active.left--;
    active.hits++;
    const { action } = active.rule;
    if (action.type === 'error') throw backendErrorFromHresult(action.hresult, `${op} of '${systemId}' (injected fault)`);
    await new Promise<void>((resolve, reject) => {
      this.cancels.add(reject);
      const done = () => {
        this.cancels.delete(reject);
        resolve();
      };
      if (action.type === 'delay') this.clock.setTimeout(done, action.ms);
      else active.hung.add(done);
    });
  }

  /** Whether a notification is to be dropped (and counts it). */
  shouldDrop(type: DropRule['type'], systemId: string, pid?: number): boolean {
    const active = this.drops.find(
      (a) =>
        a.left > 0 &&
        a.rule.type === type &&
        (a.rule.systemId === undefined || a.rule.systemId === systemId) &&
        (a.rule.pid === undefined || a.rule.pid === pid),
    );
    if (active === undefined) return false;
    active.left--;
    active.hits++;
    return true;
  }

  /** Fails every delayed or hung call, for a backend that is closing. */
  cancelAll(): void {
    for (const reject of this.cancels) reject(new BackendError('unavailable', 'the simulated HCS was closed'));
    this.cancels.clear();
  }
}
