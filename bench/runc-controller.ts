/**
 * The runc pairs' controller in a process of its own, as a real controller
 * (or a person at a shell) is: it runs the baseline `runc run -d` itself and
 * asks the bench's podvisor node for create+start over NATS, then prints the
 * samples as JSON on stdout.
 */
import { connect } from '@nats-io/transport-node';
import { Reaper } from '../src/hcs/runc/reaper.ts';
import { pairs, samplePodvisor, sampleRunc, type RuncControllerJob } from './runc.ts';

const job = JSON.parse(process.argv[2] ?? '') as RuncControllerJob;
const nc = await connect({ servers: job.url, name: 'bench-runc-controller', noAsyncTraces: true });
// A child subreaper, as the bench is: the baseline's container processes become ours to reap.
const reaper = new Reaper();
try {
  const samples = await pairs(sampleRunc(job.dir, 'apart', job.rootfs, reaper), samplePodvisor(nc, 'apart', job.rootfs), job);
  process.stdout.write(JSON.stringify(samples));
} finally {
  await reaper.close();
  await nc.close();
}
