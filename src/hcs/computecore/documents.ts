/**
 * The JSON HcsBackend sends: the ComputeSystem document and ProcessParameters
 * (document.ts for Windows specs; a plain container document for Linux specs,
 * which only the simulator runs), and the signal, console, stdin and resource
 * requests of §6.7.
 */
import { existsSync } from 'node:fs';
import { cpus, release } from 'node:os';
import { InvalidArgumentError } from '../../errors.ts';
import { isWindows, type OciSpec } from '../../oci.ts';
import { BackendError, type ProcessParams, type ProcessSignal } from '../backend.ts';
import { computeSystemDocument, processParameters, type HostFacts } from './document.ts';
import { simulatorSection } from './simulator.ts';

/** Windows Server 2022: what the simulator claims to be when it is asked which build it runs. */
const SIMULATED_BUILD = 20348;

export function hostFacts(): HostFacts {
  const build = process.platform === 'win32' ? Number(release().split('.')[2] ?? 0) : SIMULATED_BUILD;
  return { cpus: cpus().length, build, exists: existsSync };
}

function invalid(err: unknown): BackendError {
  return new BackendError('invalid-argument', err instanceof Error ? err.message : String(err), undefined, { cause: err });
}

/**
 * The document for HcsCreateComputeSystem. A Linux spec needs LCOW's utility
 * VM options on Windows, which the Backend interface does not carry: refused
 * there, run as a plain container by the simulator.
 */
export function systemDocument(id: string, spec: OciSpec, options: { simulator: boolean }): string {
  let section;
  try {
    section = simulatorSection(spec);
  } catch (err) {
    throw invalid(err);
  }
  if (isWindows(spec)) {
    let translated;
    try {
      translated = computeSystemDocument(id, spec, hostFacts());
    } catch (err) {
      if (err instanceof InvalidArgumentError) throw invalid(err);
      throw err;
    }
    const extra = Object.keys(section).length > 0 ? { PodvisorSim: { ...section, Platform: 'windows' } } : {};
    return JSON.stringify({ ...translated.document, ...extra });
  }
  if (!options.simulator) {
    throw new BackendError('not-supported', `task '${id}': a Linux container on computecore.dll needs LCOW utility VM options, which this backend is not given`);
  }
  return JSON.stringify({
    Owner: 'podvisor',
    SchemaVersion: { Major: 2, Minor: 1 },
    ShouldTerminateOnLastHandleClosed: true,
    Container: {
      ...(spec.hostname === undefined || spec.hostname === '' ? {} : { GuestOs: { HostName: spec.hostname } }),
      Storage: { Layers: [], ...(spec.root?.path === undefined ? {} : { Path: spec.root.path }) },
    },
    PodvisorSim: { ...section, Platform: 'linux' },
  });
}

/** ProcessParameters; a Linux process also carries its argv (CommandArgs), as LCOW's do. */
export function processDocument(id: string, windows: boolean, params: ProcessParams): string {
  let doc: Record<string, unknown>;
  try {
    doc = { ...processParameters(id, params.process, { terminal: params.terminal, stdin: params.io.stdin !== null, stdout: params.io.stdout !== null, stderr: params.io.stderr !== null && !params.terminal }) };
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw invalid(err);
    throw err;
  }
  // The console size is the one asked for before the start, not the spec's.
  delete doc['ConsoleSize'];
  if (params.consoleSize !== undefined) doc['ConsoleSize'] = [params.consoleSize.height, params.consoleSize.width];
  if (!windows && params.process.args !== undefined && params.process.args.length > 0) doc['CommandArgs'] = params.process.args;
  return JSON.stringify(doc);
}

export function signalDocument(windows: boolean, signal: ProcessSignal): string {
  if (signal.kind === 'windows') {
    if (!windows) throw new BackendError('invalid-argument', `a console event (${signal.event}) cannot be sent to a Linux process`);
    return JSON.stringify({ Signal: signal.event });
  }
  if (windows) throw new BackendError('invalid-argument', `signal ${signal.signal} is not a console event: Windows processes take CtrlC, CtrlBreak, CtrlClose, CtrlLogOff or CtrlShutdown`);
  return JSON.stringify({ Signal: signal.signal });
}

export function consoleSizeDocument(width: number, height: number): string {
  return JSON.stringify({ Operation: 'ConsoleSize', ConsoleSize: { Height: height, Width: width } });
}

export const CLOSE_STDIN_DOCUMENT = JSON.stringify({ Operation: 'CloseHandle', CloseHandle: { Handle: 'StdIn' } });

const MiB = 1024 * 1024;

/**
 * An update request's resources as HcsModifyComputeSystem requests (§6.7):
 * memory.limit, cpu.count/maximum/shares, or one directory to map in.
 */
export function modifyRequests(resources: Record<string, unknown>): string[] {
  if ('hostPath' in resources || 'containerPath' in resources) {
    const { hostPath, containerPath, readOnly = false, ...rest } = resources;
    if (typeof hostPath !== 'string' || hostPath === '') throw new BackendError('invalid-argument', 'resources.hostPath must be a path');
    if (typeof containerPath !== 'string' || containerPath === '') throw new BackendError('invalid-argument', 'resources.containerPath must be a path');
    if (typeof readOnly !== 'boolean') throw new BackendError('invalid-argument', 'resources.readOnly must be a boolean');
    const unknown = Object.keys(rest).find((k) => k !== 'type' || (rest['type'] ?? '') !== '');
    if (unknown !== undefined) throw new BackendError('invalid-argument', `resources.${unknown} is not supported for a mount into a running container`);
    return [JSON.stringify({ ResourcePath: 'Container/MappedDirectories', RequestType: 'Add', Settings: { HostPath: hostPath, ContainerPath: containerPath, ReadOnly: readOnly } })];
  }
  const flat = (resources['linux'] ?? resources['windows'] ?? resources) as Record<string, unknown>;
  const requests: string[] = [];
  for (const [key, value] of Object.entries(flat)) {
    if (key === 'memory') {
      const limit = (value as { limit?: unknown } | null)?.limit;
      if (typeof limit !== 'number' || limit < 0) throw new BackendError('invalid-argument', 'resources.memory.limit must be a non-negative number');
      // HCS takes whole, even megabytes for a container's memory.
      const mb = Math.floor(limit / MiB / 2) * 2;
      requests.push(JSON.stringify({ ResourcePath: 'Container/Memory/SizeInMB', RequestType: 'Update', Settings: mb }));
    } else if (key === 'cpu') {
      const cpu = (value ?? {}) as Record<string, unknown>;
      const settings: Record<string, number> = {};
      for (const [k, v] of Object.entries(cpu)) {
        const name = { count: 'Count', maximum: 'Maximum', shares: 'Weight' }[k];
        if (name === undefined || typeof v !== 'number') throw new BackendError('invalid-argument', `resources.cpu.${k} is not supported by HCS (count, maximum, shares)`);
        settings[name] = v;
      }
      requests.push(JSON.stringify({ ResourcePath: 'Container/Processor', RequestType: 'Update', Settings: settings }));
    } else {
      throw new BackendError('invalid-argument', `resources.${key} is not supported by HCS (memory, cpu)`);
    }
  }
  return requests;
}
