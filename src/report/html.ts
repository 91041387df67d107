/**
 * `stress-report.html`: the stress run's score distribution as a static SVG histogram (hard and
 * soft scores), with the variance envelope bands and the pass-ratio gate drawn in. Readable
 * without JavaScript and with no external asset.
 */

/** What the page needs from a stress run. */
export interface StressPageInput {
  title: string;
  provider: string;
  /** The engine module, or null (one call per case / simulated scenes). */
  engine?: string | null;
  /** What scored the runs. */
  scorer?: string;
  /** The cases file, or null. */
  casesFile?: string | null;
  /** Per-case pass rates (with a cases file). */
  cases?: { id: string; passRate: number; low: number; high: number; status: string }[];
  /** Outcome faults delivered and caught, per fault. */
  outcomeChaos?: { fault: string; delivered: number; caught: number }[];
  seed: number;
  totalRuns: number;
  hardScores: number[];
  softScores: number[];
  hardPassRate: number;
  hardPassCi95: { low: number; high: number };
  softPassRate: number;
  passRatioMin: number;
  verdict: string;
  downgradeFlag: string | null;
  /** Envelope band per score: mean ± max allowed std. */
  envelopes: { hard?: { mean: number; maxStd: number }; soft?: { mean: number; maxStd: number } };
  /** Score threshold of a pass, when the scorer has one. */
  hardPassScore?: number;
  generated: string;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);
const f3 = (x: number) => x.toFixed(3);

function casesTable(input: StressPageInput): string {
  const rows = input.cases ?? [];
  if (rows.length === 0) return '';
  const pc = (x: number) => `${(x * 100).toFixed(1)} %`;
  const body = rows
    .map((c) => `<tr><td>${esc(c.id)}</td><td>${pc(c.passRate)}</td><td>${pc(c.low)} – ${pc(c.high)}</td><td>${esc(c.status)}</td></tr>`)
    .join('\n');
  let out = `<h2>Per case</h2>\n<table>\n<tr><th>case</th><th>pass rate</th><th>Wilson 95 %</th><th>status</th></tr>\n${body}\n</table>\n`;
  const oc = input.outcomeChaos ?? [];
  if (oc.length > 0) {
    const rowsOc = oc.map((f) => `<tr><td>${esc(f.fault)}</td><td>${f.delivered}</td><td>${f.caught}</td><td>${pc(f.delivered === 0 ? 0 : f.caught / f.delivered)}</td></tr>`).join('\n');
    out += `<h2>Outcome chaos: detection</h2>\n<table>\n<tr><th>fault</th><th>delivered</th><th>caught</th><th>detection rate</th></tr>\n${rowsOc}\n</table>\n`;
  }
  return out;
}

/** Counts of `values` in `bins` equal bins over [0, 1] (1.0 falls in the last bin). */
export function histogram(values: number[], bins: number): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) {
    const i = Math.min(bins - 1, Math.max(0, Math.floor(v * bins)));
    counts[i]! += 1;
  }
  return counts;
}

function histogramSvg(input: StressPageInput): string {
  const bins = 20;
  const W = 760;
  const H = 300;
  const L = 50;
  const B = 40;
  const T = 20;
  const plotW = W - L - 20;
  const plotH = H - B - T;
  const hard = histogram(input.hardScores, bins);
  const soft = histogram(input.softScores, bins);
  const maxCount = Math.max(1, ...hard, ...soft);
  const x = (v: number) => L + v * plotW;
  const y = (c: number) => T + plotH - (c / maxCount) * plotH;
  const bw = plotW / bins;
  const parts: string[] = [];
  for (const [name, env, color] of [
    ['hard', input.envelopes.hard, '#1f77b4'],
    ['soft', input.envelopes.soft, '#ff7f0e'],
  ] as const) {
    if (!env) continue;
    const lo = Math.max(0, env.mean - env.maxStd);
    const hi = Math.min(1, env.mean + env.maxStd);
    parts.push(
      `<rect x="${x(lo).toFixed(1)}" y="${T}" width="${(x(hi) - x(lo)).toFixed(1)}" height="${plotH}" fill="${color}" opacity="0.08"><title>${name} envelope: mean ${f3(env.mean)} ± max std ${f3(env.maxStd)}</title></rect>`,
    );
  }
  hard.forEach((c, i) => {
    parts.push(
      `<rect x="${(L + i * bw + 1).toFixed(1)}" y="${y(c).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${(T + plotH - y(c)).toFixed(1)}" fill="#1f77b4"><title>hard ${f3(i / bins)}–${f3((i + 1) / bins)}: ${c}</title></rect>`,
    );
  });
  soft.forEach((c, i) => {
    parts.push(
      `<rect x="${(L + i * bw + bw / 2).toFixed(1)}" y="${y(c).toFixed(1)}" width="${(bw / 2 - 1).toFixed(1)}" height="${(T + plotH - y(c)).toFixed(1)}" fill="#ff7f0e"><title>soft ${f3(i / bins)}–${f3((i + 1) / bins)}: ${c}</title></rect>`,
    );
  });
  if (input.hardPassScore !== undefined) {
    const px = x(input.hardPassScore).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${T}" y2="${T + plotH}" stroke="#d62728" stroke-width="2" stroke-dasharray="6 4"/>`);
    parts.push(`<text x="${px}" y="${T - 5}" font-size="12" fill="#d62728" text-anchor="middle">hard pass ≥ ${input.hardPassScore}</text>`);
  }
  for (let t = 0; t <= 10; t++) {
    const v = t / 10;
    parts.push(`<line x1="${x(v)}" x2="${x(v)}" y1="${T + plotH}" y2="${T + plotH + 5}" stroke="#333"/>`);
    parts.push(`<text x="${x(v)}" y="${T + plotH + 18}" font-size="11" text-anchor="middle">${v.toFixed(1)}</text>`);
  }
  for (let t = 0; t <= 4; t++) {
    const c = Math.round((maxCount * t) / 4);
    parts.push(`<text x="${L - 6}" y="${y(c) + 4}" font-size="11" text-anchor="end">${c}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${L + plotW}" y1="${T + plotH}" y2="${T + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${T + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${L + plotW / 2}" y="${H - 5}" font-size="12" text-anchor="middle">score</text>`);
  parts.push(`<text x="14" y="${T + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${T + plotH / 2})">runs</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Histogram of hard and soft scores">${parts.join('')}</svg>`;
}

function passRateSvg(input: StressPageInput): string {
  const W = 760;
  const H = 70;
  const L = 50;
  const plotW = W - L - 20;
  const x = (v: number) => L + v * plotW;
  const ok = input.hardPassRate >= input.passRatioMin;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="Hard pass rate against the gate">
<rect x="${L}" y="20" width="${plotW}" height="20" fill="#eee"/>
<rect x="${L}" y="20" width="${(input.hardPassRate * plotW).toFixed(1)}" height="20" fill="${ok ? '#2ca02c' : '#d62728'}"/>
<line x1="${x(input.hardPassCi95.low).toFixed(1)}" x2="${x(input.hardPassCi95.high).toFixed(1)}" y1="30" y2="30" stroke="#000" stroke-width="2"/>
<line x1="${x(input.passRatioMin).toFixed(1)}" x2="${x(input.passRatioMin).toFixed(1)}" y1="12" y2="48" stroke="#000" stroke-width="3"/>
<text x="${x(input.passRatioMin).toFixed(1)}" y="62" font-size="12" text-anchor="middle">PASS_RATIO_MIN ${input.passRatioMin}</text>
<text x="${L}" y="12" font-size="12">hard pass rate ${(input.hardPassRate * 100).toFixed(1)} % (95 % CI ${(input.hardPassCi95.low * 100).toFixed(1)}–${(input.hardPassCi95.high * 100).toFixed(1)} %)</text>
</svg>`;
}

/** The whole page. */
export function renderStressHtml(input: StressPageInput): string {
  const verdictColor = input.verdict === 'PASS' ? '#2ca02c' : '#d62728';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<link rel="icon" href="data:,">
<title>${esc(input.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 800px; color: #222; }
.verdict { font-size: 1.4em; font-weight: bold; color: ${verdictColor}; }
table { border-collapse: collapse; } td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #ddd; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
</style>
</head>
<body>
<h1>${esc(input.title)}</h1>
<p class="verdict">VERDICT: ${esc(input.verdict)}${input.downgradeFlag ? ` (${esc(input.downgradeFlag)})` : ''}</p>
<table>
<tr><th>runs</th><td>${input.totalRuns}</td></tr>
<tr><th>provider</th><td>${esc(input.provider)}</td></tr>
<tr><th>engine</th><td>${esc(input.engine ?? 'none')}</td></tr>
<tr><th>scorer</th><td>${esc(input.scorer ?? 'unknown')}</td></tr>
${input.casesFile ? `<tr><th>cases</th><td>${esc(input.casesFile)}</td></tr>\n` : ''}<tr><th>seed</th><td>${input.seed}</td></tr>
<tr><th>hard pass rate</th><td>${(input.hardPassRate * 100).toFixed(1)} %</td></tr>
<tr><th>soft pass rate</th><td>${(input.softPassRate * 100).toFixed(1)} %</td></tr>
<tr><th>generated</th><td>${esc(input.generated)}</td></tr>
</table>
<h2>Score distribution</h2>
<p class="legend"><span style="background:#1f77b4"></span>hard <span style="background:#ff7f0e"></span>soft <span style="background:#1f77b4;opacity:.15"></span>envelope band (mean ± max std)</p>
${histogramSvg(input)}
<h2>Gate PR-G4</h2>
${passRateSvg(input)}
${casesTable(input)}</body>
</html>
`;
}
