/**
 * Loopback A/B of two builds (`npm run bench:ab -- --variant DIR`): for each
 * job and backend, one device from this build and one from the build in
 * DIR (a checkout with `npm ci` done, e.g. a `git worktree` of an older
 * commit), in the same process and driven by the same native driver engine,
 * measured in alternating rounds (the order flips every round). The host's
 * speed drifts by up to 2× within minutes; two builds measured minutes
 * apart, or in two processes, carry that drift into their difference, while
 * rounds of a second each, side by side, share it. Prints each build's
 * median IOPS and device CPU per request, the median of the per-round
 * ratios, and every round; writes JSON.
 *
 * Usage: node dist/bench/loopback-ab.js --variant DIR [--backends memory,file,null] [--qd LIST]
 *        [--only REGEX] [--rounds N] [--seconds S] [--out DIR]
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ofCeilingByRound, summarize, type RoundSample, type RoundSummary } from './rounds.js';
import { BACKENDS, jobsFor, label, measure, openBench, parseDepths, type Backend, type Bench, type Job,
  type StartLoopback } from './loopback-job.js';

const { values } = parseArgs({ options: {
  /** The other build: a checkout whose dist/ and build/ are made (`npm ci`). */
  variant: { type: 'string' },
  backends: { type: 'string', default: 'memory' },
  qd: { type: 'string', default: '32,128' },
  only: { type: 'string', default: '^4k-randread q1 ' },
  rounds: { type: 'string', default: '10' },
  seconds: { type: 'string', default: '1' },
  out: { type: 'string', default: 'bench-results' },
} });

function fail(message: string): never {
  console.error(`bench:ab: ${message}`);
  process.exit(2);
}

const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 2) fail(`--rounds: ${values.rounds}: a whole number ≥ 2`);
if (!(SECONDS > 0)) fail(`--seconds: ${values.seconds}: a positive number`);
if (values.variant === undefined) fail('--variant DIR is required: a checkout of the other build, after `npm ci` there');
const backends = values.backends.split(',') as Backend[];
for (const b of backends) if (!BACKENDS.includes(b)) fail(`--backends: ${b}: one of ${BACKENDS.join(', ')}`);
const variantDir = resolve(values.variant);
const fixturePath = join(variantDir, 'dist/test/helpers/loopback-fixture.js');
if (!existsSync(fixturePath)) fail(`${fixturePath} is missing: run \`npm ci\` in ${variantDir}`);
const variantStart = (await import(pathToFileURL(fixturePath).href) as { startLoopback: StartLoopback }).startLoopback;

interface Side extends RoundSummary { build: 'this' | 'variant' }
interface Pair extends Job { backend: Backend; base: Side; variant: Side; ratio: number }

async function runPair(job: Job, backend: Backend): Promise<Pair> {
  const benches: Bench[] = [];
  try {
    benches.push(await openBench(job, backend));
    benches.push(await openBench(job, backend, { start: variantStart }));
    const samples: RoundSample[][] = [[], []];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [0, 1] : [1, 0];
      for (const i of order) samples[i]!.push(await measure(job, benches[i]!, SECONDS));
    }
    const [base, variant] = samples.map(summarize) as [RoundSummary, RoundSummary];
    // The same per-round ratio as "of ceiling", with the variant's rounds in the ceiling's place.
    return { ...job, backend, base: { build: 'this', ...base }, variant: { build: 'variant', ...variant },
      ratio: ofCeilingByRound(base.roundIops, variant.roundIops) };
  } finally {
    for (const bench of benches) await bench.fixture.close();
  }
}

const k = (v: number): string => Math.round(v / 1000).toString();
console.log(`# ${cpus()[0]?.model ?? 'cpu'}, ${availableParallelism()} CPUs, node ${process.version}; ` +
  `this build against ${variantDir}, ${ROUNDS} alternating rounds of ${SECONDS} s (medians)`);
console.log('backend job                   this IOPS  dev us  variant IOPS  dev us  this/variant  rounds (kIOPS) this | variant');
const pairs: Pair[] = [];
for (const job of jobsFor(parseDepths(values.qd), new RegExp(values.only))) {
  for (const backend of backends) {
    const p = await runPair(job, backend);
    pairs.push(p);
    console.log(`${backend.padEnd(7)} ${label(job).padEnd(20)} ${Math.round(p.base.iops).toString().padStart(10)} ` +
      `${p.base.deviceCpuUs.toFixed(2).padStart(7)} ${Math.round(p.variant.iops).toString().padStart(13)} ` +
      `${p.variant.deviceCpuUs.toFixed(2).padStart(7)} ${p.ratio.toFixed(2).padStart(13)}  ` +
      `${p.base.roundIops.map(k).join(' ')} | ${p.variant.roundIops.map(k).join(' ')}` +
      `${p.base.errors + p.variant.errors > 0 ? `  ERRORS ${p.base.errors}/${p.variant.errors}` : ''}`);
  }
}
mkdirSync(values.out, { recursive: true });
const json = join(values.out, 'loopback-ab.json');
writeFileSync(json, JSON.stringify({ date: new Date().toISOString(), cpus: availableParallelism(), node: process.version,
  variant: variantDir, rounds: ROUNDS, seconds: SECONDS, pairs }, null, 2));
console.log(`this/variant = median over rounds of this build's IOPS / the variant's in the same round; wrote ${json}`);
