/**
 * Loopback benchmark (`npm run bench`): the real product (control plane,
 * queue worker threads, backends) on the loopback kernel, driven by the
 * native driver engine (bench/native-driver.ts) so the harness is not the
 * limit. Every job runs on the null backend (the same device, completing
 * requests without touching data, i.e. the ceiling of harness + queue
 * machinery), the memory and the file backend, in turn for several rounds;
 * the memory and file backends are reported as a fraction of the ceiling
 * measured in the same round (rounds.ts). Prints a table of medians, writes
 * JSON (with each round's IOPS) and an SVG chart.
 *
 * Usage: node dist/bench/loopback-bench.js [--seconds S] [--rounds N] [--quick] [--qd LIST] [--only REGEX] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loopbackChartSvg } from './loopback-chart.js';
import { copyBoundOfCeiling } from './copy-floor.js';
import { ofCeilingByRound, summarize, type RoundSample, type RoundSummary } from './rounds.js';
import { BACKENDS, jobsFor, label, measure, openBench, parseDepths, type Backend, type Bench, type Job } from './loopback-job.js';

/** A backend's medians over the rounds of one job (rounds.ts). */
interface Result extends Job, RoundSummary {
  backend: Backend;
  /** Median over rounds of IOPS / the null backend's IOPS in the same round. */
  ofCeiling: number;
  /** Memory backend: its copies alone, ns per request (copy-floor.ts). */
  copyNs?: number;
  /** Memory backend: the most `ofCeiling` can be with copies that cost copyNs on top of the null device's time. */
  copyBound?: number;
}

const { values } = parseArgs({ options: {
  /** Seconds per backend per round. */
  seconds: { type: 'string', default: '1' },
  /** Rounds per job: null, memory and file in turn, each round (rounds.ts). */
  rounds: { type: 'string', default: '3' },
  quick: { type: 'boolean' },
  out: { type: 'string', default: 'bench-results' },
  /** Only jobs whose label (e.g. '4k-randread q1 qd32') matches this regular expression. */
  only: { type: 'string' },
  /** Queue depths to run, comma-separated (default 1,32,128; 1,32 with --quick). */
  qd: { type: 'string' },
} });
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
if (!(SECONDS > 0)) throw new Error(`--seconds: ${values.seconds}: a positive number`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds: ${values.rounds}: a whole number ≥ 1`);

function jobs(): Job[] {
  const depths = values.qd !== undefined ? parseDepths(values.qd) : values.quick ? [1, 32] : [1, 32, 128];
  return jobsFor(depths, values.only === undefined ? undefined : new RegExp(values.only));
}

/** Every backend on `job`, in turn for ROUNDS rounds; the medians, and "of ceiling" by round. */
async function runJobRounds(job: Job): Promise<Result[]> {
  const benches: Bench[] = [];
  try {
    for (const backend of BACKENDS) benches.push(await openBench(job, backend, { copyFloor: true }));
    const samples = benches.map((): RoundSample[] => []);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, bench] of benches.entries()) samples[i]!.push(await measure(job, bench, SECONDS));
    }
    const summaries = samples.map(summarize);
    const ceiling = summaries[BACKENDS.indexOf('null')]!;
    return benches.map((bench, i) => {
      const s = summaries[i]!;
      const full: Result = { ...job, backend: bench.backend, ...s, ofCeiling: ofCeilingByRound(s.roundIops, ceiling.roundIops) };
      if (bench.copyNs !== undefined) {
        full.copyNs = bench.copyNs;
        full.copyBound = copyBoundOfCeiling(ceiling.iops, ceiling.deviceCpuUs * 1000, bench.copyNs, job.queues);
      }
      return full;
    });
  } finally {
    for (const bench of benches) await bench.fixture.close();
  }
}

/** The results as a Markdown table (for the README's Performance section). */
function markdownTable(results: Result[]): string {
  const lines = ['| job | queues | QD | backend | IOPS | MiB/s | mean µs | p99 µs | device CPU µs/IO | kicks/IO | IRQs/IO | of ceiling | copy µs/IO | copy-bound |',
    '|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of results) {
    lines.push(`| ${r.name} | ${r.queues} | ${r.qd} | ${r.backend} | ${r.iops.toFixed(0)} | ${r.mibps.toFixed(0)} | ` +
      `${r.meanUs.toFixed(1)} | ${r.p99Us.toFixed(1)} | ${r.deviceCpuUs.toFixed(2)} | ` +
      `${r.kicksPerIo.toFixed(3)} | ${r.irqsPerIo.toFixed(3)} | ` +
      `${r.backend === 'null' ? 'ceiling' : `${(100 * r.ofCeiling).toFixed(0)}%`} | ` +
      `${r.copyNs === undefined ? '' : (r.copyNs / 1000).toFixed(2)} | ` +
      `${r.copyBound === undefined ? '' : `${(100 * r.copyBound).toFixed(0)}%`} |`);
  }
  return `${lines.join('\n')}\n`;
}

function row(r: Result): string {
  const n = (v: number, w: number, d = 0): string => v.toFixed(d).padStart(w);
  return `${r.backend.padEnd(7)} ${r.name.padEnd(14)} ${n(r.queues, 2)} ${n(r.qd, 4)} ${n(r.iops, 10)} ` +
    `${n(r.mibps, 8, 1)} ${n(r.meanUs, 8, 1)} ${n(r.p99Us, 8, 1)} ${n(r.deviceCpuUs, 9, 2)} ` +
    `${n(r.kicksPerIo, 8, 3)} ${n(r.irqsPerIo, 7, 3)} ` +
    `${r.backend === 'null' ? '  ceiling' : n(100 * r.ofCeiling, 8, 0) + '%'}` +
    `${r.copyNs === undefined ? '' : `${n(r.copyNs / 1000, 9, 2)} ${n(100 * r.copyBound!, 6, 0)}%`}` +
    `${r.errors > 0 ? `  ERRORS ${r.errors}` : ''}`;
}

async function main(): Promise<void> {
  const results: Result[] = [];
  console.log(`# ${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} CPUs, node ${process.version}, ` +
    `${ROUNDS} rounds of ${SECONDS} s per backend per job (medians), native driver, queue size 256`);
  console.log('backend job            q   qd       IOPS    MiB/s  mean us   p99 us  dev us/IO  kicks/IO IRQs/IO  of ceiling' +
    '  copy us/IO  copy-bound');
  for (const job of jobs()) {
    for (const full of await runJobRounds(job)) {
      results.push(full);
      console.log(row(full));
    }
  }
  mkdirSync(values.out, { recursive: true });
  const json = join(values.out, 'loopback.json');
  writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), cpus: availableParallelism(),
    node: process.version, seconds: SECONDS, rounds: ROUNDS, results }, null, 2));
  const svg = loopbackChartSvg(results, BACKENDS);
  const chart = join(values.out, 'loopback.svg');
  writeFileSync(chart, svg);
  const md = join(values.out, 'loopback.md');
  writeFileSync(md, markdownTable(results));
  console.log(`wrote ${json}, ${chart} and ${md}`);
}

await main();
