/**
 * `podvisor serve --backend NAME` as a user starts it, for the backends
 * that need something of the machine: hcs (the koffi binding loading the
 * native HCS simulator on Linux, issue 4) and runc (issue 5). Each runs one
 * task's life through the CLI over the embedded nats-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RUNC_UNUSABLE, unusable } from '../helpers/backends.ts';
import { TEST_ROOTFS } from '../helpers/rootfs.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'podvisor.js');

interface Served {
  url: string;
  log: () => string;
  stop(): Promise<number | null>;
}

async function serve(args: string[]): Promise<Served> {
  const stateDir = mkdtempSync(join(tmpdir(), 'podvisor-serve-'));
  const server: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--node', 'sb', '--state-dir', stateDir, '--log-level', 'info', ...args], {
    env: { ...process.env, PODVISOR_NATS_URL: '' },
  });
  let log = '';
  server.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  server.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  let url = '';
  for (let i = 0; i < 300 && url === ''; i++) {
    url = /serving node 'sb' on (nats:\/\/\S+)/.exec(log)?.[1] ?? '';
    await new Promise((r) => setTimeout(r, 50));
  }
  if (url === '') {
    server.kill('SIGKILL');
    throw new Error(`podvisor serve did not start: ${log}`);
  }
  return {
    url,
    log: () => log,
    async stop() {
      const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
      server.kill('SIGTERM');
      const code = await exited;
      rmSync(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}

function cli(url: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, PODVISOR_NATS_URL: url, PODVISOR_NODE: 'sb' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

let served: Served | undefined;
afterEach(async () => {
  // SIGTERM stops the backend (and its containers) and the embedded nats-server, and exits 0.
  if (served !== undefined) expect(await served.stop()).toBe(0);
  served = undefined;
});

async function oneTaskLife(url: string, dir: string): Promise<void> {
  const out = join(dir, 'out.txt');
  expect((await cli(url, ['task', 'create', 'one', '--rootfs', TEST_ROOTFS, '--stdout', out, '--', 'sh', '-c', 'echo served; exit 7'])).code).toBe(0);
  expect((await cli(url, ['task', 'start', 'one'])).code).toBe(0);
  expect(await cli(url, ['task', 'wait', 'one'])).toMatchObject({ code: 7, stdout: '7\n' });
  expect(readFileSync(out, 'utf8')).toBe('served\n');
  expect(await cli(url, ['task', 'rm', 'one'])).toMatchObject({ code: 0, stdout: 'one exit status 7\n' });
}

describe.skipIf(unusable('hcs') !== null)(`serve --backend hcs${unusable('hcs') === null ? '' : ` (skipped: ${unusable('hcs')})`}`, () => {
  it('loads the native HCS simulator through the koffi binding and runs a task', async () => {
    served = await serve(['--backend', 'hcs']);
    expect(served.log()).toMatch(/"backend":"hcs"/);
    const dir = mkdtempSync(join(tmpdir(), 'podvisor-serve-hcs-'));
    await oneTaskLife(served.url, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a library that cannot be loaded, naming it', async () => {
    const r = await cli('', ['serve', '--backend', 'hcs', '--hcs-library', '/nonexistent/libcomputecore.so', '--state-dir', mkdtempSync(join(tmpdir(), 'podvisor-serve-bad-'))]);
    expect(r.code).not.toBe(0);
    expect(r.stderr + r.stdout).toContain('/nonexistent/libcomputecore.so');
  });
});

describe.skipIf(RUNC_UNUSABLE !== null)(`serve --backend runc${RUNC_UNUSABLE === null ? '' : ` (skipped: ${RUNC_UNUSABLE})`}`, () => {
  it('runs a real container, and auto chooses runc as root', async () => {
    served = await serve(['--backend', 'auto']);
    expect(served.log()).toMatch(/"backend":"runc"/);
    const dir = mkdtempSync(join(tmpdir(), 'podvisor-serve-runc-'));
    await oneTaskLife(served.url, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps bundles and runc state in --runtime-dir, and nothing of them once the task is deleted', async () => {
    const runtime = mkdtempSync(join(tmpdir(), 'podvisor-serve-runtime-'));
    served = await serve(['--backend', 'runc', '--runtime-dir', runtime]);
    expect((await cli(served.url, ['task', 'create', 'rt', '--rootfs', TEST_ROOTFS, '--', 'sleep', '100'])).code).toBe(0);
    expect((await cli(served.url, ['task', 'start', 'rt'])).code).toBe(0);
    expect(existsSync(join(runtime, 'containers', 'rt', 'config.json'))).toBe(true);
    expect(existsSync(join(runtime, 'runc', 'rt', 'state.json'))).toBe(true);
    expect((await cli(served.url, ['task', 'kill', 'rt', '--signal', '9'])).code).toBe(0);
    expect((await cli(served.url, ['task', 'wait', 'rt'])).code).toBe(137);
    expect((await cli(served.url, ['task', 'rm', 'rt'])).code).toBe(0);
    expect(readdirSync(join(runtime, 'containers'))).toEqual([]);
    expect(readdirSync(join(runtime, 'runc'))).toEqual([]);
    expect(await served.stop()).toBe(0);
    served = undefined;
    rmSync(runtime, { recursive: true, force: true });
  });
});
