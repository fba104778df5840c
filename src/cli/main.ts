import { Command, CommanderError, Option } from 'commander';
import { runDemo } from './demo.ts';
import { resolve } from 'node:path';
import { buildBusyboxRootfs } from '../hcs/runc/busybox.ts';
import { serve } from './serve.ts';
import { clientOptions, taskCommand, withClient, type ClientFlags } from './task-commands.ts';
import { followEvents, listNodes } from './watch.ts';

/** Parses the command line and runs the chosen command; resolves with the exit status. */
export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  let status = 0;
  const setStatus = (n: number): void => {
    status = n;
  };
  const program = new Command()
    .name('podvisor')
    .description('Container lifecycle service: pods, tasks and execs as actors over HCS, runc or a simulated HCS')
    .exitOverride()
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the service (an embedded nats-server is started when no --nats-url is given)')
    .addOption(new Option('--nats-url <url>', 'NATS server(s); absent: start an embedded nats-server').env('PODVISOR_NATS_URL'))
    .addOption(new Option('--node <name>', 'node id (default: the host name)').env('PODVISOR_NODE'))
    .addOption(new Option('--prefix <prefix>', 'subject prefix').env('PODVISOR_PREFIX').default('podvisor'))
    .addOption(new Option('--backend <name>', 'sim | hcs | runc | auto').env('PODVISOR_BACKEND').default('auto'))
    .addOption(new Option('--hcs-library <path>', 'library the hcs backend loads').env('PODVISOR_HCS_LIBRARY'))
    .addOption(new Option('--runc <path>', 'runc executable the runc backend runs').env('PODVISOR_RUNC'))
    .addOption(new Option('--state-dir <dir>', "local state (embedded NATS data; the runc backend's files unless --runtime-dir)").env('PODVISOR_STATE_DIR'))
    .addOption(new Option('--runtime-dir <dir>', "the runc backend's bundles and runc's state, which end with the containers: a tmpfs such as /run/podvisor (default: <state-dir>/runc-backend)").env('PODVISOR_RUNTIME_DIR'))
    .addOption(new Option('--log-level <level>', 'trace | debug | info | warn | error').env('PODVISOR_LOG_LEVEL').default('info'))
    .addOption(new Option('--creds <file>', 'NATS credentials file').env('PODVISOR_CREDS'))
    .addOption(new Option('--dashboard <addr>', 'serve the dashboard page').env('PODVISOR_DASHBOARD'))
    .addOption(new Option('--events-max-age <hours>', 'keep events in the stream this long').env('PODVISOR_EVENTS_MAX_AGE').default('168'))
    .addOption(new Option('--events-max-bytes <bytes>', 'cap on the events stream size').env('PODVISOR_EVENTS_MAX_BYTES').default(String(1024 ** 3)))
    .action(async (flags) => setStatus(await serve(flags)));

  program.addCommand(taskCommand(out, setStatus));

  clientOptions(program.command('events').description('follow lifecycle events (replay with --since)'))
    .argument('[filter]', 'subject filter under the prefix, e.g. "*.events.pod1.>"')
    .option('--since <seq|time>', 'replay from this stream sequence or RFC 3339 time, then follow')
    .option('--limit <n>', 'stop after n events')
    .action(async (filter: string | undefined, f: ClientFlags & { since?: string; limit?: string }) => {
      await withClient(f, (c) =>
        followEvents(c, { json: f.json === true, out }, {
          prefix: f.prefix,
          ...(filter === undefined ? {} : { filter }),
          ...(f.since === undefined ? {} : { since: f.since }),
          ...(f.limit === undefined ? {} : { limit: Number(f.limit) }),
          onReady: (subject) => void process.stderr.write(`following ${subject}\n`),
        }),
      );
    });

  clientOptions(program.command('nodes').description('list the podvisor nodes answering on this NATS system')).action(
    async (f: ClientFlags) => withClient(f, (c) => listNodes(c, { json: f.json === true, out })),
  );

  program
    .command('rootfs')
    .description("lay out a busybox root filesystem in DIR (from Debian's busybox-static) for `task create --rootfs`")
    .argument('<dir>')
    .action((dir: string) => {
      out.write(`${buildBusyboxRootfs(resolve(dir))}\n`);
      setStatus(0);
    });

  program
    .command('demo')
    .description('drive one pod through its whole life (real containers with runc as root, else the simulated HCS) and print every lifecycle event')
    .option('--json', 'print events as JSON lines')
    .addOption(new Option('--backend <name>', 'sim | hcs | runc | auto').default('auto'))
    .action(async (opts: { json?: boolean; backend: string }) => setStatus(await runDemo({ json: opts.json === true, out, backend: opts.backend })));

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const code = (err as { code?: string }).code;
    process.stderr.write(`podvisor: ${code === undefined ? '' : `${code}: `}${(err as Error).message}\n`);
    return 1;
  }
  return status;
}
