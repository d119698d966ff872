/** Small number helpers shared by the harness and the chart. */

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** 3.41M, 431k, 950 */
export function fmtRate(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  if (v >= 1e6) return `${(v / 1e6).toFixed(v >= 1e7 ? 1 : 2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(v >= 1e5 ? 0 : 1)}k`;
  return v.toFixed(0);
}

export function fmtUs(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function fmtRatio(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return `${v >= 10 ? v.toFixed(1) : v.toFixed(2)}x`;
}

export function fmtMs(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  return v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(1)} ms`;
}
