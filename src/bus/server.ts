import { hostname } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Service } from '@nats-io/services';
import { Node } from '../actors/node.ts';
import type { Clock } from '../clock.ts';
import type { Backend } from '../hcs/backend.ts';
import type { Logger } from '../log.ts';
import { connectNats } from './connection.ts';
import { startEmbeddedNats, type EmbeddedNats } from './embedded.ts';
import { JetStreamEventSink, type EventStreamLimits } from './events.ts';
import { startCommandService } from './service.ts';
import { withNatsStdio } from './stdio.ts';
import { openPathStdio } from '../actors/stdio.ts';
import { defaultNodeId, type BusNames } from './subjects.ts';

export const VERSION = '0.1.0';

export interface ServeOptions {
  backend: Backend;
  log: Logger;
  /** NATS servers; absent starts an embedded nats-server in `stateDir`. */
  natsUrl?: string;
  creds?: string;
  /** User and password, where the NATS system authenticates that way (deploy/nats). */
  user?: string;
  pass?: string;
  node?: string;
  prefix?: string;
  stateDir: string;
  clock?: Clock;
  limits?: EventStreamLimits;
  maxQueuedEvents?: number;
}

export type ServiceState = 'starting' | 'running' | 'draining' | 'stopped';

export interface Podvisor {
  readonly names: BusNames;
  readonly natsUrl: string;
  readonly node: Node;
  readonly nc: NatsConnection;
  readonly sink: JetStreamEventSink;
  readonly state: ServiceState;
  /** Stop taking commands, finish in-flight ones, flush events, close NATS. Containers keep running. */
  stop(): Promise<void>;
}

/** Starts one podvisor node on NATS: connection, events stream, command service. */
export async function startPodvisor(options: ServeOptions): Promise<Podvisor> {
  const names: BusNames = { prefix: options.prefix ?? 'podvisor', node: options.node ?? defaultNodeId(hostname()) };
  const log = options.log.child({ node: names.node });
  let state: ServiceState = 'starting';
  let embedded: EmbeddedNats | undefined;
  let natsUrl = options.natsUrl;
  if (natsUrl === undefined) {
    embedded = await startEmbeddedNats({ dir: join(options.stateDir, 'nats'), websocket: true });
    natsUrl = embedded.url;
    log.info({ url: natsUrl, websocket: embedded.websocketUrl, pid: embedded.pid }, 'no NATS URL given: started an embedded nats-server');
  }
  try {
    const nc = await connectNats(
      {
        servers: natsUrl,
        name: `podvisor-${names.node}`,
        ...(options.creds === undefined ? {} : { creds: options.creds }),
        ...(options.user === undefined ? {} : { user: options.user, pass: options.pass ?? '' }),
      },
      log,
    );
    const sink = await JetStreamEventSink.open(nc, names, {
      log,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.maxQueuedEvents === undefined ? {} : { maxQueued: options.maxQueuedEvents }),
    });
    const node = new Node({
      backend: options.backend,
      sink,
      log,
      version: VERSION,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      openStdio: withNatsStdio(nc, names, openPathStdio),
      refusal: () => (sink.saturated ? `node '${names.node}' cannot publish its events to NATS (${sink.queued} waiting); try again later` : null),
    });
    const service: Service = await startCommandService(nc, node, names, log, VERSION);
    state = 'running';
    log.info({ backend: options.backend.name, prefix: names.prefix }, 'podvisor is serving');
    return {
      names,
      natsUrl,
      node,
      nc,
      sink,
      get state() {
        return state;
      },
      async stop() {
        if (state === 'stopped' || state === 'draining') return;
        state = 'draining';
        await service.stop().catch((err: unknown) => log.warn({ err }, 'stopping the service failed'));
        await node.close();
        await sink.close();
        await nc.drain().catch(() => nc.close());
        await embedded?.stop();
        state = 'stopped';
        log.info('podvisor stopped');
      },
    };
  } catch (err) {
    await embedded?.stop();
    throw err;
  }
}
