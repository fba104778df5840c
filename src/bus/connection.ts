import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import { credsAuthenticator } from '@nats-io/nats-core';
import { readFileSync } from 'node:fs';
import type { Logger } from '../log.ts';

export interface ConnectOptions {
  servers: string | string[];
  name: string;
  /** A NATS credentials file (JWT and seed). */
  creds?: string;
  user?: string;
  pass?: string;
}

/**
 * Connects with endless reconnects: a podvisor node outlives NATS restarts,
 * keeping its events queued until the server is back. Status changes are
 * logged so an operator sees a disconnect when it happens.
 */
export async function connectNats(options: ConnectOptions, log: Logger): Promise<NatsConnection> {
  const nc = await connect({
    servers: options.servers,
    name: options.name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    pingInterval: 10_000,
    // nats.js otherwise captures a stack for every request, JetStream
    // publishes included, in case it fails; our errors name the operation.
    noAsyncTraces: true,
    ...(options.creds === undefined ? {} : { authenticator: credsAuthenticator(readFileSync(options.creds)) }),
    ...(options.user === undefined ? {} : { user: options.user, pass: options.pass ?? '' }),
  });
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') log.warn({ nats: s.type }, `NATS ${s.type}`);
    }
  })().catch(() => undefined);
  return nc;
}
