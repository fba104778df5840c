import { ERROR_NUMBERS, isPodvisorError, toPodvisorError, type ErrorCode } from '../errors.ts';

export interface WireError {
  number: number;
  message: string;
  body: { error: { code: ErrorCode; message: string } };
}

/** The one mapping of a typed error to the wire (api.md "Errors"). */
export function toWireError(err: unknown, op: string): WireError {
  const typed = isPodvisorError(err) ? err : toPodvisorError(err, op);
  return {
    number: ERROR_NUMBERS[typed.code],
    message: typed.message,
    body: { error: { code: typed.code, message: typed.message } },
  };
}
