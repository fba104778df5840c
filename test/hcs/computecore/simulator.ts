/**
 * The native simulator for the computecore suites: built on demand (the
 * build is a no-op when up to date, so every suite may call it), and the
 * leak checks each test ends with.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { expect } from 'vitest';
import type { BackendNotification } from '../../../src/hcs/backend.ts';
import { simulatorControl, type SimulatorControl } from '../../../src/hcs/computecore/simulator.ts';

const SCRIPT = fileURLToPath(new URL('../../../scripts/build-native.sh', import.meta.url));

export function ensureSimulator(): void {
  execFileSync('bash', [SCRIPT], { stdio: ['ignore', 'ignore', 'inherit'] });
}

let control: SimulatorControl | undefined;

export function sim(): SimulatorControl {
  ensureSimulator();
  control ??= simulatorControl();
  return control;
}

/** Polls until `condition` holds, for at most `ms`. */
export async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** After each test: no handle, result string or simulator thread is left, and no handle was closed twice. */
export async function expectNothingLeaked(): Promise<void> {
  const c = sim();
  expect(c.openHandles()).toBe(0);
  expect(c.staleCloses()).toBe(0);
  expect(c.outstandingStrings()).toBe(0);
  await until(() => c.liveThreads() === 0, 'the simulator threads to end', 8000);
  expect(c.systems()).toBe(0);
}

export function recorder(notifications: { subscribe(fn: (n: BackendNotification) => void): unknown }): BackendNotification[] {
  const seen: BackendNotification[] = [];
  notifications.subscribe((n) => seen.push(n));
  return seen;
}

/** A writable that keeps what it was given. */
export function sink(): PassThrough & { text(): string } {
  const s = new PassThrough() as PassThrough & { text(): string };
  const chunks: Buffer[] = [];
  s.on('data', (c: Buffer) => chunks.push(c));
  s.text = () => Buffer.concat(chunks).toString('utf8');
  return s;
}
