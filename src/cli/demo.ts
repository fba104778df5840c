import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MemorySink, type RecordedEvent } from '../actors/memory-sink.ts';
import { Node } from '../actors/node.ts';
import { streamsIo } from '../actors/stdio.ts';
import { buildBusyboxRootfs } from '../hcs/runc/busybox.ts';
import { createLogger } from '../log.ts';
import type { OciSpec } from '../oci.ts';
import { chooseBackend } from './backend-choice.ts';

export interface DemoOptions {
  json: boolean;
  out: NodeJS.WritableStream;
  /** sim | hcs | runc | auto, as for `serve`. */
  backend: string;
}

function linuxSpec(root: string, args: string[], annotations: Record<string, string>): OciSpec {
  return { ociVersion: '1.0.2', process: { args, cwd: '/' }, root: { path: root }, linux: {}, annotations };
}

function describe(r: RecordedEvent): string {
  const { event } = r;
  return `#${String(r.seq).padStart(2)} ${event.timestamp} ${event.topic.padEnd(12)} pod=${event.podId} task=${event.taskId} ${JSON.stringify(event.event)}`;
}

/**
 * One pod's life on the chosen backend (real busybox containers on runc, or
 * the simulated HCS), with every lifecycle event printed as
 * it is published: a sandbox, a workload that prints and exits, an exec in
 * the sandbox, then kill-all and deletion. Resolves 0 when every step gave
 * the expected answer.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  const log = createLogger({ level: 'warn', destination: process.stderr });
  const sink = new MemorySink();
  const stateDir = mkdtempSync(join(tmpdir(), 'podvisor-demo-'));
  const backend = chooseBackend({ backend: options.backend, stateDir }, log);
  // On runc the pod's containers need a root filesystem: a static busybox, as the tests use.
  const root = backend.name === 'runc' ? buildBusyboxRootfs(join(stateDir, 'rootfs')) : '/rootfs';
  out.write(`backend: ${backend.name}${backend.name === 'runc' ? ` (busybox root at ${root})` : ''}\n`);
  // Output of the demo's processes goes to the terminal through the actors' own stdio path.
  const output = new Writable({
    write(chunk: Buffer, _enc, done) {
      out.write(`    | ${chunk.toString().replace(/\n(?!$)/g, '\n    | ')}`);
      done();
    },
  });
  const node = new Node({
    backend,
    sink,
    log,
    openStdio: async (req) => streamsIo({ stdin: null, stdout: req.stdout === '' ? null : output, stderr: null }),
  });
  const unsubscribe = sink.subscribe((r) => out.write(`${options.json ? JSON.stringify(r) : describe(r)}\n`));
  const step = (text: string) => out.write(`\n> ${text}\n`);
  try {
    step('create pod "demo" (sandbox task running `sleep inf`) and start it');
    await node.create({
      id: 'demo',
      bundle: '/run/podvisor/demo',
      spec: linuxSpec(root, ['sh', '-c', 'sleep inf'], {
        'io.kubernetes.cri.container-type': 'sandbox',
        'io.kubernetes.cri.sandbox-id': 'demo',
      }),
    });
    await node.start({ id: 'demo' });

    step('create workload "web" in the pod; it prints and exits 3');
    await node.create({
      id: 'web',
      bundle: '/run/podvisor/web',
      stdout: '/dev/stdout',
      spec: linuxSpec(root, ['sh', '-c', 'echo hello from web; sleep 0.2; exit 3'], {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.sandbox-id': 'demo',
      }),
    });
    const webExit = node.wait({ id: 'web' });
    out.write(`  start -> ${JSON.stringify(await node.start({ id: 'web' }))}\n`);

    step('exec "probe" in the sandbox and wait for it');
    await node.exec({ id: 'demo', execId: 'probe', stdout: '/dev/stdout', spec: { args: ['sh', '-c', 'echo probe ok'] } });
    await node.start({ id: 'demo', execId: 'probe' });
    out.write(`  wait probe -> ${JSON.stringify(await node.wait({ id: 'demo', execId: 'probe' }))}\n`);
    out.write(`  wait web -> ${JSON.stringify(await webExit)}\n`);

    step('delete web and the probe exec, then kill the pod (all) and delete the sandbox');
    out.write(`  delete web -> ${JSON.stringify(await node.delete({ id: 'web' }))}\n`);
    await node.delete({ id: 'demo', execId: 'probe' });
    // SIGKILL: on runc the sandbox's `sleep` is its pid namespace's init, which ignores an unhandled SIGTERM.
    await node.kill({ id: 'demo', signal: 9, all: true });
    out.write(`  wait demo -> ${JSON.stringify(await node.wait({ id: 'demo' }))}\n`);
    out.write(`  delete demo -> ${JSON.stringify(await node.delete({ id: 'demo' }))}\n`);
    out.write(`\n${sink.events.length} events published; tasks left on the node: ${node.taskCount}\n`);
    out.write('Next: `npm test` runs the lifecycle suite against the simulator and runc.\n');
    return node.taskCount === 0 ? 0 : 1;
  } catch (err) {
    out.write(`demo failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    unsubscribe();
    await node.close();
    await backend.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
