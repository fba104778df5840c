/** How the CLI prints: aligned columns for people, JSON lines for scripts. */
export interface Output {
  json: boolean;
  out: NodeJS.WritableStream;
}

export function table(o: Output, headers: string[], rows: (string | number)[][]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) o.out.write(`${r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i] ?? 0))).join('  ')}\n`);
}

export function json(o: Output, value: unknown): void {
  o.out.write(`${JSON.stringify(value)}\n`);
}
