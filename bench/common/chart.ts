/**
 * Hand-written SVG bar chart of a benchmark run (no dependencies): four panels
 * (in, out, echo round trips/s, echo p99), one bar per system, value labels,
 * and a footer with the scale test and the machine.
 */
import { PIN_LABELS, SHORT_LABELS, type BenchResults, type PinMode, type SystemId } from './results.js';
import { fmtMs, fmtRate, fmtUs } from './stats.js';

const COLORS: Record<SystemId, string> = {
  ours: '#2166ac',
  'ours-buffer': '#67a9cf',
  c: '#6b6b6b',
  unix: '#d98b2b',
  naive: '#8c6bb1',
};

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Panel {
  title: string;
  note: string;
  values: { sys: SystemId; value: number | undefined; text: string }[];
}

export function renderChart(r: BenchResults, pin: PinMode): string {
  const systems = Object.keys(r.systems) as SystemId[];
  const get = (f: (sys: SystemId) => number | undefined, fmt: (v: number | undefined) => string) =>
    systems.map((sys) => {
      const value = f(sys);
      return { sys, value, text: fmt(value) };
    });
  const panels: Panel[] = [
    { title: 'in: lines/s into the server', note: 'higher is better', values: get((s) => r.systems[s]?.in.median, fmtRate) },
    { title: 'out: lines/s from the server', note: 'higher is better', values: get((s) => r.systems[s]?.out.median, fmtRate) },
    { title: 'echo: round trips/s', note: 'higher is better', values: get((s) => r.systems[s]?.echo[pin]?.median?.rtps, fmtRate) },
    {
      title: 'echo: p99 latency, µs',
      note: 'lower is better',
      values: get((s) => r.systems[s]?.echo[pin]?.median?.p99_us, (v) => (v === undefined ? '—' : `${fmtUs(v)} µs`)),
    },
  ];

  const W = 880;
  const colW = W / 2;
  const labelW = 130;
  const barMax = colW - labelW - 80;
  const rowH = 24;
  const panelH = 46 + systems.length * rowH + 14;
  const top = 58;
  const footerLines: string[] = [];
  for (const scale of r.scale) {
    const sc = scale.median;
    if (!sc) continue;
    const e = scale.echo[pin]?.median;
    footerLines.push(
      `Scale (FIFOs on ${scale.fsType}): ${sc.count} pipe-io-server echo servers in one process start in ${fmtMs(sc.startMs)}, ` +
        `max event-loop block ${fmtMs(sc.maxBlockMs)}, RSS ${sc.rssMB.toFixed(0)} MB` +
        (e ? `; echo on one of them p50 ${fmtUs(e.p50_us)} µs, p99 ${fmtUs(e.p99_us)} µs` : ''),
    );
  }
  const m = r.machine;
  footerLines.push(`${m.cpu}, ${m.cores} CPUs, ${m.kernel}, node ${m.node}; ${r.date.slice(0, 10)}`);

  // Long footer lines wrap at a word boundary (~6.3 px per character at 12 px).
  const maxChars = Math.floor((W - 32) / 6.3);
  const wrapped = footerLines.flatMap((line) => {
    const lines: string[] = [];
    let rest = line;
    while (rest.length > maxChars) {
      const cut = rest.lastIndexOf(' ', maxChars);
      const at = cut > 0 ? cut : maxChars;
      lines.push(rest.slice(0, at));
      rest = '    ' + rest.slice(at).trimStart();
    }
    lines.push(rest);
    return lines;
  });
  const H = top + 2 * panelH + 12 + wrapped.length * 18 + 8;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="16" y="24" font-size="16" font-weight="600" fill="#222">pipe-io-server benchmark: 64-byte messages</text>`);
  out.push(
    `<text x="16" y="44" fill="#555">${esc(
      `Medians of ${r.options.runs} run(s) side by side on one machine; in/out ${r.options.n.toLocaleString('en-US')} lines; ` +
        `echo ${r.options.echoRounds.toLocaleString('en-US')} round trips, ${PIN_LABELS[pin]}.`,
    )}</text>`,
  );

  panels.forEach((p, i) => {
    const x0 = (i % 2) * colW + 16;
    const y0 = top + Math.floor(i / 2) * panelH;
    const max = Math.max(...p.values.map((v) => (v.value !== undefined && Number.isFinite(v.value) ? v.value : 0)), 1e-9);
    out.push(`<g transform="translate(${x0},${y0})">`);
    out.push(`<text x="0" y="18" font-size="13" font-weight="600" fill="#222">${esc(p.title)}</text>`);
    out.push(`<text x="${colW - 32}" y="18" text-anchor="end" fill="#888">${esc(p.note)}</text>`);
    out.push(`<line x1="${labelW}" y1="28" x2="${labelW}" y2="${34 + systems.length * rowH}" stroke="#bbb"/>`);
    p.values.forEach((v, j) => {
      const y = 34 + j * rowH;
      const w = v.value !== undefined && Number.isFinite(v.value) ? Math.max(1, (v.value / max) * barMax) : 0;
      const bold = v.sys === 'ours' ? ' font-weight="600"' : '';
      out.push(`<text x="${labelW - 8}" y="${y + 15}" text-anchor="end" fill="#333"${bold}>${esc(SHORT_LABELS[v.sys])}</text>`);
      out.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${COLORS[v.sys]}" rx="2"/>`);
      out.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 15}" fill="#333"${bold}>${esc(v.text)}</text>`);
    });
    out.push('</g>');
  });

  wrapped.forEach((line, i) => {
    out.push(`<text x="16" y="${top + 2 * panelH + 16 + i * 18}" fill="${i === wrapped.length - 1 ? '#888' : '#333'}">${esc(line)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
