import { Command } from 'commander';
import { runDemo } from './demo.ts';

/** Parses the command line and runs the chosen command; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let status = 0;
  const program = new Command()
    .name('podvisor')
    .description('Container lifecycle service: pods, tasks and execs as actors over HCS, runc or a simulated HCS')
    .showHelpAfterError();
  program
    .command('demo')
    .description('drive one pod through its whole life on the simulated HCS and print every lifecycle event')
    .option('--json', 'print events as JSON lines')
    .action(async (opts: { json?: boolean }) => {
      status = await runDemo({ json: opts.json === true, out: process.stdout });
    });
  await program.parseAsync(argv);
  return status;
}
