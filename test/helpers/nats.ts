import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection, Msg } from '@nats-io/nats-core';
import { startEmbeddedNats, type EmbeddedNats } from '../../src/bus/embedded.ts';
import { startPodvisor, type Podvisor, type ServeOptions } from '../../src/bus/server.ts';
import { SimBackend } from '../../src/hcs/sim/backend.ts';
import { silentLogger } from '../../src/log.ts';

export interface TestNats {
  server: EmbeddedNats;
  /** Stops the server and starts it again on the same port and data. */
  restart(downMs?: number): Promise<void>;
  dir: string;
  client(): Promise<NatsConnection>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** A real nats-server with JetStream on a free loopback port, in a temporary directory. */
export async function startTestNats(extraConfig = ''): Promise<TestNats> {
  const dir = mkdtempSync(join(tmpdir(), 'podvisor-nats-'));
  const first = await startEmbeddedNats({ dir, extraConfig });
  const port = Number(new URL(first.url.replace('nats://', 'http://')).port);
  const clients: NatsConnection[] = [];
  const t: TestNats = {
    server: first,
    dir,
    async restart(downMs = 0) {
      await t.server.stop();
      await new Promise((r) => setTimeout(r, downMs));
      t.server = await startEmbeddedNats({ dir, extraConfig, port });
    },
    async client() {
      const nc = await connect({ servers: t.server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      clients.push(nc);
      return nc;
    },
    async stop() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await t.server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

export interface Answer {
  ok: boolean;
  body: Record<string, unknown>;
  errorCode: string | undefined;
  headerCode: string | undefined;
}

/** Sends a command and decodes the reply, service errors included. */
export async function request(nc: NatsConnection, subject: string, body: unknown, timeout = 5_000): Promise<Answer> {
  const msg: Msg = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout });
  const parsed = msg.data.length === 0 ? {} : (msg.json() as Record<string, unknown>);
  const headerCode = msg.headers?.get('Nats-Service-Error-Code') || undefined;
  const error = parsed['error'] as { code?: string } | undefined;
  return { ok: headerCode === undefined, body: parsed, errorCode: error?.code, headerCode };
}

export interface ServedNode {
  pv: Podvisor;
  backend: SimBackend;
  /** Stops the node and its simulator and removes its state directory. */
  stop(): Promise<void>;
}

/** A podvisor node on the simulated HCS, served on `nats`, with its own state directory. */
export async function serveNode(nats: TestNats, node: string, extra: Partial<ServeOptions> = {}): Promise<ServedNode> {
  const stateDir = mkdtempSync(join(tmpdir(), 'podvisor-state-'));
  const backend = new SimBackend();
  const pv = await startPodvisor({ backend, log: silentLogger(), natsUrl: nats.server.url, node, stateDir, ...extra });
  return {
    pv,
    backend,
    async stop() {
      await pv.stop();
      await backend.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
