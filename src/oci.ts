/**
 * The part of the OCI runtime spec podvisor reads. Fields it passes through
 * untouched stay `unknown`.
 */

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user?: { uid?: number; gid?: number; username?: string };
  args?: string[];
  commandLine?: string;
  env?: string[];
  cwd?: string;
  [extra: string]: unknown;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciWindows {
  layerFolders?: string[];
  hyperv?: { utilityVMPath?: string } | null;
  network?: { networkNamespace?: string; [extra: string]: unknown };
  resources?: unknown;
  [extra: string]: unknown;
}

export interface OciSpec {
  ociVersion?: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  mounts?: OciMount[];
  annotations?: Record<string, string>;
  linux?: Record<string, unknown>;
  windows?: OciWindows;
  [extra: string]: unknown;
}

export const ANNOTATION_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
export const ANNOTATION_SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';
export const ANNOTATION_HOST_PROCESS = 'microsoft.com/hostprocess-container';
export const ANNOTATION_HOST_PROCESS_INHERIT_USER = 'microsoft.com/hostprocess-inherit-user';
export const ANNOTATION_HOST_PROCESS_ROOTFS = 'microsoft.com/hostprocess-rootfs-location';

export type Platform = 'windows' | 'linux';

export function isWindows(spec: OciSpec): boolean {
  return spec.windows !== undefined && spec.windows !== null;
}
export function isLinux(spec: OciSpec): boolean {
  return !isWindows(spec) && spec.linux !== undefined && spec.linux !== null;
}
/** Hyper-V isolated: a WCOW spec with `windows.hyperv`, or any LCOW spec (hcsshim's `IsIsolated`). */
export function isIsolated(spec: OciSpec): boolean {
  return isLinux(spec) || (isWindows(spec) && spec.windows?.hyperv !== undefined && spec.windows?.hyperv !== null);
}
/** A HostProcess (job) container: WCOW with the hostprocess annotation. */
export function isJobContainer(spec: OciSpec): boolean {
  return isWindows(spec) && spec.annotations?.[ANNOTATION_HOST_PROCESS] === 'true';
}
