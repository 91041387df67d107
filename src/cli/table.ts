/**
 * Tables for people (gate tables, analysis and benchmark summaries): `cli-table3` with aligned
 * columns, no `(index)` column, no quotes, no colours (output stays byte-stable), and at most
 * `maxWidth` columns wide — the widest columns wrap when the natural width does not fit.
 */
import Table from 'cli-table3';

/** A cell: text or a number (numbers are right-aligned). */
export type Cell = string | number | null | undefined;

const text = (c: Cell): string => (c === null || c === undefined ? '' : String(c));
const width = (s: string): number => Math.max(0, ...s.split('\n').map((l) => [...l].length));

/** Column widths (content + 2 padding) that fit `maxWidth` including the borders. */
export function fitWidths(head: string[], rows: Cell[][], maxWidth = 100): number[] {
  const widths = head.map((h, i) => Math.max(width(h), ...rows.map((r) => width(text(r[i])))) + 2);
  const budget = maxWidth - (head.length + 1);
  const floor = 6;
  while (widths.reduce((a, b) => a + b, 0) > budget) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest] <= floor) break;
    widths[widest] -= 1;
  }
  return widths;
}

/** Wraps `s` to lines of at most `w` characters: at spaces, and inside words longer than `w`. */
export function wrapCell(s: string, w: number): string {
  const out: string[] = [];
  for (const para of s.split('\n')) {
    let line = '';
    for (const word of para.split(' ')) {
      const candidate = line === '' ? word : `${line} ${word}`;
      if ([...candidate].length <= w) {
        line = candidate;
        continue;
      }
      if (line !== '') out.push(line);
      let rest = [...word];
      while (rest.length > w) {
        out.push(rest.slice(0, w).join(''));
        rest = rest.slice(w);
      }
      line = rest.join('');
    }
    out.push(line);
  }
  return out.join('\n');
}

/** Renders rows under `head` as a boxed table at most `maxWidth` columns wide (no cell text lost). */
export function renderTable(head: string[], rows: Cell[][], maxWidth = 100): string {
  const widths = fitWidths(head, rows, maxWidth);
  const table = new Table({
    head: head.map((h, i) => wrapCell(h, widths[i] - 2)),
    colWidths: widths,
    style: { head: [], border: [], compact: false },
    colAligns: head.map((_, i) => (rows.length > 0 && rows.every((r) => typeof r[i] === 'number') ? 'right' : 'left')),
  });
  for (const r of rows) table.push(head.map((_, i) => wrapCell(text(r[i]), widths[i] - 2)));
  return table.toString();
}

/** Renders objects (one row each) with their keys as columns, in first-seen order. */
export function renderObjects(objects: Array<Record<string, Cell>>, maxWidth = 100): string {
  const head: string[] = [];
  for (const o of objects) for (const k of Object.keys(o)) if (!head.includes(k)) head.push(k);
  return renderTable(
    head,
    objects.map((o) => head.map((k) => o[k])),
    maxWidth,
  );
}

/**
 * Progress for a non-TTY stdout: whether to print after `done` of `total` — the first and last
 * item, each 10 % step, and at least every `everyMs` ms in between.
 */
export function progressMilestone(done: number, total: number, elapsedSinceLastMs: number, everyMs = 10_000): boolean {
  if (done <= 1 || done >= total) return true;
  if (Math.floor((done * 10) / total) > Math.floor(((done - 1) * 10) / total)) return true;
  return elapsedSinceLastMs >= everyMs;
}
