import type { NatsConnection } from '@nats-io/nats-core';
import { Svcm, type Service, type ServiceMsg } from '@nats-io/services';
import type { Node } from '../actors/node.ts';
import { OPERATIONS, type Operation } from '../actors/operations.ts';
import type { Logger } from '../log.ts';
import { parseRequest } from './schemas.ts';
import { commandSubject, type BusNames } from './subjects.ts';
import { toWireError } from './wire-errors.ts';

export const SERVICE_NAME = 'podvisor';

type Handler = (req: never) => Promise<unknown>;

function handlers(node: Node): Record<Operation, Handler> {
  return {
    create: (r) => node.create(r),
    start: (r) => node.start(r),
    exec: (r) => node.exec(r),
    kill: (r) => node.kill(r),
    delete: (r) => node.delete(r),
    state: (r) => node.state(r),
    wait: (r) => node.wait(r),
    pids: (r) => node.pids(r),
    pause: (r) => node.pause(r),
    resume: (r) => node.resume(r),
    'resize-pty': (r) => node.resizePty(r),
    'close-io': (r) => node.closeIo(r),
    update: (r) => node.update(r),
    stats: (r) => node.stats(r),
    connect: (r) => node.connect(r),
    shutdown: (r) => node.shutdown(r),
    checkpoint: (r) => node.checkpoint(r),
    list: () => node.list(),
  };
}

/**
 * Registers the NATS service (micro protocol: $SRV.PING/INFO/STATS work)
 * with one endpoint per operation on `<prefix>.<node>.task.<op>`. Each
 * request is validated, run on the node, and answered with JSON or with the
 * service error headers and `{error: {code, message}}`. A `wait` answers
 * whenever the process exits, however long that takes: the caller's own
 * timeout bounds it, not ours.
 */
export async function startCommandService(
  nc: NatsConnection,
  node: Node,
  names: BusNames,
  log: Logger,
  version: string,
): Promise<Service> {
  const service = await new Svcm(nc).add({
    name: SERVICE_NAME,
    version,
    description: 'podvisor container lifecycle service',
    metadata: { node: names.node, prefix: names.prefix },
    // Each node's subjects are its own; no queue group is needed to share them.
    queue: '',
  });
  const table = handlers(node);
  for (const op of OPERATIONS) {
    service.addEndpoint(op, {
      subject: commandSubject(names, op),
      metadata: { op },
      handler: (err, msg) => {
        if (err !== null) {
          log.error({ err, op }, 'service endpoint failed');
          return;
        }
        void answer(msg, op, table[op], log);
      },
    });
  }
  // The endpoints are subscriptions: make sure the server has them before anyone is told we serve.
  await nc.flush();
  return service;
}

async function answer(msg: ServiceMsg, op: Operation, handler: Handler, log: Logger): Promise<void> {
  const started = performance.now();
  try {
    const request = parseRequest(op, msg.data);
    const reply = await handler(request as never);
    msg.respond(JSON.stringify(reply ?? {}));
    log.debug({ op, ms: performance.now() - started }, 'answered');
  } catch (err) {
    const wire = toWireError(err, op);
    if (wire.number >= 500) log.error({ err, op }, 'operation failed');
    else log.debug({ op, code: wire.body.error.code, msg: wire.message }, 'operation refused');
    try {
      msg.respondError(wire.number, wire.message, JSON.stringify(wire.body));
    } catch (respondErr) {
      log.warn({ err: respondErr, op }, 'could not deliver an error reply');
    }
  }
}
