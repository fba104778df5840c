import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { constants } from 'node:os';
import { Command, Option } from 'commander';
import { defaultNodeId } from '../bus/subjects.ts';
import { hostname } from 'node:os';
import { PodvisorClient } from './client.ts';
import { json, table, type Output } from './output.ts';

export interface ClientFlags {
  natsUrl: string;
  node?: string;
  prefix: string;
  creds?: string;
  timeout: string;
  json?: boolean;
}

/** Adds the flags every client command takes, each also read from PODVISOR_<FLAG>. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--nats-url <url>', 'NATS server').env('PODVISOR_NATS_URL').default('nats://127.0.0.1:4222'))
    .addOption(new Option('--node <name>', 'podvisor node (default: this host)').env('PODVISOR_NODE'))
    .addOption(new Option('--prefix <prefix>', 'subject prefix').env('PODVISOR_PREFIX').default('podvisor'))
    .addOption(new Option('--creds <file>', 'NATS credentials').env('PODVISOR_CREDS'))
    .addOption(new Option('--timeout <ms>', 'request timeout').env('PODVISOR_TIMEOUT').default('10000'))
    .option('--json', 'print JSON for scripts');
}

export async function withClient<T>(flags: ClientFlags, fn: (c: PodvisorClient) => Promise<T>): Promise<T> {
  const client = await PodvisorClient.connect({
    natsUrl: flags.natsUrl,
    names: { prefix: flags.prefix, node: flags.node ?? defaultNodeId(hostname()) },
    timeoutMs: Number(flags.timeout),
    ...(flags.creds === undefined ? {} : { creds: flags.creds }),
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** `9`, `KILL`, `SIGKILL` → 9, as `ctr task kill --signal` accepts. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) return Number(text);
  const name = (text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`) as keyof typeof constants.signals;
  const n = constants.signals[name];
  if (n === undefined) throw new Error(`unknown signal '${text}'`);
  return n;
}

/**
 * A minimal Linux spec running `args`, for `task create ID -- CMD...` without
 * a spec file; the root is `--rootfs` (as `ctr run --rootfs`), else the
 * bundle's `rootfs`. The service fills the rest as `runc spec` would.
 */
function specFor(args: string[], annotations: Record<string, string>, rootfs: string | undefined): Record<string, unknown> {
  return { ociVersion: '1.0.2', process: { args, cwd: '/' }, root: { path: rootfs === undefined ? 'rootfs' : resolve(rootfs) }, linux: {}, annotations };
}

function annotations(list: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of list ?? []) {
    const at = a.indexOf('=');
    if (at < 1) throw new Error(`annotation '${a}' is not KEY=VALUE`);
    out[a.slice(0, at)] = a.slice(at + 1);
  }
  return out;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The `task` verbs, mirroring `ctr task` where it has them. Each resolves with the exit status. */
export function taskCommand(out: NodeJS.WritableStream, setStatus: (n: number) => void): Command {
  const task = new Command('task').description('drive tasks on a podvisor node (ctr task verbs)');
  const o = (flags: ClientFlags): Output => ({ json: flags.json === true, out });
  const verb = (name: string, description: string) => clientOptions(task.command(name).description(description));

  verb('create', 'create a task; give a bundle, a spec file, or a command after --')
    .argument('<id>')
    .argument('[command...]')
    .option('--bundle <dir>', 'bundle directory (its config.json is the spec)')
    .option('--spec <file>', 'OCI spec file')
    .option('--rootfs <dir>', 'root filesystem for a command given after --')
    .option('--terminal', 'allocate a terminal')
    .option('--stdin <path>')
    .option('--stdout <path>')
    .option('--stderr <path>')
    .option('--annotation <key=value>', 'spec annotation (repeatable)', collect)
    .action(async (id: string, command: string[], f: ClientFlags & { bundle?: string; spec?: string; rootfs?: string; terminal?: boolean; stdin?: string; stdout?: string; stderr?: string; annotation?: string[] }) => {
      const spec = f.spec !== undefined ? JSON.parse(readFileSync(f.spec, 'utf8')) : command.length > 0 ? specFor(command, annotations(f.annotation), f.rootfs) : undefined;
      const body: Record<string, unknown> = { id, ...(f.bundle === undefined ? {} : { bundle: f.bundle }), ...(spec === undefined ? {} : { spec }) };
      for (const k of ['terminal', 'stdin', 'stdout', 'stderr'] as const) if (f[k] !== undefined) body[k] = f[k];
      const reply = await withClient(f, (c) => c.call('create', body));
      o(f).json ? json(o(f), reply) : out.write(`${id}\n`);
    });

  verb('start', 'start a created task or exec')
    .argument('<id>')
    .option('--exec-id <id>')
    .action(async (id: string, f: ClientFlags & { execId?: string }) => {
      const reply = await withClient(f, (c) => c.call<{ pid: number }>('start', { id, execId: f.execId ?? '' }));
      o(f).json ? json(o(f), reply) : out.write(`${reply.pid}\n`);
    });

  verb('exec', 'add an exec to a running task (start it with task start --exec-id)')
    .argument('<id>')
    .argument('<command...>')
    .requiredOption('--exec-id <id>')
    .option('--terminal')
    .option('--stdout <path>')
    .option('--stderr <path>')
    .action(async (id: string, command: string[], f: ClientFlags & { execId: string; terminal?: boolean; stdout?: string; stderr?: string }) => {
      const body: Record<string, unknown> = { id, execId: f.execId, spec: { args: command, cwd: '/' } };
      for (const k of ['terminal', 'stdout', 'stderr'] as const) if (f[k] !== undefined) body[k] = f[k];
      await withClient(f, (c) => c.call('exec', body));
      if (o(f).json) json(o(f), {});
    });

  verb('kill', 'signal a task or exec')
    .argument('<id>')
    .option('--exec-id <id>')
    .option('-s, --signal <signal>', 'signal name or number', 'SIGTERM')
    .option('-a, --all', 'signal every process of the task')
    .action(async (id: string, f: ClientFlags & { execId?: string; signal: string; all?: boolean }) => {
      await withClient(f, (c) => c.call('kill', { id, execId: f.execId ?? '', signal: parseSignal(f.signal), all: f.all === true }));
      if (o(f).json) json(o(f), {});
    });

  verb('delete', 'delete an exited (or never started) task or exec; prints its exit status')
    .alias('rm')
    .argument('<id>')
    .option('--exec-id <id>')
    .action(async (id: string, f: ClientFlags & { execId?: string }) => {
      const reply = await withClient(f, (c) => c.call<{ exitStatus: number }>('delete', { id, execId: f.execId ?? '' }));
      o(f).json ? json(o(f), reply) : out.write(`${id} exit status ${reply.exitStatus}\n`);
    });

  verb('state', 'show one process')
    .argument('<id>')
    .option('--exec-id <id>')
    .action(async (id: string, f: ClientFlags & { execId?: string }) => {
      const s = await withClient(f, (c) => c.call<Record<string, unknown>>('state', { id, execId: f.execId ?? '' }));
      o(f).json ? json(o(f), s) : table(o(f), ['TASK', 'EXEC', 'PID', 'STATUS', 'EXIT'], [[String(s['id']), String(s['execId']), String(s['pid']), String(s['status']), String(s['exitStatus'])]]);
    });

  verb('wait', 'wait for a process to exit; exits with its status, as ctr does')
    .argument('<id>')
    .option('--exec-id <id>')
    .action(async (id: string, f: ClientFlags & { execId?: string }) => {
      // A wait may last as long as the process: the timeout flag bounds it, default unbounded here.
      const reply = await withClient(f, (c) => c.call<{ exitStatus: number }>('wait', { id, execId: f.execId ?? '' }, Number(f.timeout) > 10_000 ? Number(f.timeout) : 24 * 3600 * 1000));
      o(f).json ? json(o(f), reply) : out.write(`${reply.exitStatus}\n`);
      setStatus(reply.exitStatus & 255);
    });

  verb('ps', 'list the processes of a task')
    .argument('<id>')
    .action(async (id: string, f: ClientFlags) => {
      const reply = await withClient(f, (c) => c.call<{ processes: { pid: number; execId: string }[] }>('pids', { id }));
      o(f).json ? json(o(f), reply) : table(o(f), ['PID', 'EXEC'], reply.processes.map((p) => [p.pid, p.execId]));
    });

  for (const op of ['pause', 'resume'] as const) {
    verb(op, `${op} a task`)
      .argument('<id>')
      .action(async (id: string, f: ClientFlags) => {
        await withClient(f, (c) => c.call(op, { id }));
        if (o(f).json) json(o(f), {});
      });
  }

  verb('update', 'update resource limits')
    .argument('<id>')
    .option('--memory-limit <bytes>')
    .option('--cpus <count>')
    .action(async (id: string, f: ClientFlags & { memoryLimit?: string; cpus?: string }) => {
      const resources: Record<string, unknown> = {};
      if (f.memoryLimit !== undefined) resources['memory'] = { limit: Number(f.memoryLimit) };
      if (f.cpus !== undefined) resources['cpu'] = { count: Number(f.cpus) };
      await withClient(f, (c) => c.call('update', { id, resources }));
      if (o(f).json) json(o(f), {});
    });

  verb('stats', 'show statistics of a task')
    .argument('<id>')
    .action(async (id: string, f: ClientFlags) => {
      const reply = await withClient(f, (c) => c.call<{ stats: Record<string, unknown> }>('stats', { id }));
      json(o(f), reply.stats);
    });

  verb('ls', 'list the tasks of a node')
    .alias('list')
    .action(async (f: ClientFlags) => {
      const reply = await withClient(f, (c) => c.call<{ tasks: { id: string; podId: string; pid: number; status: string }[] }>('list', {}));
      o(f).json ? json(o(f), reply) : table(o(f), ['TASK', 'POD', 'PID', 'STATUS'], reply.tasks.map((t) => [t.id, t.podId, t.pid, t.status]));
    });

  return task;
}
