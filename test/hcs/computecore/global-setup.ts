import { ensureSimulator } from './simulator.ts';

/** Builds the native HCS simulator once before the suites that load it. */
export default function setup(): void {
  ensureSimulator();
}
