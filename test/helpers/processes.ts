import { readdirSync, readFileSync } from 'node:fs';

/** Children of this process, live or zombie, as "pid name state" (a zombie or a survivor here is a leak). */
export function childProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid) out.push(`${pid} ${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))} ${fields[0]}`);
    } catch {
      // exited while we looked
    }
  }
  return out;
}
