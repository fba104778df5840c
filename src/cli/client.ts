import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { credsAuthenticator } from '@nats-io/nats-core';
import { readFileSync } from 'node:fs';
import type { Operation } from '../actors/operations.ts';
import { errorFromCode, type ErrorCode, type PodvisorError } from '../errors.ts';
import { commandSubject, type BusNames } from '../bus/subjects.ts';

export interface ClientOptions {
  natsUrl: string;
  creds?: string;
  names: BusNames;
  timeoutMs: number;
}

/** A controller's view of one podvisor node: typed requests, typed errors. */
export class PodvisorClient {
  private constructor(
    readonly nc: NatsConnection,
    private readonly options: ClientOptions,
  ) {}

  static async connect(options: ClientOptions): Promise<PodvisorClient> {
    const nc = await connect({
      servers: options.natsUrl,
      name: 'podvisor-cli',
      ...(options.creds === undefined ? {} : { authenticator: credsAuthenticator(readFileSync(options.creds)) }),
    });
    return new PodvisorClient(nc, options);
  }

  /** Sends one operation; rejects with the typed error the node answered. */
  async call<T = Record<string, unknown>>(op: Operation, body: Record<string, unknown>, timeoutMs = this.options.timeoutMs): Promise<T> {
    const msg = await this.nc.request(commandSubject(this.options.names, op), JSON.stringify(body), { timeout: timeoutMs });
    const code = msg.headers?.get('Nats-Service-Error-Code');
    if (code !== undefined && code !== '') {
      const parsed = msg.data.length > 0 ? (msg.json() as { error?: { code?: ErrorCode; message?: string } }) : {};
      throw errorFromCode(parsed.error?.code ?? 'internal', parsed.error?.message ?? msg.headers?.get('Nats-Service-Error') ?? 'error');
    }
    return (msg.data.length === 0 ? {} : msg.json()) as T;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

export function isTypedError(err: unknown): err is PodvisorError {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string';
}
