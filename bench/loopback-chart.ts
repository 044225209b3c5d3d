/** The loopback benchmark's chart: IOPS per job and backend, on a log axis (QD1 and QD128 jobs differ by 100×). */
import { barChartSvg } from './svg-chart.js';
import { label, type Job } from './loopback-job.js';

export function loopbackChartSvg(results: ReadonlyArray<Job & { backend: string; iops: number }>, backends: readonly string[]): string {
  const groups = [...new Set(results.map(label))];
  return barChartSvg({
    title: 'vduse-blk loopback: IOPS per job (null = ceiling; log scale)', unit: 'IOPS', groups, scale: 'log',
    series: backends.map((b) => ({ name: b, values: groups.map((g) =>
      results.find((r) => r.backend === b && label(r) === g)?.iops ?? NaN) })),
  });
}
