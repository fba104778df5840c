import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  UnavailableError,
  isPodvisorError,
  toPodvisorError,
  type PodvisorError,
} from '../errors.ts';
import { isBackendError, type BackendErrorKind } from '../hcs/backend.ts';

/**
 * The one place a backend's failure becomes a typed error. `what` names the
 * operation and its task/exec; the backend's own words follow it.
 */
export function typedBackendError(err: unknown, what: string): PodvisorError {
  if (isPodvisorError(err)) return err;
  if (!isBackendError(err)) return toPodvisorError(err, what);
  const message = `${what}: ${err.message}`;
  const options = { cause: err };
  const byKind: Partial<Record<BackendErrorKind, () => PodvisorError>> = {
    'not-found': () => new NotFoundError(message, options),
    'already-exists': () => new AlreadyExistsError(message, options),
    'invalid-argument': () => new InvalidArgumentError(message, options),
    // A program the spec names but the container lacks is the caller's
    // mistake; the exit status 127 tells controllers the same (decision 3).
    'executable-not-found': () => new InvalidArgumentError(message, options),
    'not-supported': () => new NotImplementedError(message, options),
    'invalid-state': () => new FailedPreconditionError(message, options),
    'already-stopped': () => new FailedPreconditionError(message, options),
    unavailable: () => new UnavailableError(message, options),
  };
  return byKind[err.kind]?.() ?? toPodvisorError(err, what);
}

/** Failures that mean "the thing is already gone", which a stop or kill treats as done (hcsshim). */
export function isGone(err: unknown): boolean {
  return isBackendError(err, 'already-stopped') || isBackendError(err, 'not-found');
}
