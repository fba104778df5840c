/**
 * The pure rules a pod applies to specs: reading the Kubernetes sandbox
 * annotations (hcsshim `GetSandboxTypeAndID`, reference/hcsshim.md §3.8) and
 * the HostProcess rules (`updateConfigForHostProcessContainer`, §3.7).
 */
import { FailedPreconditionError, InvalidArgumentError } from '../errors.ts';
import {
  ANNOTATION_CONTAINER_TYPE,
  ANNOTATION_HOST_PROCESS_INHERIT_USER,
  ANNOTATION_HOST_PROCESS_ROOTFS,
  ANNOTATION_SANDBOX_ID,
  isIsolated,
  isJobContainer,
  type OciSpec,
} from '../oci.ts';

export type ContainerType = '' | 'sandbox' | 'container';

export interface SandboxTypeAndId {
  type: ContainerType;
  sandboxId: string;
}

/**
 * MUST throw `invalid_argument` for an unknown container type or a type
 * without its sandbox id (and the reverse); hcsshim returns plain errors
 * here, which containerd reports as Unknown: a malformed spec is the
 * caller's mistake, so podvisor calls it what it is.
 */
export function sandboxTypeAndId(annotations: Readonly<Record<string, string>> | undefined): SandboxTypeAndId {
  const type = annotations?.[ANNOTATION_CONTAINER_TYPE] ?? '';
  const sandboxId = annotations?.[ANNOTATION_SANDBOX_ID] ?? '';
  if (type !== '' && type !== 'sandbox' && type !== 'container') {
    throw new InvalidArgumentError(`invalid '${ANNOTATION_CONTAINER_TYPE}': '${type}'`);
  }
  if (type !== '' && sandboxId === '') {
    throw new InvalidArgumentError(`cannot specify '${ANNOTATION_CONTAINER_TYPE}' without '${ANNOTATION_SANDBOX_ID}'`);
  }
  if (type === '' && sandboxId !== '') {
    throw new InvalidArgumentError(`cannot specify '${ANNOTATION_SANDBOX_ID}' without '${ANNOTATION_CONTAINER_TYPE}'`);
  }
  return { type, sandboxId };
}

export interface PodHostFacts {
  /** The pod runs in a utility VM (Hyper-V isolated). */
  hasHost: boolean;
  /** The pod's utility VM can run HostProcess containers. */
  hostSupportsHostProcess: boolean;
}

/**
 * Returns the container's annotations after the HostProcess rules, or throws
 * `failed_precondition` when the container may not run in this pod. Never
 * mutates its arguments.
 */
export function applyHostProcessRules(pod: OciSpec, container: OciSpec, host: PodHostFacts): Record<string, string> {
  const annotations: Record<string, string> = { ...(container.annotations ?? {}) };
  const procHpcSandbox = isJobContainer(pod) && !isIsolated(pod);
  const procHpcContainer = isJobContainer(container) && !isIsolated(container);
  const hvHpcContainer = isJobContainer(container) && isIsolated(container);

  if (hvHpcContainer && host.hasHost && !host.hostSupportsHostProcess) {
    throw new FailedPreconditionError('the pod utility VM does not support HostProcess containers');
  }
  if (procHpcSandbox || hvHpcContainer) {
    if (procHpcSandbox && !procHpcContainer) {
      throw new FailedPreconditionError(
        'cannot create a normal process isolated container if the pod sandbox is a job container running on host',
      );
    }
    for (const key of [ANNOTATION_HOST_PROCESS_INHERIT_USER, ANNOTATION_HOST_PROCESS_ROOTFS]) {
      const value = pod.annotations?.[key];
      if (value !== undefined) annotations[key] = value;
    }
  }
  if (!isJobContainer(container) && (annotations[ANNOTATION_HOST_PROCESS_INHERIT_USER] ?? '') !== '') {
    annotations[ANNOTATION_HOST_PROCESS_INHERIT_USER] = 'false';
  }
  return annotations;
}
