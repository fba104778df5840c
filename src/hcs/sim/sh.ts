/**
 * The subset of POSIX `sh` the simulated HCS runs, chosen so one OCI spec
 * behaves the same on the simulator and on runc with a busybox root:
 * `sh -c 'SCRIPT'` (or `cmd /c SCRIPT` on Windows) or a bare command, where
 * SCRIPT is commands joined by `;`, `&&` or `||`.
 */
import { BackendError } from '../backend.ts';
import { HRESULT } from '../hresults.ts';
import type { OciProcess } from '../../oci.ts';

export type Step =
  | { kind: 'echo'; text: string }
  | { kind: 'sleep'; seconds: number }
  | { kind: 'exit'; code: number }
  | { kind: 'status'; code: number }
  | { kind: 'cat' }
  | { kind: 'trap-term' }
  | { kind: 'missing'; name: string };

export type Connector = ';' | '&&' | '||';

export interface Program {
  /** The executable's base name, as a process listing shows it. */
  image: string;
  steps: { connector: Connector; step: Step }[];
}

const BUILTINS = new Set(['echo', 'sleep', 'exit', 'true', 'false', 'cat', 'trap', 'ping', 'timeout']);

function invalid(message: string): BackendError {
  return new BackendError('invalid-argument', message);
}

/** Splits on blanks and the connectors, honouring single and double quotes. */
export function tokenize(script: string): string[] {
  const tokens: string[] = [];
  let current = '';
  let quoted = false;
  let i = 0;
  const flush = () => {
    if (current !== '' || quoted) tokens.push(current);
    current = '';
    quoted = false;
  };
  while (i < script.length) {
    const c = script[i] as string;
    if (c === "'" || c === '"') {
      const end = script.indexOf(c, i + 1);
      if (end < 0) throw invalid(`unbalanced ${c} in script: ${script}`);
      current += script.slice(i + 1, end);
      quoted = true;
      i = end + 1;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      flush();
      i++;
    } else if (c === ';') {
      flush();
      tokens.push(';');
      i++;
    } else if ((c === '&' || c === '|') && script[i + 1] === c) {
      flush();
      tokens.push(c + c);
      i += 2;
    } else {
      current += c;
      i++;
    }
  }
  flush();
  return tokens;
}

function seconds(word: string | undefined): number {
  if (word === 'inf' || word === 'infinity') return Infinity;
  const n = Number(word);
  if (word === undefined || !Number.isFinite(n) || n < 0) throw invalid(`sleep: invalid time interval '${word ?? ''}'`);
  return n;
}

function basename(word: string): string {
  return word.split(/[\\/]/).pop()?.toLowerCase() ?? word;
}

function parseSimple(words: string[]): Step {
  // Redirections are accepted and ignored: `> nul` in the Windows pause idiom.
  const args: string[] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '>' || words[i] === '>>') i++;
    else args.push(words[i] as string);
  }
  const [name = '', ...rest] = args;
  switch (basename(name).replace(/\.exe$/, '')) {
    case 'echo':
      return { kind: 'echo', text: `${rest.join(' ')}\n` };
    case 'sleep':
      return { kind: 'sleep', seconds: seconds(rest[0]) };
    case 'timeout':
      // Windows: `timeout /t N`.
      return { kind: 'sleep', seconds: seconds(rest[rest.indexOf('/t') + 1]) };
    case 'ping':
      // The Windows pause container's `ping -t 127.0.0.1` runs until stopped.
      return { kind: 'sleep', seconds: rest.includes('-t') ? Infinity : 3 };
    case 'exit':
      return { kind: 'exit', code: rest[0] === undefined ? 0 : Number(rest[0]) & 255 };
    case 'true':
      return { kind: 'status', code: 0 };
    case 'false':
      return { kind: 'status', code: 1 };
    case 'cat':
      return { kind: 'cat' };
    case 'trap':
      if (rest[0] === '' && rest.slice(1).some((s) => s === 'TERM' || s === 'SIGTERM' || s === '15')) return { kind: 'trap-term' };
      throw invalid(`trap: only "trap '' TERM" is simulated, got: trap ${rest.join(' ')}`);
    default:
      return { kind: 'missing', name };
  }
}

/** Parses a script; an unknown command is kept as a step that fails with 127, as sh does. */
export function parseScript(script: string, image: string): Program {
  const steps: Program['steps'] = [];
  let words: string[] = [];
  let connector: Connector = ';';
  const end = (next: Connector) => {
    if (words.length > 0) steps.push({ connector, step: parseSimple(words) });
    else if (next !== ';' ) throw invalid(`syntax error near '${next}' in: ${script}`);
    words = [];
    connector = next;
  };
  for (const token of tokenize(script)) {
    if (token === ';' || token === '&&' || token === '||') end(token);
    else words.push(token);
  }
  end(';');
  return { image, steps };
}

/**
 * Reads a process spec as the simulator runs it. A bare command that is not
 * one of the simulated builtins does not exist in the container: MUST throw
 * `executable-not-found`, as starting it would on a real system.
 */
export function parseCommand(process: OciProcess): Program {
  const argv = process.args !== undefined && process.args.length > 0 ? process.args : tokenize(process.commandLine ?? '');
  const [first = ''] = argv;
  const image = basename(first);
  if (first === '') throw invalid('the process has neither args nor a command line');
  if ((image === 'sh' || image === 'bash') && argv[1] === '-c') return parseScript(argv[2] ?? '', image);
  if ((image === 'cmd' || image === 'cmd.exe') && argv[1]?.toLowerCase() === '/c') {
    const script = process.args !== undefined && process.args.length > 0
      ? argv.slice(2).join(' ')
      : (process.commandLine ?? '').replace(/^\s*\S+\s+\/c\s?/i, '');
    return parseScript(script, image);
  }
  if (!BUILTINS.has(image.replace(/\.exe$/, ''))) {
    throw new BackendError('executable-not-found', `executable '${first}' not found`, HRESULT.ERROR_FILE_NOT_FOUND);
  }
  return { image, steps: [{ connector: ';', step: parseSimple(argv) }] };
}
