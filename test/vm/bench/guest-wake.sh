#!/bin/bash
# Guest side of `npm run bench:vm:wake` (bench/vm-wake.mjs): runs
# bench/wake-cost.ts (the device thread's CPU per eventfd wake-up, a C
# thread against a Node event loop) under TCG and prints its table between
# VDUSE_WAKE_BEGIN and VDUSE_WAKE_END. Needs no VDUSE: only the emulation.
. "$(dirname "$0")/../lib.sh"

echo VDUSE_WAKE_BEGIN
"$(node_bin)" "$(repo_root)/dist/bench/wake-cost.js" --seconds "${WAKE_SECONDS:-3}" --rounds "${WAKE_ROUNDS:-3}" \
  || fail "wake-cost failed"
echo VDUSE_WAKE_END
