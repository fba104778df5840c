import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const register = fileURLToPath(new URL('../../src/register-ts.mjs', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/main.ts', import.meta.url));

interface FixtureReport {
  sides: number;
  fromWorker: number;
  children: string[];
  stackLine: string;
}

function runFixture(cache: string): FixtureReport {
  const r = spawnSync(process.execPath, ['--import', register, fixture], {
    env: { ...process.env, PODVISOR_TS_CACHE: cache, NODE_OPTIONS: '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as FixtureReport;
}

describe('the TypeScript module hooks bin/podvisor.js runs on', () => {
  let cache = '';
  afterEach(() => rmSync(cache, { recursive: true, force: true }));

  it('run TypeScript in the main thread and in workers, with TS line numbers, and leave no esbuild process behind', () => {
    cache = mkdtempSync(join(tmpdir(), 'podvisor-ts-test-'));
    const cold = runFixture(cache);
    expect(cold.sides).toBe(42);
    expect(cold.fromWorker).toBe(2);
    // A worker's transforms ran esbuild; none of those processes outlives them, not even as a zombie.
    expect(cold.children).toEqual([]);
    expect(cold.stackLine).toMatch(/shape\.ts:22:\d+/);
    const cachedFiles = readdirSync(cache);
    // main.ts, worker.ts, the process helper, and shape.ts, which both threads load: one entry per source.
    expect(cachedFiles.length).toBe(4);

    // The second run is served from the cache, with the same result.
    const warm = runFixture(cache);
    expect(warm).toEqual(cold);
    expect(readdirSync(cache).sort()).toEqual(cachedFiles.sort());
  });
});
