/**
 * HCS failures as BackendErrors, through the shared table in ../hresults.ts.
 * computecore returns Win32 failures as FACILITY_WIN32 HRESULTs
 * (0x80070490), which hcsshim turns back into the Win32 code (0x490) before
 * it classifies them (§6.1); the table holds either form, so both are tried.
 */
import { BackendError } from '../backend.ts';
import { backendErrorFromHresult, hresultKind, hresultName } from '../hresults.ts';
import type { WireError } from './protocol.ts';

export const E_INVALIDARG = 0x80070057;

function classifiable(hresult: number): number {
  const hr = hresult >>> 0;
  if (hresultKind(hr) !== 'other') return hr;
  if (((hr & 0x1fff0000) >>> 0) === 0x00070000) {
    const win32 = hr & 0xffff;
    if (hresultKind(win32) !== 'other') return win32;
  }
  return hr;
}

export function hcsError(hresult: number, message: string): BackendError {
  const hr = hresult >>> 0;
  // E_INVALIDARG is HCS refusing the request itself: the caller's argument, not HCS's state.
  if (hr === E_INVALIDARG) return new BackendError('invalid-argument', `${message}: ${hresultName(hr)} (E_INVALIDARG)`, hr);
  const err = backendErrorFromHresult(classifiable(hr), message);
  return err.hresult === hr ? err : new BackendError(err.kind, `${message}: ${hresultName(hr)}`, hr);
}

export function fromWire(error: WireError): BackendError {
  if (error.hresult !== null && error.kind !== 'unavailable') return hcsError(error.hresult, error.message);
  return new BackendError(error.kind ?? 'other', error.message);
}

export function unavailable(message: string, cause?: unknown): BackendError {
  return new BackendError('unavailable', message, undefined, cause === undefined ? undefined : { cause });
}
