/**
 * The runc backend's own parts, without runc: spawning through posix_spawn,
 * reaping exactly the pids asked for, and turning runc's words, specs and
 * resources into what each side expects.
 */
import { spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError } from '../../src/hcs/backend.ts';
import { linuxResources } from '../../src/hcs/runc/backend.ts';
import { libc } from '../../src/hcs/runc/libc.ts';
import { Reaper } from '../../src/hcs/runc/reaper.ts';
import { runcErrorKind } from '../../src/hcs/runc/runc.ts';
import { runcConfig, runcProcess } from '../../src/hcs/runc/spec.ts';
import { statisticsOf } from '../../src/hcs/runc/stats.ts';
import { childProcesses } from '../helpers/backends.ts';

const env = Object.entries(process.env).map(([k, v]) => `${k}=${v ?? ''}`);
const stdio = [0, 1, 2] as const;

describe.skipIf(process.platform !== 'linux')('the reaper', () => {
  let reaper: Reaper;
  let dir: string;
  beforeEach(() => {
    reaper = new Reaper();
    dir = mkdtempSync(join(tmpdir(), 'podvisor-reaper-'));
  });
  afterEach(async () => {
    await reaper.close();
    rmSync(dir, { recursive: true, force: true });
    expect(childProcesses()).toEqual([]);
  });

  it('reports exit codes, and 128 + N for a process ended by signal N', async () => {
    const c = libc();
    const pids = [0, 3, 42].map((code) => c.posixSpawn(['sh', '-c', `exit ${code}`], env, stdio));
    const killed = c.posixSpawn(['sleep', '30'], env, stdio);
    const waits = [...pids, killed].map((pid) => reaper.wait(pid));
    process.kill(killed, 'SIGKILL');
    expect(await Promise.all(waits)).toEqual([0, 3, 42, 137]);
    expect(reaper.watched).toBe(0);
  });

  it('reaps an orphan re-parented to podvisor, the child subreaper, with its own status', async () => {
    const c = libc();
    const pidFile = join(dir, 'orphan.pid');
    const sh = c.posixSpawn(['sh', '-c', `(sleep 0.2; exit 9) & echo $! > ${pidFile}; exit 0`], env, stdio);
    expect(await reaper.wait(sh)).toBe(0);
    const orphan = Number(readFileSync(pidFile, 'utf8'));
    expect(readFileSync(`/proc/${orphan}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]).toBe(String(process.pid));
    expect(await reaper.wait(orphan)).toBe(9);
  });

  it("never reaps Node's own child_process children: their exit events still arrive", async () => {
    const c = libc();
    const ours = c.posixSpawn(['sh', '-c', 'sleep 0.1; exit 5'], env, stdio);
    const node = spawn('sh', ['-c', 'exit 6']);
    const nodeExit = new Promise<number | null>((resolve) => node.on('exit', (code) => resolve(code)));
    expect(await reaper.wait(ours)).toBe(5);
    expect(await nodeExit).toBe(6);
  });

  it('a wait still pending when the reaper closes is rejected unavailable, not left hanging', async () => {
    const c = libc();
    const pid = c.posixSpawn(['sleep', '30'], env, stdio);
    const waiting = reaper.wait(pid);
    await reaper.close();
    await expect(waiting).rejects.toMatchObject({ kind: 'unavailable' });
    // Not ours to watch any more: reap it here so the test leaves nothing.
    process.kill(pid, 'SIGKILL');
    const again = new Reaper();
    expect(await again.wait(pid)).toBe(137);
    await again.close();
  });

  it('a pid that does not exist cannot be watched, and says so', async () => {
    await expect(reaper.wait(2 ** 22 + 7)).rejects.toMatchObject({ kind: 'not-found' });
  });
});

describe("runc's words", () => {
  it.each([
    ['state', 'container does not exist', 'not-found'],
    ['create', 'runc create failed: container with given ID already exists', 'already-exists'],
    ['exec', 'exec failed: unable to start container process: exec: "nosuch": executable file not found in $PATH', 'executable-not-found'],
    ['kill', 'container not running', 'already-stopped'],
    ['pause', 'container not running', 'invalid-state'],
    ['exec', 'exec failed: cannot exec in a stopped container', 'invalid-state'],
    ['update', 'something else entirely', 'other'],
  ])('runc %s: %s → %s', (command, message, kind) => {
    expect(runcErrorKind(command, message)).toBe(kind);
  });
});

describe('specs for runc', () => {
  it('fills what a minimal spec leaves out, as runc spec would, and keeps what it set', () => {
    const config = runcConfig(
      { process: { args: ['sh'], env: ['A=1'] }, root: { path: 'rootfs' }, linux: { namespaces: [{ type: 'pid' }] } },
      { id: 't1', bundle: '/b', rootfs: null, cgroupParent: '/p' },
    );
    expect(config).toMatchObject({
      root: { path: '/b/rootfs', readonly: false },
      process: { args: ['sh'], env: ['A=1'], cwd: '/', user: { uid: 0, gid: 0 }, terminal: false },
      linux: { namespaces: [{ type: 'pid' }], cgroupsPath: '/p/t1' },
      hostname: 't1',
    });
    expect((config['mounts'] as { destination: string }[]).map((m) => m.destination)).toContain('/proc');
  });

  it('refuses what runc cannot run, naming the field', () => {
    const at = { id: 't1', bundle: '', rootfs: null, cgroupParent: '/p' };
    expect(() => runcConfig({ process: { args: ['sh'] }, root: { path: 'rootfs' } }, at)).toThrow(/relative, and there is no bundle/);
    expect(() => runcConfig({ process: { commandLine: 'cmd' }, windows: {} }, at)).toThrow(BackendError);
    expect(() => runcProcess({ commandLine: 'cmd /c dir' })).toThrow(/process.args/);
  });
});

describe('resources and statistics', () => {
  it('maps an update to OCI Linux resources, and refuses what runc cannot apply', () => {
    expect(linuxResources({ memory: { limit: 1048576 }, cpu: { shares: 512, count: 2 } })).toEqual({
      memory: { limit: 1048576 },
      cpu: { shares: 512, period: 100000, quota: 200000 },
    });
    expect(() => linuxResources({ memory: { limit: 1.5 } })).toThrow(/resources.memory.limit/);
    expect(() => linuxResources({ cpu: { weight: 1 } })).toThrow(/resources.cpu.weight/);
    expect(() => linuxResources({ hostPath: 'C:\\x', containerPath: 'C:\\y' })).toThrow(/Windows containers/);
    expect(() => linuxResources({ hugepages: {} })).toThrow(/resources.hugepages/);
  });

  it('reads runc events --stats, and treats the cgroup v1 "unlimited" as no limit', () => {
    const line = JSON.stringify({
      type: 'stats',
      data: {
        cpu: { usage: { total: 300, user: 100, kernel: 200 } },
        memory: { usage: { usage: 4096, limit: 9223372036854771712 } },
        pids: { current: 2 },
        blkio: { ioServicedRecursive: [{ op: 'Read', value: 3 }, { op: 'Write', value: 4 }], ioServiceBytesRecursive: [{ op: 'Read', value: 30 }] },
      },
    });
    const s = statisticsOf(line, { timestamp: 'T', uptimeNs: 5 });
    expect(s).toEqual({
      timestamp: 'T',
      uptimeNs: 5,
      processor: { totalRuntimeNs: 300, userRuntimeNs: 100, kernelRuntimeNs: 200 },
      memory: { usageBytes: 4096 },
      storage: { readCount: 3, readBytes: 30, writeCount: 4, writeBytes: 0 },
      processCount: 2,
    });
    expect(() => statisticsOf('not json', { timestamp: 'T', uptimeNs: 0 })).toThrow(/not JSON/);
  });
});
