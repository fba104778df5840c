/**
 * Request schemas, one per operation, strict: an unknown field, a wrong type
 * or a bad id is `invalid_argument` naming the field, before any actor sees
 * the request.
 */
import { z } from 'zod';
import type { Operation } from '../actors/operations.ts';
import { InvalidArgumentError } from '../errors.ts';
import { MAX_ID_LENGTH, isValidId } from '../ids.ts';

const id = z.string().refine(isValidId, { message: `must be 1 to ${MAX_ID_LENGTH} characters of [A-Za-z0-9] joined by single - or _` });
const execId = z.union([z.literal(''), id]).optional();
const path = z.string().optional();
const stdio = { terminal: z.boolean().optional(), stdin: path, stdout: path, stderr: path };
const object = z.record(z.string(), z.unknown());
const mount = z.strictObject({ type: z.string().optional(), source: z.string().optional(), target: z.string().optional(), options: z.array(z.string()).optional() });
const taskRef = z.strictObject({ id });
const execRef = z.strictObject({ id, execId });

export const REQUEST_SCHEMAS = {
  create: z.strictObject({ id, bundle: path, spec: object.optional(), rootfs: z.array(mount).optional(), options: object.optional(), ...stdio }),
  start: execRef,
  exec: z.strictObject({ id, execId: id, spec: object, ...stdio }),
  kill: z.strictObject({ id, execId, signal: z.number().int(), all: z.boolean().optional() }),
  delete: execRef,
  state: execRef,
  wait: execRef,
  pids: taskRef,
  pause: taskRef,
  resume: taskRef,
  'resize-pty': z.strictObject({ id, execId, width: z.number().int().min(0).max(65535), height: z.number().int().min(0).max(65535) }),
  'close-io': z.strictObject({ id, execId, stdin: z.boolean().optional() }),
  update: z.strictObject({ id, resources: object.optional(), annotations: z.record(z.string(), z.string()).optional() }),
  stats: taskRef,
  connect: taskRef,
  shutdown: z.strictObject({ id, now: z.boolean().optional() }),
  checkpoint: z.strictObject({ id, path: path, options: object.optional() }),
  list: z.strictObject({}),
} satisfies Record<Operation, z.ZodType>;

export type RequestOf<O extends Operation> = z.infer<(typeof REQUEST_SCHEMAS)[O]>;

// One decoder for every request: constructing a TextDecoder sets up a converter each time.
const decoder = new TextDecoder();

/** Parses a request body; MUST throw `invalid_argument` naming the offending field. */
export function parseRequest<O extends Operation>(op: O, body: Uint8Array): RequestOf<O> {
  let json: unknown;
  const text = decoder.decode(body);
  try {
    json = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${op}: request is not JSON: ${(err as Error).message}`);
  }
  const result = REQUEST_SCHEMAS[op].safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue === undefined ? '' : issue.path.map(String).join('.');
    const prefix = where === '' ? '' : `${where}.`;
    if (issue !== undefined && issue.code === 'unrecognized_keys') {
      throw new InvalidArgumentError(`${op}: unknown field ${issue.keys.map((k) => `'${prefix}${k}'`).join(', ')}`);
    }
    throw new InvalidArgumentError(`${op}: ${where === '' ? 'request' : `field '${where}'`}: ${issue?.message ?? 'invalid'}`);
  }
  return result.data as RequestOf<O>;
}
