/**
 * The CLI end to end: a real `podvisor serve` (with its embedded
 * nats-server) driven by `podvisor task ...`, `events` and `nodes` in child
 * processes, checking output and exit statuses as `ctr` has them. The
 * service picks its backend as a user's would (`auto`): real busybox
 * containers under runc where it runs as root with runc installed, as in CI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_ROOTFS } from '../helpers/rootfs.ts';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'podvisor.js');
let server: ChildProcess;
let url = '';
let stateDir: string;
let serverLog = '';

function run(
  args: string[],
  timeoutMs = 15_000,
  onStderr?: (soFar: string) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, PODVISOR_NATS_URL: url, PODVISOR_NODE: 'clinode' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      onStderr?.(stderr);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`podvisor ${args.join(' ')} did not finish: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'podvisor-cli-'));
  server = spawn(process.execPath, [BIN, 'serve', '--node', 'clinode', '--state-dir', stateDir, '--log-level', 'warn'], {
    env: { ...process.env, PODVISOR_NATS_URL: '' },
  });
  server.stderr?.on('data', (c: Buffer) => (serverLog += c.toString()));
  for (let i = 0; i < 300 && url === ''; i++) {
    url = /serving node 'clinode' on (nats:\/\/\S+)/.exec(serverLog)?.[1] ?? '';
    await new Promise((r) => setTimeout(r, 50));
  }
  if (url === '') throw new Error(`podvisor serve did not start: ${serverLog}`);
}, 30_000);

afterAll(async () => {
  const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
  server.kill('SIGTERM');
  const code = await exited;
  rmSync(stateDir, { recursive: true, force: true });
  // SIGTERM drains and exits 0, taking its embedded nats-server with it.
  expect(code).toBe(0);
});

describe('podvisor CLI', () => {
  it('creates, starts, lists, waits (exiting with the status), and deletes a task', async () => {
    expect(await run(['task', 'create', 'web', '--rootfs', TEST_ROOTFS, '--', 'sh', '-c', 'echo hi; sleep 3; exit 3'])).toMatchObject({ code: 0, stdout: 'web\n' });
    const started = await run(['task', 'start', 'web']);
    expect(started.code).toBe(0);
    const pid = Number(started.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    const ls = await run(['task', 'ls']);
    expect(ls.stdout).toMatch(new RegExp(`^TASK\\s+POD\\s+PID\\s+STATUS\\nweb\\s+web\\s+${pid}\\s+running\\n$`));
    const waited = await run(['task', 'wait', 'web']);
    expect(waited).toMatchObject({ code: 3, stdout: '3\n' });
    expect(await run(['task', 'rm', 'web'])).toMatchObject({ code: 0, stdout: 'web exit status 3\n' });
  });

  it('rootfs lays out a busybox root that a task then runs in, its output in the stdout file', async () => {
    const root = join(stateDir, 'bb');
    expect(await run(['rootfs', root])).toMatchObject({ code: 0, stdout: `${root}\n` });
    expect(readlinkSync(join(root, 'bin', 'sh'))).toBe('busybox');
    const out = join(stateDir, 'bb.out');
    await run(['task', 'create', 'bb', '--rootfs', root, '--stdout', out, '--', 'sh', '-c', 'echo from busybox; exit 4']);
    await run(['task', 'start', 'bb']);
    expect((await run(['task', 'wait', 'bb'])).code).toBe(4);
    expect(readFileSync(out, 'utf8')).toBe('from busybox\n');
    await run(['task', 'rm', 'bb']);
  });

  it('prints JSON with --json', async () => {
    await run(['task', 'create', 'j1', '--rootfs', TEST_ROOTFS, '--', 'sleep', 'inf']);
    const state = await run(['task', 'state', 'j1', '--json']);
    expect(JSON.parse(state.stdout)).toMatchObject({ id: 'j1', status: 'created', exitStatus: 255, exitedAt: null });
    expect((await run(['task', 'kill', 'j1', '--signal', 'KILL'])).code).toBe(0);
    await run(['task', 'rm', 'j1']);
  });

  it('exits 1 with the typed error on stderr for a failed command', async () => {
    const r = await run(['task', 'state', 'ghost']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not_found: task 'ghost' not found/);
  });

  it('runs an exec and reports its status', async () => {
    await run(['task', 'create', 'box', '--rootfs', TEST_ROOTFS, '--', 'sleep', 'inf']);
    await run(['task', 'start', 'box']);
    expect((await run(['task', 'exec', 'box', '--exec-id', 'probe', '--', 'sh', '-c', 'exit 6'])).code).toBe(0);
    await run(['task', 'start', 'box', '--exec-id', 'probe']);
    expect(await run(['task', 'wait', 'box', '--exec-id', 'probe'])).toMatchObject({ code: 6 });
    const ps = await run(['task', 'ps', 'box']);
    expect(ps.stdout.split('\n')[0]).toMatch(/^PID\s+EXEC$/);
    await run(['task', 'kill', 'box', '--all', '--signal', '9']);
    expect((await run(['task', 'wait', 'box'])).code).toBe(137);
    await run(['task', 'rm', 'box']);
  });

  it('follows live events matching a filter', async () => {
    let ready!: () => void;
    const subscribed = new Promise<void>((r) => (ready = r));
    const following = run(['events', '*.events.live1.>', '--limit', '2', '--json'], 15_000, (err) => {
      if (err.includes('following podvisor.*.events.live1.>')) ready();
    });
    await subscribed;
    await run(['task', 'create', 'live1', '--rootfs', TEST_ROOTFS, '--', 'sleep', 'inf']);
    await run(['task', 'start', 'live1']);
    const followed = await following;
    expect(followed.code).toBe(0);
    const lines = followed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { subject: string; topic: string });
    expect(lines.map((l) => [l.subject, l.topic])).toEqual([
      ['podvisor.clinode.events.live1.live1.create', '/tasks/create'],
      ['podvisor.clinode.events.live1.live1.start', '/tasks/start'],
    ]);
    await run(['task', 'kill', 'live1', '--signal', 'KILL']);
    await run(['task', 'wait', 'live1']);
    await run(['task', 'rm', 'live1']);
  });

  it('replays events with --since and lists the node', async () => {
    const events = await run(['events', '--since', '1', '--limit', '3']);
    expect(events.code).toBe(0);
    const lines = events.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^1 \S+ clinode \/tasks\/create web\/web /);
    const nodes = await run(['nodes']);
    expect(nodes.stdout).toMatch(/^NODE\s+PREFIX\s+VERSION\s+ID\nclinode\s+podvisor\s+0\.1\.0\s+\S+\n$/);
  });
});
