/**
 * OCI spec → HCS documents (reference/hcsshim.md §6.7), with moby's
 * validation rules (seed 000): one row per rule.
 */
import { describe, expect, it } from 'vitest';
import { computeSystemDocument, escapeArg, layerGuid, processParameters, type HostFacts } from '../../src/hcs/computecore/document.ts';
import type { OciSpec } from '../../src/oci.ts';

const VOLUME = '\\\\?\\Volume{66d1ef4c-7a00-11e6-8948-00155ddbef9d}\\';
const host: HostFacts = { cpus: 4, build: 20348, exists: (p) => p === 'C:\\layers\\base\\UtilityVM' };
const wcow = (over: Partial<OciSpec> = {}, windows: Record<string, unknown> = {}): OciSpec => ({
  process: { args: ['cmd'] },
  root: { path: VOLUME },
  windows: { layerFolders: ['C:\\layers\\base', 'C:\\layers\\scratch'], ...windows },
  ...over,
});

describe('ComputeSystem document: what is refused (invalid_argument)', () => {
  const rules: [string, OciSpec, RegExp, HostFacts?][] = [
    ['fewer than two layer folders', wcow({}, { layerFolders: ['C:\\only'] }), /two layerFolders/],
    ['a root path that is not a volume GUID path', wcow({ root: { path: 'C:\\rootfs' } }), /volume GUID path/],
    ['a read-only root', wcow({ root: { path: VOLUME, readonly: true } }), /readonly/],
    ['a mount with a type', wcow({ mounts: [{ destination: 'C:\\data', source: 'C:\\host', type: 'bind' }] }), /mounts\[0\]\.type 'bind'/],
    ['a named pipe mount before RS3', wcow({ mounts: [{ destination: '\\\\.\\pipe\\docker', source: '\\\\.\\pipe\\docker' }] }), /16299/, { ...host, build: 14393 }],
    ['a device on a Hyper-V container', wcow({ root: { path: '' } }, { hyperv: {}, devices: [{ id: '5B45201D-F2F2-4F3B-85BB-30FF1F953599', idType: 'class' }] }), /Hyper-V/],
    ['a device before RS5', wcow({}, { devices: [{ id: 'x', idType: 'class' }] }), /17763/, { ...host, build: 17134 }],
    ['an explicit utility VM path', wcow({ root: { path: '' } }, { hyperv: { utilityVMPath: 'C:\\uvm' } }), /explicit utility VM path/],
    ['a Hyper-V container without a UtilityVM image', wcow({ root: { path: '' } }, { hyperv: {} }), /UtilityVM image/, { ...host, exists: () => false }],
    ['a Hyper-V container with a root path', wcow({}, { hyperv: {} }), /root\.path must be omitted/],
    ['a CPU count of 0', wcow({}, { resources: { cpu: { count: 0 } } }), /cpu\.count/],
    ['a spec with neither windows nor linux', { process: { args: ['x'] } }, /neither windows nor linux/],
  ];
  for (const [what, spec, message, facts] of rules) {
    it(what, () => {
      const before = JSON.stringify(spec);
      expect(() => computeSystemDocument('t1', spec, facts ?? host)).toThrow(expect.objectContaining({ code: 'invalid_argument', message: expect.stringMatching(message) }));
      expect(JSON.stringify(spec)).toBe(before);
    });
  }
  it('LCOW without its options, without windows, or without layers', () => {
    const lcow = { kirdPath: 'C:\\lcow' };
    expect(() => computeSystemDocument('t1', { linux: {}, windows: { layerFolders: ['a'] } }, host)).toThrow(/LCOW options/);
    expect(() => computeSystemDocument('t1', { linux: {} }, host, { lcow })).toThrow(/windows must be set/);
    expect(() => computeSystemDocument('t1', { linux: {}, windows: { layerFolders: [] } }, host, { lcow })).toThrow(/at least one layerFolders/);
  });
});

describe('ComputeSystem document: what is built', () => {
  it('a process-isolated container: parent layers by GUID, the scratch volume, mounts and pipes', () => {
    const { document } = computeSystemDocument(
      't1',
      wcow({
        hostname: 'web',
        mounts: [
          { destination: 'C:\\data', source: 'C:\\host\\data', options: ['RO'] },
          { destination: 'C:\\logs', source: 'C:\\host\\logs' },
          { destination: '\\\\.\\pipe\\docker_engine', source: '\\\\.\\pipe\\docker_engine' },
        ],
      }),
      host,
    );
    expect(document).toEqual({
      Owner: 'podvisor',
      SchemaVersion: { Major: 2, Minor: 1 },
      ShouldTerminateOnLastHandleClosed: true,
      Container: {
        GuestOs: { HostName: 'web' },
        Storage: { Layers: [{ Id: layerGuid('C:\\layers\\base'), Path: 'C:\\layers\\base' }], Path: VOLUME },
        MappedDirectories: [
          { HostPath: 'C:\\host\\data', ContainerPath: 'C:\\data', ReadOnly: true },
          { HostPath: 'C:\\host\\logs', ContainerPath: 'C:\\logs', ReadOnly: false },
        ],
        MappedPipes: [{ ContainerPipeName: 'docker_engine', HostPath: '\\\\.\\pipe\\docker_engine' }],
      },
    });
  });
  it('adds the trailing backslash a volume path needs', () => {
    const { document } = computeSystemDocument('t1', wcow({ root: { path: VOLUME.slice(0, -1) } }), host);
    expect(document.Container.Storage.Path).toBe(VOLUME);
  });
  it('resources: CPU count capped at the host with a warning, shares to weight, maximum, memory in MB', () => {
    const { document, warnings } = computeSystemDocument(
      't1',
      wcow({}, { resources: { cpu: { count: 16, shares: 500, maximum: 5000 }, memory: { limit: 512 * 1024 * 1024 } } }),
      host,
    );
    expect(document.Container.Processor).toEqual({ Count: 4, Weight: 500, Maximum: 5000 });
    expect(document.Container.Memory).toEqual({ SizeInMB: 512 });
    expect(warnings).toEqual(["CPU count 16 capped at the host's 4 processors"]);
  });
  it('a Hyper-V container finds the uppermost UtilityVM image', () => {
    const { document } = computeSystemDocument('t1', wcow({ root: { path: '' } }, { hyperv: {} }), host);
    expect(document.VirtualMachine).toEqual({ ImagePath: 'C:\\layers\\base\\UtilityVM' });
    expect(document.Container.Storage.Path).toBeUndefined();
  });
  it('networking from the spec; devices on RS5', () => {
    const { document } = computeSystemDocument(
      't1',
      wcow({}, { network: { networkNamespace: 'ns-guid', DNSSearchList: ['a.com', 'b.com'], allowUnqualifiedDNSQuery: true }, devices: [{ id: 'class-guid', idType: 'class' }] }),
      host,
    );
    expect(document.Container.Networking).toEqual({ Namespace: 'ns-guid', AllowUnqualifiedDnsQuery: true, DnsSearchList: 'a.com,b.com' });
    expect(document.Container.AssignedDevices).toEqual([{ InterfaceClassGuid: 'class-guid' }]);
  });
  it('an LCOW container: layer.vhd parents and the utility VM boot files', () => {
    const { document } = computeSystemDocument('t1', { linux: {}, windows: { layerFolders: ['C:\\l\\a', 'C:\\l\\scratch'] } }, host, {
      lcow: { kirdPath: 'C:\\lcow', kernelFile: 'kernel', initrdFile: 'initrd.img' },
    });
    expect(document.Container.Storage.Layers).toEqual([{ Id: layerGuid('C:\\l\\a'), Path: 'C:\\l\\a\\layer.vhd' }]);
    expect(document.VirtualMachine).toEqual({ ImagePath: 'C:\\lcow', LinuxKernelFile: 'kernel', LinuxInitrdFile: 'initrd.img' });
  });
  it('layer GUIDs are stable per folder name and differ between folders', () => {
    expect(layerGuid('C:\\x\\abc')).toBe(layerGuid('D:\\y\\abc'));
    expect(layerGuid('C:\\x\\abc')).not.toBe(layerGuid('C:\\x\\abd'));
    expect(layerGuid('C:\\x\\abc')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('ProcessParameters', () => {
  it.each([
    ['plain', 'plain'],
    ['', '""'],
    ['two words', '"two words"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['a"b', 'a\\"b'],
    ['C:\\dir\\', 'C:\\dir\\'],
    ['C:\\my dir\\', '"C:\\my dir\\\\"'],
    ['back\\"quote', 'back\\\\\\"quote'],
  ])('escapes %j as %j', (arg, escaped) => {
    expect(escapeArg(arg)).toBe(escaped);
  });
  it('builds the command line, user, directory, environment (empty values dropped) and pipes', () => {
    expect(
      processParameters('t1', { args: ['cmd', '/c', 'echo hi there'], user: { username: 'ContainerUser' }, cwd: 'C:\\', env: ['PATH=C:\\Windows', 'EMPTY=', 'X=1'] }, { terminal: false, stdin: true, stdout: true, stderr: true }),
    ).toEqual({
      CommandLine: 'cmd /c "echo hi there"',
      User: 'ContainerUser',
      WorkingDirectory: 'C:\\',
      Environment: { PATH: 'C:\\Windows', X: '1' },
      EmulateConsole: false,
      CreateStdInPipe: true,
      CreateStdOutPipe: true,
      CreateStdErrPipe: true,
    });
  });
  it('a terminal: console emulated, its size as [height, width], no stderr pipe; a stderr is refused', () => {
    expect(processParameters('t1', { commandLine: 'cmd', consoleSize: { height: 24, width: 80 } }, { terminal: true, stdin: true, stdout: true, stderr: false })).toMatchObject({
      CommandLine: 'cmd',
      EmulateConsole: true,
      CreateStdErrPipe: false,
      ConsoleSize: [24, 80],
    });
    expect(() => processParameters('t1', { commandLine: 'cmd' }, { terminal: true, stdin: false, stdout: true, stderr: true })).toThrow(/no separate stderr/);
  });
  it('a process with no command is refused', () => {
    expect(() => processParameters('t1', { args: [] }, { terminal: false, stdin: false, stdout: false, stderr: false })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});
