/**
 * The runc rounds' controller in a process of its own, as a real controller
 * (or a person at a shell) is: it runs the baselines' runc itself and asks
 * the bench's podvisor node for create+start over NATS, then prints the
 * samples as JSON on stdout.
 */
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { Reaper } from '../src/hcs/runc/reaper.ts';
import { Runc } from '../src/hcs/runc/runc.ts';
import { rounds, samplers, type RuncControllerJob } from './runc.ts';

const job = JSON.parse(process.argv[2] ?? '') as RuncControllerJob;
const nc = await connect({ servers: job.url, name: 'bench-runc-controller', noAsyncTraces: true });
// A child subreaper, as the bench is: the baselines' container processes become ours to reap.
const reaper = new Reaper();
const runc = new Runc(reaper, { binary: 'runc', root: join(job.dir, 'bare-root-apart') });
try {
  const samples = await rounds(samplers(nc, job.dir, 'apart', job.rootfs, runc, reaper), job);
  process.stdout.write(JSON.stringify(samples));
} finally {
  runc.close();
  await reaper.close();
  await nc.close();
}
