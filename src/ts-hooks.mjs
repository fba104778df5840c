// Module hooks that run podvisor's TypeScript sources on Node 20 without a
// build step: every `.ts` module is stripped of its types by esbuild with
// the project's tsconfig. tsx did this before, but it also wraps every named
// function in a helper that gives it a `name` property, which costs about
// 13 KiB of heap per resident pod (docs/performance.md); plain esbuild keeps
// names as the source has them, which is all an unminified build needs.
//
// Each transform is a one-shot esbuild process, reaped before the call
// returns, and its output is cached on disk by content. esbuild's
// long-lived service would outlive the worker threads that start it, as
// an unreaped zombie.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

process.env.ESBUILD_WORKER_THREADS = '0';
const { transformSync, version } = await import('esbuild');

const tsconfig = JSON.parse(readFileSync(new URL('../tsconfig.json', import.meta.url), 'utf8'));
const options = { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', tsconfigRaw: { compilerOptions: tsconfig.compilerOptions } };
// PODVISOR_TS_CACHE moves the cache (the tests use a fresh one to exercise the transforms).
const cacheDir = process.env.PODVISOR_TS_CACHE ?? join(tmpdir(), `podvisor-ts-${userInfo().uid}`);
const salt = JSON.stringify([version, options]);

function cached(key) {
  try {
    return readFileSync(join(cacheDir, key), 'utf8');
  } catch {
    return null;
  }
}

function store(key, code) {
  try {
    mkdirSync(cacheDir, { recursive: true });
    const tmp = join(cacheDir, `${key}.${process.pid}.tmp`);
    writeFileSync(tmp, code);
    renameSync(tmp, join(cacheDir, key));
  } catch {
    // A cache that cannot be written only costs the next start a transform.
  }
}

export function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const path = fileURLToPath(url);
  const source = readFileSync(path, 'utf8');
  const key = createHash('sha256').update(salt).update(path).update('\0').update(source).digest('hex');
  let code = cached(key);
  if (code === null) {
    code = transformSync(source, { ...options, sourcefile: path }).code;
    store(key, code);
  }
  return { format: 'module', source: code, shortCircuit: true };
}
