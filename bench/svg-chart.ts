/**
 * A dependency-free grouped bar chart in SVG: one group per row label, one
 * bar per series, values labelled. Enough for benchmark results in a README.
 */

export interface ChartData {
  title: string;
  unit: string;
  /** Group labels (x axis). */
  groups: string[];
  /** Series name → one value per group (NaN for none). */
  series: Array<{ name: string; values: number[] }>;
  /**
   * 'log': a log10 axis from the decade below the smallest positive value to
   * the decade above the largest, gridlines at each decade, so that values
   * thousands of times apart (a QD1 job beside a QD128 one) are all visible.
   * Default 'linear' (from 0).
   */
  scale?: 'linear' | 'log';
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];

function escape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function short(v: number): string {
  if (!Number.isFinite(v)) return '';
  if (v >= 1e6) return `${Number((v / 1e6).toFixed(2))}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(0)}k`;
  return v >= 1 ? v.toFixed(0) : String(v);
}

interface Axis {
  /** Where `v` sits between the bottom (0) and the top (1) of the plot. */
  fraction(v: number): number;
  /** Values with a gridline and a label. */
  ticks: number[];
}

function linearAxis(values: number[]): Axis {
  const max = Math.max(1, ...values);
  return { fraction: (v) => v / max, ticks: [0, 1, 2, 3, 4].map((i) => (max * i) / 4) };
}

function logAxis(values: number[]): Axis {
  const lo = values.length === 0 ? 0 : Math.floor(Math.log10(Math.min(...values)));
  const hi = values.length === 0 ? 1 : Math.max(lo + 1, Math.ceil(Math.log10(Math.max(...values))));
  const ticks: number[] = [];
  for (let e = lo; e <= hi; e++) ticks.push(10 ** e);
  return { fraction: (v) => (Math.log10(v) - lo) / (hi - lo), ticks };
}

export function barChartSvg(d: ChartData): string {
  const barW = 14;
  const gap = 18;
  const groupW = d.series.length * barW + gap;
  const left = 60;
  const top = 40;
  const plotH = 260;
  const width = left + d.groups.length * groupW + 20;
  const height = top + plotH + 110;
  const values = d.series.flatMap((s) => s.values.filter((v) => Number.isFinite(v) && (d.scale !== 'log' || v > 0)));
  const axis = d.scale === 'log' ? logAxis(values) : linearAxis(values);
  const y = (v: number): number => top + plotH - axis.fraction(v) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">${escape(d.title)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${width - 10}" y2="${top + plotH}" stroke="#333"/>`,
  ];
  for (const v of axis.ticks) {
    out.push(`<line x1="${left}" y1="${y(v)}" x2="${width - 10}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${left - 4}" y="${y(v) + 3}" text-anchor="end">${short(v)}</text>`);
  }
  out.push(`<text x="12" y="${top + plotH / 2}" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle">${escape(d.unit)}</text>`);
  d.groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    d.series.forEach((s, si) => {
      const v = s.values[gi] ?? NaN;
      if (!Number.isFinite(v) || (d.scale === 'log' && v <= 0)) return;
      const x = x0 + si * barW;
      out.push(`<rect x="${x}" y="${y(v)}" width="${barW - 2}" height="${top + plotH - y(v)}" fill="${COLORS[si % COLORS.length]}"><title>${escape(`${s.name} ${g}: ${v.toFixed(0)} ${d.unit}`)}</title></rect>`);
    });
    const cx = x0 + (d.series.length * barW) / 2;
    out.push(`<text x="${cx}" y="${top + plotH + 12}" text-anchor="end" transform="rotate(-40 ${cx} ${top + plotH + 12})">${escape(g)}</text>`);
  });
  d.series.forEach((s, si) => {
    const x = left + si * 110;
    out.push(`<rect x="${x}" y="${height - 16}" width="10" height="10" fill="${COLORS[si % COLORS.length]}"/>`,
      `<text x="${x + 14}" y="${height - 7}">${escape(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}
