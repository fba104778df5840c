import { InvalidArgumentError } from './errors.ts';

/**
 * Ids become NATS subject tokens, so dots, wildcards and whitespace are out
 * (api.md "Names").
 */
const ID_PATTERN = /^[A-Za-z0-9]+([_-][A-Za-z0-9]+)*$/;
export const MAX_ID_LENGTH = 76;

export function isValidId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id);
}

/** MUST throw `invalid_argument` naming `field` when `value` is not an id. */
export function assertId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isValidId(value)) {
    throw new InvalidArgumentError(
      `${field} ${JSON.stringify(value)} is not a valid id (1 to ${MAX_ID_LENGTH} characters matching ${ID_PATTERN.source})`,
    );
  }
  return value;
}

/** An exec id may also be empty (or absent), meaning the task's init process. */
export function assertExecId(value: unknown, field = 'execId'): string {
  if (value === undefined || value === '') return '';
  return assertId(value, field);
}
