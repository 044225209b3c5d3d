#!/usr/bin/env node
// What a wake-up costs a device thread in the TCG guest, C against Node:
// `npm run bench:vm:wake` (builds first), or
//
//   node bench/vm-wake.mjs [--seconds 3] [--rounds 3]
//
// Boots the guest (test/vm/setup.sh, boot.mjs) with test/vm/bench/guest-wake.sh,
// which runs dist/bench/wake-cost.js there, and prints its table. Exit status:
// 0 when the table came, 1 otherwise, 2 on bad arguments. Plain ESM
// JavaScript: no build needed for this file.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { VM_DIR, bootGuest, runSetup } from '../test/vm/boot.mjs';

let values;
try {
  ({ values } = parseArgs({ options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
  } }));
} catch (error) {
  console.error(`bench:vm:wake: ${error.message}`);
  process.exit(2);
}
for (const key of ['seconds', 'rounds']) {
  if (!/^[1-9]\d*$/.test(values[key])) {
    console.error(`bench:vm:wake: --${key} must be a positive integer, not ${values[key]}`);
    process.exit(2);
  }
}

const vm = runSetup({ quiet: true });
let inTable = false;
let complete = false;
const r = await bootGuest({
  vm,
  script: path.join(VM_DIR, 'bench', 'guest-wake.sh'),
  // Five modes a round, plus a worker start each, plus the boot.
  timeoutSec: 180 + Number(values.rounds) * 5 * (Number(values.seconds) + 10),
  quiet: true,
  env: { WAKE_SECONDS: values.seconds, WAKE_ROUNDS: values.rounds },
  onLine(line) {
    if (line === 'VDUSE_WAKE_BEGIN') inTable = true;
    else if (line === 'VDUSE_WAKE_END') { inTable = false; complete = true; }
    else if (inTable) console.log(line);
    else if (/^FAIL: |^wake-cost: /.test(line)) console.error(line);
  },
});
if (r.status !== 0 || !complete) {
  console.error(`[bench:vm:wake] no complete table (guest status ${r.status}${r.timedOut ? ', timed out' : ''}); console: ${r.logFile}`);
  process.exit(1);
}
