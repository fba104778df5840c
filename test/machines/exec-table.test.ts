/**
 * The transition table at the top of src/machines/exec.ts is the lifecycle
 * as people read it; this test reads that table and checks every row against
 * the machine, so the two cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { initialTransition, transition, type AnyMachineSnapshot } from 'xstate';
import { InternalError } from '../../src/errors.ts';
import { execMachine, type ExecEmitted, type ExecEvent, type ExecRuntime } from '../../src/machines/exec.ts';

const PID = 42;
const at = 't';
const COMMANDS: Record<string, ExecEvent | { type: string; [k: string]: unknown }> = {
  START: { type: 'START', reqId: 'r' },
  KILL: { type: 'KILL', reqId: 'r', plan: { kind: 'signal', signal: { kind: 'linux', signal: 15 } }, at },
  DELETE: { type: 'DELETE', reqId: 'r', at },
  'FORCE_EXIT(s)': { type: 'FORCE_EXIT', status: 5, at },
  FORCE_EXIT: { type: 'FORCE_EXIT', status: 5, at },
  CONTAINER_EXITED: { type: 'CONTAINER_EXITED', at },
  RESIZE: { type: 'RESIZE', reqId: 'r', width: 80, height: 24 },
  CLOSE_IO: { type: 'CLOSE_IO', reqId: 'r' },
  ABANDON: { type: 'ABANDON', at },
  PROCESS_EXITED: { type: 'PROCESS_EXITED', pid: 7, exitCode: 1, at },
  'PROCESS_EXITED (own pid)': { type: 'PROCESS_EXITED', pid: PID, exitCode: 0, at },
  'startProcess done': { type: 'xstate.done.actor.startProcess', output: { pid: PID } },
  'startProcess failed': {
    type: 'xstate.error.actor.startProcess',
    error: { error: new InternalError('x'), executableNotFound: false, at },
  },
};

function reach(state: string, terminal: boolean): AnyMachineSnapshot {
  const steps: Record<string, string[]> = {
    created: [],
    starting: ['START'],
    running: ['START', 'startProcess done'],
    'running.busy': ['START', 'startProcess done', 'KILL'],
    'running.terminating': ['START', 'startProcess done', 'FORCE_EXIT'],
    exited: ['KILL'],
  };
  let [s] = initialTransition(execMachine, { runtime: {} as ExecRuntime, taskId: 't', execId: 'e', terminal, fake: false });
  for (const step of steps[state] ?? []) [s] = transition(execMachine, s, COMMANDS[step] as ExecEvent);
  return s;
}

function stateName(s: AnyMachineSnapshot): string {
  return typeof s.value === 'string' ? s.value : Object.entries(s.value).map(([k, v]) => `${k}.${String(v)}`)[0] ?? '';
}

interface Row {
  states: string[];
  commands: string[];
  next: string;
  published: string;
}

function tableRows(): Row[] {
  const source = readFileSync(new URL('../../src/machines/exec.ts', import.meta.url), 'utf8');
  const header = source.slice(0, source.indexOf('*/'));
  return header
    .split('\n')
    .filter((line) => line.includes('│') && !line.includes('command or notification'))
    .map((line) => line.replace(/^\s*\*\s?/, '').split('│').map((c) => c.trim()))
    .map(([state = '', command = '', next = '', published = '']) => ({
      states: state.split(',').map((s) => s.trim()),
      commands: command.split(/\s*[/,]\s*/).map((c) => c.trim()),
      next,
      published,
    }));
}

describe('exec machine transition table', () => {
  const rows = tableRows();
  it('has a row for every state', () => {
    const states = new Set(rows.flatMap((r) => r.states));
    for (const s of ['created', 'starting', 'running', 'exited']) expect(states).toContain(s);
  });
  for (const row of rows) {
    for (const state of row.states) {
      for (const command of row.commands) {
        it(`${state} │ ${command} → ${row.next} │ ${row.published}`, () => {
          const event = COMMANDS[command];
          expect(event, `unknown command '${command}' in the table`).toBeDefined();
          const terminal = !row.published.includes('no tty');
          const before = reach(state, terminal);
          const [after, actions] = transition(execMachine, before, event as ExecEvent);
          const emitted = (actions as { type: string; params?: unknown }[]).filter((a) => a.type === 'xstate.emit').map((a) => (a.params as { event: ExecEmitted }).event);
          const [nextState, status] = row.next.split(/\s*\(/);
          const expected = nextState === 'running' ? stateName(after).split('.')[0] : stateName(after);
          expect(expected).toBe(nextState?.trim());
          if (status !== undefined && /^\d+\)$/.test(status)) {
            expect(after.context.exitStatus).toBe(Number(status.slice(0, -1)));
          }
          const errorCode = ['failed_precondition', 'not_found'].find((c) => row.published.startsWith(c));
          const reply = emitted.find((e) => e.type === 'reply') as Extract<ExecEmitted, { type: 'reply' }> | undefined;
          if (errorCode !== undefined) {
            expect(reply?.reply.ok).toBe(false);
            expect(reply?.reply.ok === false && reply.reply.error.code).toBe(errorCode);
          }
          if (row.published.startsWith('start |')) expect(emitted.map((e) => e.type)).toContain('started');
          if (/no event/.test(row.published)) expect(emitted.map((e) => e.type)).not.toContain('exit');
        });
      }
    }
  }
});
