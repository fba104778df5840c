/**
 * The closed set of errors podvisor answers with. Every failure that reaches a
 * caller is one of these; `src/bus/` maps them to the wire exactly once, by
 * `code` (never by `instanceof`, so they survive crossing a worker thread as
 * plain data).
 */

export type ErrorCode =
  | 'invalid_argument'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'internal'
  | 'not_implemented'
  | 'unavailable';

/** Wire numbers of api.md's error table. */
export const ERROR_NUMBERS: Readonly<Record<ErrorCode, number>> = {
  invalid_argument: 400,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  internal: 500,
  not_implemented: 501,
  unavailable: 503,
};

export abstract class PodvisorError extends Error {
  abstract readonly code: ErrorCode;
  get number(): number {
    return ERROR_NUMBERS[this.code];
  }
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
  toJSON(): SerializedError {
    return { name: this.name, code: this.code, message: this.message };
  }
}

export class InvalidArgumentError extends PodvisorError {
  readonly code = 'invalid_argument' as const;
}
export class NotFoundError extends PodvisorError {
  readonly code = 'not_found' as const;
}
export class AlreadyExistsError extends PodvisorError {
  readonly code = 'already_exists' as const;
}
export class FailedPreconditionError extends PodvisorError {
  readonly code = 'failed_precondition' as const;
}
export class InternalError extends PodvisorError {
  readonly code = 'internal' as const;
}
export class NotImplementedError extends PodvisorError {
  readonly code = 'not_implemented' as const;
}
export class UnavailableError extends PodvisorError {
  readonly code = 'unavailable' as const;
}

export interface SerializedError {
  name: string;
  code: ErrorCode;
  message: string;
}

const BY_CODE: Readonly<Record<ErrorCode, new (message: string, options?: { cause?: unknown }) => PodvisorError>> = {
  invalid_argument: InvalidArgumentError,
  not_found: NotFoundError,
  already_exists: AlreadyExistsError,
  failed_precondition: FailedPreconditionError,
  internal: InternalError,
  not_implemented: NotImplementedError,
  unavailable: UnavailableError,
};

/** Rebuilds a typed error from its serialised form (from a worker, or the wire). */
export function errorFromCode(code: ErrorCode, message: string, cause?: unknown): PodvisorError {
  return new BY_CODE[code](message, cause === undefined ? undefined : { cause });
}

export function isPodvisorError(err: unknown): err is PodvisorError {
  return err instanceof PodvisorError;
}

/**
 * Anything thrown that is not already typed becomes `internal`, keeping the
 * original as `cause` so the log still shows the backend's own words.
 */
export function toPodvisorError(err: unknown, context: string): PodvisorError {
  if (err instanceof PodvisorError) return err;
  const text = err instanceof Error ? err.message : String(err);
  return new InternalError(`${context}: ${text}`, { cause: err });
}

/** How task and exec are named in every message, so logs and replies agree. */
export function describeExec(taskId: string, execId: string): string {
  return execId === '' ? `task '${taskId}'` : `exec '${execId}' in task '${taskId}'`;
}
