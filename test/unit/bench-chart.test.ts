/** bench/svg-chart.ts: bar heights and gridlines on the linear and the log axis; the loopback chart uses the log one. */
import t from 'tap';
import { barChartSvg } from '../../bench/svg-chart.js';
import { loopbackChartSvg } from '../../bench/loopback-chart.js';

/** [bar title, height] of every bar, and the gridline labels, in document order. */
function parse(svg: string): { bars: Array<[string, number]>; ticks: string[] } {
  const bars = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="\d+" height="([^"]+)" fill="[^"]+"><title>([^<]+)<\/title>/g)]
    .map((m) => [m[2]!, Number(m[1])] as [string, number]);
  const ticks = [...svg.matchAll(/<text x="\d+" y="[^"]+" text-anchor="end">([^<]*)<\/text>/g)].map((m) => m[1]!);
  return { bars, ticks };
}

t.test('linear: heights proportional to the values, gridlines from 0', async (t) => {
  const { bars, ticks } = parse(barChartSvg({ title: 't', unit: 'IOPS', groups: ['a', 'b'],
    series: [{ name: 's', values: [1000, 4000] }] }));
  t.equal(bars.length, 2);
  t.equal(bars[1]![1] / bars[0]![1], 4, '4000 is four times as tall as 1000');
  t.same(ticks, ['0', '1k', '2k', '3k', '4k']);
});

t.test('log: a decade is the same height anywhere, gridlines at each decade, zero and NaN left out', async (t) => {
  const { bars, ticks } = parse(barChartSvg({ title: 't', unit: 'IOPS', groups: ['a', 'b', 'c', 'd'], scale: 'log',
    series: [{ name: 's', values: [20, 200, 0, NaN] }, { name: 'u', values: [2_000_000, 2000, 2, 20_000] }] }));
  t.same(bars.map((b) => b[0].split(':')[0]), ['s a', 'u a', 's b', 'u b', 'u c', 'u d'], 'no bar for 0 or NaN');
  t.same(ticks, ['1', '10', '100', '1k', '10k', '100k', '1M', '10M'], 'decades from below the least to above the most');
  const h = Object.fromEntries(bars.map(([title, height]) => [title.split(':')[0]!, height]));
  const decade = h['s b']! - h['s a']!;
  t.ok(decade > 0);
  t.ok(Math.abs(h['u a']! - h['u b']! - 3 * decade) < 1e-9, 'three decades, three times the step');
  t.ok(Math.abs(h['u d']! - h['s a']! - 3 * decade) < 1e-9);
});

t.test('the loopback chart: one group per job, one bar per backend, on a log axis', async (t) => {
  const job = { name: '4k-randread', op: 'read' as const, bs: 4096, random: true, queues: 1 };
  const svg = loopbackChartSvg([
    { ...job, qd: 1, backend: 'null', iops: 40_000 }, { ...job, qd: 1, backend: 'memory', iops: 30_000 },
    { ...job, qd: 128, backend: 'null', iops: 3_000_000 }, { ...job, qd: 128, backend: 'memory', iops: 500_000 },
  ], ['null', 'memory', 'file']);
  const { bars, ticks } = parse(svg);
  t.same(bars.map((b) => b[0]), ['null 4k-randread q1 qd1: 40000 IOPS', 'memory 4k-randread q1 qd1: 30000 IOPS',
    'null 4k-randread q1 qd128: 3000000 IOPS', 'memory 4k-randread q1 qd128: 500000 IOPS']);
  t.same(ticks, ['10k', '100k', '1M', '10M']);
  t.match(svg, /log scale/);
});
