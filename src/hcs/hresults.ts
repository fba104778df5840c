/**
 * HRESULTs that HCS returns (reference/hcsshim.md §6.5), and their meaning
 * in backend-neutral terms. Shared by every HCS-shaped backend.
 */
import { BackendError, type BackendErrorKind } from './backend.ts';

export const HRESULT = {
  S_OK: 0x00000000,
  E_NOTIMPL: 0x80004001,
  ERROR_ACCESS_DENIED: 0x5,
  ERROR_INVALID_HANDLE: 0x6,
  ERROR_INVALID_DATA: 0xd,
  ERROR_NOT_SUPPORTED: 0x32,
  ERROR_NOT_FOUND: 0x490,
  ERROR_FILE_NOT_FOUND: 0x80070002,
  VMCOMPUTE_OPERATION_PENDING: 0xc0370103,
  VMCOMPUTE_INVALID_STATE: 0xc0370105,
  VMCOMPUTE_UNKNOWN_MESSAGE: 0xc037010b,
  VMCOMPUTE_INVALID_JSON: 0xc037010d,
  VMCOMPUTE_SYSTEM_NOT_FOUND: 0xc037010e,
  VMCOMPUTE_ALREADY_STOPPED: 0xc0370110,
  HCS_E_INVALID_STATE: 0x80370105,
  HCS_E_SYSTEM_NOT_FOUND: 0x8037010e,
  HCS_E_SYSTEM_ALREADY_EXISTS: 0x8037010f,
  HCS_E_SYSTEM_ALREADY_STOPPED: 0x80370110,
  HCS_E_OPERATION_PENDING: 0x80370117,
  HCS_E_OPERATION_TIMEOUT: 0x80370118,
  HCS_E_PROCESS_ALREADY_STOPPED: 0x8037011f,
} as const;

const NAMES = new Map<number, string>(Object.entries(HRESULT).map(([name, value]) => [value, name]));

/** HCS reports the same condition as 0xC037xxxx and 0x8037xxxx; compare on one form. */
function canonical(hr: number): number {
  const u = hr >>> 0;
  return ((u & 0xffff0000) >>> 0) === 0xc0370000 ? ((u & 0x0000ffff) | 0x80370000) >>> 0 : u;
}

const KINDS = new Map<number, BackendErrorKind>([
  [HRESULT.HCS_E_OPERATION_PENDING, 'pending'],
  [canonical(HRESULT.VMCOMPUTE_OPERATION_PENDING), 'pending'],
  [HRESULT.HCS_E_INVALID_STATE, 'invalid-state'],
  [HRESULT.HCS_E_SYSTEM_NOT_FOUND, 'not-found'],
  [HRESULT.ERROR_NOT_FOUND, 'not-found'],
  [HRESULT.HCS_E_SYSTEM_ALREADY_EXISTS, 'already-exists'],
  [HRESULT.HCS_E_SYSTEM_ALREADY_STOPPED, 'already-stopped'],
  [HRESULT.HCS_E_PROCESS_ALREADY_STOPPED, 'already-stopped'],
  [HRESULT.HCS_E_OPERATION_TIMEOUT, 'timeout'],
  [HRESULT.ERROR_ACCESS_DENIED, 'access-denied'],
  [HRESULT.ERROR_INVALID_HANDLE, 'invalid-state'],
  [HRESULT.E_NOTIMPL, 'not-supported'],
  [HRESULT.ERROR_INVALID_DATA, 'not-supported'],
  [HRESULT.ERROR_NOT_SUPPORTED, 'not-supported'],
  [canonical(HRESULT.VMCOMPUTE_UNKNOWN_MESSAGE), 'not-supported'],
  [canonical(HRESULT.VMCOMPUTE_INVALID_JSON), 'not-supported'],
  [HRESULT.ERROR_FILE_NOT_FOUND, 'executable-not-found'],
]);

/** `0x8037011F (HCS_E_PROCESS_ALREADY_STOPPED)`, for messages. */
export function hresultName(hr: number): string {
  const u = hr >>> 0;
  const name = NAMES.get(u) ?? NAMES.get(canonical(u));
  return `0x${u.toString(16).toUpperCase().padStart(8, '0')}${name === undefined ? '' : ` (${name})`}`;
}

export function hresultKind(hr: number): BackendErrorKind {
  return KINDS.get(canonical(hr)) ?? 'other';
}

export function backendErrorFromHresult(hr: number, message: string): BackendError {
  return new BackendError(hresultKind(hr), `${message}: ${hresultName(hr)}`, hr >>> 0);
}
