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
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948'];

function escape(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

function short(v: number): string {
  if (!Number.isFinite(v)) return '';
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(0)}k`;
  return v.toFixed(0);
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
  const max = Math.max(1, ...d.series.flatMap((s) => s.values.filter(Number.isFinite)));
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14">${escape(d.title)}</text>`,
    `<line x1="${left}" y1="${top + plotH}" x2="${width - 10}" y2="${top + plotH}" stroke="#333"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    out.push(`<line x1="${left}" y1="${y(v)}" x2="${width - 10}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${left - 4}" y="${y(v) + 3}" text-anchor="end">${short(v)}</text>`);
  }
  out.push(`<text x="12" y="${top + plotH / 2}" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle">${escape(d.unit)}</text>`);
  d.groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + gap / 2;
    d.series.forEach((s, si) => {
      const v = s.values[gi] ?? NaN;
      if (!Number.isFinite(v)) return;
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
