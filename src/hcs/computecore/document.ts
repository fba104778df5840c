/**
 * OCI runtime spec → the HCS documents `computecore.dll` takes: the
 * ComputeSystem document (schema 2.1) for HcsCreateComputeSystem and the
 * ProcessParameters for HcsCreateProcess (reference/hcsshim.md §6.7), with
 * moby's validation rules (seed 000, createWindows/createLinux). Pure: the
 * facts about the host (CPU count, Windows build, which files exist) come in
 * as arguments, so every rule is testable on any machine.
 */
import { InvalidArgumentError } from '../../errors.ts';
import type { OciProcess, OciSpec } from '../../oci.ts';

export interface HostFacts {
  cpus: number;
  /** Windows build number; named pipe mounts need RS3 (16299), devices RS5 (17763). */
  build: number;
  /** Whether a path exists (the utility VM image is found among the layers). */
  exists(path: string): boolean;
}

/** The options a create request carries for a Linux container on Windows (LCOW). */
export interface LcowOptions {
  kirdPath: string;
  kernelFile?: string;
  initrdFile?: string;
  bootParameters?: string;
}

export interface ComputeSystemDocument {
  Owner: string;
  SchemaVersion: { Major: number; Minor: number };
  ShouldTerminateOnLastHandleClosed: boolean;
  HostingSystemId?: string;
  Container: {
    GuestOs?: { HostName: string };
    Storage: { Layers: { Id: string; Path: string }[]; Path?: string };
    MappedDirectories?: { HostPath: string; ContainerPath: string; ReadOnly: boolean }[];
    MappedPipes?: { ContainerPipeName: string; HostPath: string }[];
    Processor?: { Count?: number; Maximum?: number; Weight?: number };
    Memory?: { SizeInMB: number };
    Networking?: { Namespace?: string; AllowUnqualifiedDnsQuery?: boolean; DnsSearchList?: string; NetworkSharedContainerName?: string };
    AssignedDevices?: { InterfaceClassGuid: string }[];
  };
  /** Present for Hyper-V isolation: where the utility VM image is. */
  VirtualMachine?: { ImagePath: string; LinuxKernelFile?: string; LinuxInitrdFile?: string; LinuxBootParameters?: string };
}

export interface Translation {
  document: ComputeSystemDocument;
  /** Adjustments made rather than refused (a CPU count capped at the host's). */
  warnings: string[];
}

const VOLUME_GUID_PATH = /^\\\\\?\\Volume\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}\\?$/;
const PIPE_PREFIX = '\\\\.\\pipe\\';
const RS3 = 16299;
const RS5 = 17763;

function invalid(taskId: string, why: string): InvalidArgumentError {
  return new InvalidArgumentError(`task '${taskId}': OCI spec is invalid for HCS: ${why}`);
}

/**
 * HCS names a layer by a GUID derived from its folder name. The real
 * derivation (NameToGuid) is a call into vmcompute; this stable v5-style
 * stand-in keeps documents deterministic where that call is not available.
 */
export function layerGuid(folder: string): string {
  const name = folder.split(/[\\/]/).filter((p) => p !== '').pop() ?? folder;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < name.length; i++) {
    h1 = Math.imul(h1 ^ name.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ name.charCodeAt(i), 0x811c9dc5) >>> 0;
  }
  const hex = (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).repeat(2);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

interface WindowsResources {
  cpu?: { count?: number; shares?: number; maximum?: number };
  memory?: { limit?: number };
}

function resources(taskId: string, spec: OciSpec, host: HostFacts, warnings: string[]): Pick<ComputeSystemDocument['Container'], 'Processor' | 'Memory'> {
  const r = (spec.windows?.resources ?? undefined) as WindowsResources | undefined;
  const out: Pick<ComputeSystemDocument['Container'], 'Processor' | 'Memory'> = {};
  const processor: NonNullable<ComputeSystemDocument['Container']['Processor']> = {};
  if (r?.cpu?.count !== undefined) {
    if (!Number.isInteger(r.cpu.count) || r.cpu.count < 1) throw invalid(taskId, `windows.resources.cpu.count must be a positive integer`);
    processor.Count = Math.min(r.cpu.count, host.cpus);
    if (r.cpu.count > host.cpus) warnings.push(`CPU count ${r.cpu.count} capped at the host's ${host.cpus} processors`);
  }
  if (r?.cpu?.shares !== undefined) processor.Weight = r.cpu.shares;
  if (r?.cpu?.maximum !== undefined) processor.Maximum = r.cpu.maximum;
  if (Object.keys(processor).length > 0) out.Processor = processor;
  if (r?.memory?.limit !== undefined) {
    if (!(r.memory.limit > 0)) throw invalid(taskId, 'windows.resources.memory.limit must be positive');
    out.Memory = { SizeInMB: Math.floor(r.memory.limit / 1024 / 1024) };
  }
  return out;
}

function networking(spec: OciSpec): ComputeSystemDocument['Container']['Networking'] {
  const n = spec.windows?.network as
    | { networkNamespace?: string; allowUnqualifiedDNSQuery?: boolean; DNSSearchList?: string[]; networkSharedContainerName?: string }
    | undefined;
  if (n === undefined) return undefined;
  return {
    ...(n.networkNamespace === undefined ? {} : { Namespace: n.networkNamespace }),
    ...(n.allowUnqualifiedDNSQuery === undefined ? {} : { AllowUnqualifiedDnsQuery: n.allowUnqualifiedDNSQuery }),
    ...(n.DNSSearchList === undefined ? {} : { DnsSearchList: n.DNSSearchList.join(',') }),
    ...(n.networkSharedContainerName === undefined ? {} : { NetworkSharedContainerName: n.networkSharedContainerName }),
  };
}

/**
 * The ComputeSystem document for a Windows (WCOW) or Linux-on-Windows
 * (LCOW) container. MUST throw `invalid_argument` naming the rule for every
 * spec moby refuses, and change nothing.
 */
export function computeSystemDocument(
  taskId: string,
  spec: OciSpec,
  host: HostFacts,
  options: { owner?: string; lcow?: LcowOptions } = {},
): Translation {
  const warnings: string[] = [];
  const owner = options.owner ?? 'podvisor';
  if (spec.linux !== undefined && spec.linux !== null) return lcowDocument(taskId, spec, host, owner, options.lcow, warnings);
  if (spec.windows === undefined || spec.windows === null) throw invalid(taskId, 'neither windows nor linux is set');
  const layers = spec.windows.layerFolders ?? [];
  if (layers.length < 2) throw invalid(taskId, 'at least two layerFolders must be given (a base image and the scratch layer)');
  const parents = layers.slice(0, -1);
  const hyperv = spec.windows.hyperv !== undefined && spec.windows.hyperv !== null;
  const document: ComputeSystemDocument = {
    Owner: owner,
    SchemaVersion: { Major: 2, Minor: 1 },
    ShouldTerminateOnLastHandleClosed: true,
    Container: { Storage: { Layers: parents.map((p) => ({ Id: layerGuid(p), Path: p })) } },
  };
  if (spec.hostname !== undefined && spec.hostname !== '') document.Container.GuestOs = { HostName: spec.hostname };
  if (hyperv) {
    if ((spec.windows.hyperv?.utilityVMPath ?? '') !== '') throw invalid(taskId, 'an explicit utility VM path is not supported for Hyper-V containers');
    const image = parents.map((p) => `${p}\\UtilityVM`).find((p) => host.exists(p));
    if (image === undefined) throw invalid(taskId, 'no UtilityVM image was found in the layer folders');
    if ((spec.root?.path ?? '') !== '') throw invalid(taskId, 'root.path must be omitted for a Hyper-V container');
    document.VirtualMachine = { ImagePath: image };
  } else {
    const path = spec.root?.path ?? '';
    if (!VOLUME_GUID_PATH.test(path)) throw invalid(taskId, `root.path '${path}' must be a volume GUID path like \\\\?\\Volume{GUID}\\`);
    document.Container.Storage.Path = path.endsWith('\\') ? path : `${path}\\`;
  }
  if (spec.root?.readonly === true) throw invalid(taskId, 'root.readonly must not be set on Windows');
  const dirs: NonNullable<ComputeSystemDocument['Container']['MappedDirectories']> = [];
  const pipes: NonNullable<ComputeSystemDocument['Container']['MappedPipes']> = [];
  for (const [i, m] of (spec.mounts ?? []).entries()) {
    if ((m.type ?? '') !== '') throw invalid(taskId, `mounts[${i}].type '${m.type}' must not be set`);
    if (m.destination.startsWith(PIPE_PREFIX)) {
      pipes.push({ ContainerPipeName: m.destination.slice(PIPE_PREFIX.length), HostPath: m.source ?? '' });
    } else {
      dirs.push({ HostPath: m.source ?? '', ContainerPath: m.destination, ReadOnly: (m.options ?? []).some((o) => o.toLowerCase() === 'ro') });
    }
  }
  if (pipes.length > 0 && host.build < RS3) throw invalid(taskId, `named pipe mounts need Windows build ${RS3} or later (this is ${host.build})`);
  if (dirs.length > 0) document.Container.MappedDirectories = dirs;
  if (pipes.length > 0) document.Container.MappedPipes = pipes;
  const devices = (spec.windows['devices'] ?? []) as { id: string; idType?: string }[];
  if (devices.length > 0) {
    if (hyperv) throw invalid(taskId, 'device assignment is not supported for Hyper-V containers');
    if (host.build < RS5) throw invalid(taskId, `device assignment needs Windows build ${RS5} or later (this is ${host.build})`);
    document.Container.AssignedDevices = devices.map((d) => ({ InterfaceClassGuid: d.id }));
  }
  Object.assign(document.Container, resources(taskId, spec, host, warnings));
  const net = networking(spec);
  if (net !== undefined) document.Container.Networking = net;
  return { document, warnings };
}

function lcowDocument(
  taskId: string,
  spec: OciSpec,
  host: HostFacts,
  owner: string,
  lcow: LcowOptions | undefined,
  warnings: string[],
): Translation {
  if (lcow === undefined) throw invalid(taskId, 'LCOW options (utility VM kernel and initrd) must be given for a Linux container');
  if (spec.windows === undefined || spec.windows === null) throw invalid(taskId, 'windows must be set for a Linux container on Windows (its layers live there)');
  const layers = spec.windows.layerFolders ?? [];
  if (layers.length < 1) throw invalid(taskId, 'at least one layerFolders entry must be given');
  const document: ComputeSystemDocument = {
    Owner: owner,
    SchemaVersion: { Major: 2, Minor: 1 },
    ShouldTerminateOnLastHandleClosed: true,
    Container: { Storage: { Layers: layers.slice(0, -1).map((p) => ({ Id: layerGuid(p), Path: `${p}\\layer.vhd` })) } },
    VirtualMachine: {
      ImagePath: lcow.kirdPath,
      ...(lcow.kernelFile === undefined ? {} : { LinuxKernelFile: lcow.kernelFile }),
      ...(lcow.initrdFile === undefined ? {} : { LinuxInitrdFile: lcow.initrdFile }),
      ...(lcow.bootParameters === undefined ? {} : { LinuxBootParameters: lcow.bootParameters }),
    },
  };
  Object.assign(document.Container, resources(taskId, spec, host, warnings));
  const net = networking(spec);
  if (net !== undefined) document.Container.Networking = net;
  return { document, warnings };
}

export interface ProcessParameters {
  CommandLine: string;
  User?: string;
  WorkingDirectory?: string;
  Environment?: Record<string, string>;
  EmulateConsole: boolean;
  CreateStdInPipe: boolean;
  CreateStdOutPipe: boolean;
  CreateStdErrPipe: boolean;
  ConsoleSize?: [number, number];
}

/**
 * Quotes one argument so Windows' command-line parser reads it back whole,
 * by the rules of Go's `syscall.EscapeArg` (which hcsshim uses): quotes only
 * around blanks, a backslash before each `"`, doubled backslashes before a
 * quote or a closing quote.
 */
export function escapeArg(arg: string): string {
  if (arg === '') return '""';
  const needsBackslash = /["\\]/.test(arg);
  const hasSpace = /[ \t]/.test(arg);
  if (!needsBackslash && !hasSpace) return arg;
  if (!needsBackslash) return `"${arg}"`;
  let out = hasSpace ? '"' : '';
  let slashes = 0;
  for (const c of arg) {
    if (c === '\\') slashes++;
    else if (c === '"') {
      out += '\\'.repeat(slashes + 1);
      slashes = 0;
    } else slashes = 0;
    out += c;
  }
  if (hasSpace) out += `${'\\'.repeat(slashes)}"`;
  return out;
}

/**
 * HcsCreateProcess parameters. A terminal merges stderr into the console,
 * so it has no stderr pipe; empty environment values are dropped, as
 * hcsshim does.
 */
export function processParameters(
  taskId: string,
  process: OciProcess,
  io: { terminal: boolean; stdin: boolean; stdout: boolean; stderr: boolean },
): ProcessParameters {
  const commandLine = process.commandLine ?? (process.args ?? []).map(escapeArg).join(' ');
  if (commandLine.trim() === '') throw invalid(taskId, 'process has neither commandLine nor args');
  if (io.terminal && io.stderr) throw invalid(taskId, 'a terminal has no separate stderr');
  const env: Record<string, string> = {};
  for (const kv of process.env ?? []) {
    const at = kv.indexOf('=');
    if (at > 0 && at < kv.length - 1) env[kv.slice(0, at)] = kv.slice(at + 1);
  }
  return {
    CommandLine: commandLine,
    ...(process.user?.username === undefined ? {} : { User: process.user.username }),
    ...(process.cwd === undefined ? {} : { WorkingDirectory: process.cwd }),
    ...(Object.keys(env).length === 0 ? {} : { Environment: env }),
    EmulateConsole: io.terminal,
    CreateStdInPipe: io.stdin,
    CreateStdOutPipe: io.stdout,
    CreateStdErrPipe: io.stderr && !io.terminal,
    ...(process.consoleSize === undefined ? {} : { ConsoleSize: [process.consoleSize.height, process.consoleSize.width] }),
  };
}
