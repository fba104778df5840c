/**
 * A pod: its sandbox task and the workload tasks created in it. The tasks are
 * their own actors; this machine decides admission (hcsshim `CreateTask`,
 * reference/hcsshim.md §3.3, in its order) and deletion (§3.6 with decision 6).
 * Admission is serialised by the pod actor's mailbox, closing hcsshim's
 * create race.
 *
 * state   │ command or notification            │ next state │ replied
 * ────────┼────────────────────────────────────┼────────────┼──────────────────────────────────────────
 * active  │ ADMIT_TASK, id = pod id            │ active     │ already_exists
 * active  │ ADMIT_TASK, sandbox init not running │ active   │ failed_precondition
 * active  │ ADMIT_TASK, id already a workload  │ active     │ already_exists
 * active  │ ADMIT_TASK, HostProcess rule fails │ active     │ failed_precondition
 * active  │ ADMIT_TASK, type ≠ container       │ active     │ failed_precondition
 * active  │ ADMIT_TASK, sandbox id ≠ pod id    │ active     │ failed_precondition
 * active  │ ADMIT_TASK, all checks pass        │ active     │ ok {annotations}, workload reserved
 * active  │ WORKLOAD_GONE                      │ active     │ — (reservation or workload released)
 * active  │ ADMIT_DELETE of a workload         │ active     │ ok
 * active  │ ADMIT_DELETE of the sandbox, workloads left │ active │ failed_precondition
 * active  │ ADMIT_DELETE of the sandbox, none left │ active │ ok
 * active  │ REMOVE (sandbox task deleted)      │ removed    │ —
 * active  │ SANDBOX_RUNNING / SANDBOX_STOPPED  │ active     │ —
 */
import { assign, emit, setup } from 'xstate';
import { AlreadyExistsError, FailedPreconditionError, type PodvisorError } from '../errors.ts';
import { ANNOTATION_CONTAINER_TYPE, ANNOTATION_SANDBOX_ID, type OciSpec } from '../oci.ts';
import type { Reply } from './exec.ts';
import { applyHostProcessRules, sandboxTypeAndId, type PodHostFacts } from './pod-rules.ts';

export interface PodInput {
  podId: string;
  spec: OciSpec;
  host: PodHostFacts;
}

export interface PodContext extends PodInput {
  sandboxRunning: boolean;
  workloads: string[];
}

export type PodEvent =
  | { type: 'ADMIT_TASK'; reqId: string; taskId: string; spec: OciSpec }
  | { type: 'ADMIT_DELETE'; reqId: string; taskId: string }
  | { type: 'WORKLOAD_GONE'; taskId: string }
  | { type: 'REMOVE' }
  | { type: 'SANDBOX_RUNNING' }
  | { type: 'SANDBOX_STOPPED' };

export type PodEmitted = { type: 'reply'; reqId: string; reply: Reply } | { type: 'removed' };

/** The first failing check of hcsshim's CreateTask, or the container's annotations. */
export function admissionOf(ctx: PodContext, taskId: string, spec: OciSpec): PodvisorError | Record<string, string> {
  if (taskId === ctx.podId) return new AlreadyExistsError(`task '${taskId}' already exists: it is the sandbox of pod '${ctx.podId}'`);
  if (!ctx.sandboxRunning) {
    return new FailedPreconditionError(`task '${taskId}' cannot be created in pod '${ctx.podId}' which is not running`);
  }
  if (ctx.workloads.includes(taskId)) return new AlreadyExistsError(`task '${taskId}' already exists in pod '${ctx.podId}'`);
  let annotations: Record<string, string>;
  try {
    annotations = applyHostProcessRules(ctx.spec, spec, ctx.host);
    const { type, sandboxId } = sandboxTypeAndId(spec.annotations);
    if (type !== 'container') {
      return new FailedPreconditionError(`expected annotation '${ANNOTATION_CONTAINER_TYPE}': 'container' got '${type}'`);
    }
    if (sandboxId !== ctx.podId) {
      return new FailedPreconditionError(`expected annotation '${ANNOTATION_SANDBOX_ID}': '${ctx.podId}' got '${sandboxId}'`);
    }
  } catch (err) {
    return err as PodvisorError;
  }
  return annotations;
}

const ok = (reqId: string, value: unknown = {}) => ({ type: 'reply' as const, reqId, reply: { ok: true as const, value } });
const fail = (reqId: string, error: PodvisorError) => ({ type: 'reply' as const, reqId, reply: { ok: false as const, error } });

export const podMachine = setup({
  types: {
    input: {} as PodInput,
    context: {} as PodContext,
    events: {} as PodEvent,
    emitted: {} as PodEmitted,
  },
  guards: {
    admissible: ({ context, event }) =>
      event.type === 'ADMIT_TASK' && !(admissionOf(context, event.taskId, event.spec) instanceof Error),
    isSandboxWithWorkloads: ({ context, event }) =>
      event.type === 'ADMIT_DELETE' && event.taskId === context.podId && context.workloads.length > 0,
  },
}).createMachine({
  id: 'pod',
  context: ({ input }) => ({ ...input, sandboxRunning: false, workloads: [] }),
  initial: 'active',
  states: {
    active: {
      on: {
        SANDBOX_RUNNING: { actions: assign({ sandboxRunning: true }) },
        SANDBOX_STOPPED: { actions: assign({ sandboxRunning: false }) },
        ADMIT_TASK: [
          {
            guard: 'admissible',
            actions: [
              // Emit before the reservation: admission reads the workloads it would add to.
              emit(({ context, event }) => ok(event.reqId, { annotations: admissionOf(context, event.taskId, event.spec) })),
              assign({ workloads: ({ context, event }) => [...context.workloads, event.taskId] }),
            ],
          },
          {
            actions: emit(({ context, event }) => fail(event.reqId, admissionOf(context, event.taskId, event.spec) as PodvisorError)),
          },
        ],
        WORKLOAD_GONE: { actions: assign({ workloads: ({ context, event }) => context.workloads.filter((id) => id !== event.taskId) }) },
        ADMIT_DELETE: [
          {
            guard: 'isSandboxWithWorkloads',
            actions: emit(({ context, event }) =>
              fail(
                event.reqId,
                new FailedPreconditionError(
                  `the sandbox task '${context.podId}' cannot be deleted while pod '${context.podId}' has workload tasks: ${context.workloads.join(', ')}`,
                ),
              ),
            ),
          },
          { actions: emit(({ event }) => ok(event.reqId)) },
        ],
        REMOVE: { target: 'removed' },
      },
    },
    removed: { type: 'final', entry: emit({ type: 'removed' as const }) },
  },
});
