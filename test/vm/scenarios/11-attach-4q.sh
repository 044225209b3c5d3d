#!/usr/bin/env bash
# vm-timeout: 180
# 4 queues offered, 4 KiB logical blocks. virtio_blk asks for
# min(num_queues, nr_cpu_ids) request queues (init_vq in
# drivers/block/virtio_blk.c), so a 2-vCPU guest gets 2 hardware queues (mq/
# has 2 entries), and only the 2 virtqueues it set up are ready at DRIVER_OK:
# the server starts 2 workers. 4 KiB blocks: sysfs size still counts 512-byte
# sectors, 512-byte O_DIRECT I/O is refused by the kernel, 4 KiB I/O from
# both CPUs (so both queues) lands in the file.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk11
IMG="$VM_WORK_DIR/disk.img"
SIZE_MIB=256
NCPU="$(nproc)"
EXPECT_Q=$((NCPU < 4 ? NCPU : 4))

make_image "$IMG" "${SIZE_MIB}M"
serve_start srv "$NAME" "$IMG" --queues 4 --logical-block-size 4096
DEV="$SERVE_DEV"

assert_eq $((SIZE_MIB * 1024 * 1024 / 512)) "$(sysfs_block_attr "$DEV" size)" "sectors (512-byte units) of $DEV"
assert_eq 4096 "$(sysfs_block_attr "$DEV" queue/logical_block_size)" "logical block size"
assert_eq 4096 "$(blockdev --getss "$DEV")" "blockdev --getss"
mq="$(sysfs_block_attr "$DEV" mq | wc -l)"
log "guest has $NCPU CPUs; mq/ has $mq entries: $(sysfs_block_attr "$DEV" mq | tr '\n' ' ')"
assert_eq "$EXPECT_Q" "$mq" "entries in mq/ (min(4 queues, $NCPU CPUs))"
dmesg | grep -E "virtio_blk .*default/read/poll queues" | tail -1 >&2 || true
# The server started a worker only for the queues the driver enabled.
wait_for_log srv '"msg":"driver ready"'
assert_match "\"queues\":$EXPECT_Q," "$(grep -m1 '"msg":"driver ready"' "$(bg_log srv)")" "queues the server serves"
assert_eq "$EXPECT_Q" "$(grep -c '"msg":"queue worker started"' "$(bg_log srv)")" "queue workers started"

# 512-byte direct I/O is below the logical block size: the kernel refuses it.
expect_fail dd if=/dev/zero of="$DEV" bs=512 count=1 oflag=direct status=none 2>/dev/null
# 64 KiB writes from each CPU (each CPU maps to its own hardware queue).
dd if=/dev/urandom of="$VM_WORK_DIR/pattern" bs=1M count=8 status=none
for cpu in $(seq 0 $((NCPU - 1))); do
  taskset -c "$cpu" dd if="$VM_WORK_DIR/pattern" of="$DEV" bs=64k seek=$(( (cpu + 1) * 256 )) oflag=direct status=none
done
want="$(sha_of "$VM_WORK_DIR/pattern")"
for cpu in $(seq 0 $((NCPU - 1))); do
  off=$(( (cpu + 1) * 16 ))
  assert_eq "$want" "$(taskset -c "$cpu" dd if="$DEV" bs=1M skip=$off count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)" "read back on cpu $cpu"
  assert_eq "$want" "$(sha_of "$IMG" $off 8)" "backing file at ${off} MiB"
done
# The CPU -> hardware queue map (debugfs hctxN/cpuM; 6.12 keeps no per-hctx
# counters): each CPU has its own queue, so the writes above, one per CPU,
# went through different virtqueues.
dbg="/sys/kernel/debug/block/$(basename "$DEV")"
if [ -d "$dbg/hctx0" ]; then
  map="$(cd "$dbg" && for h in hctx*; do echo "$h:$(cd "$h" && ls -d cpu* 2>/dev/null | tr '\n' ',')"; done | tr '\n' ' ')"
  log "cpu map: $map"
  for cpu in $(seq 0 $((NCPU - 1))); do
    assert_eq 1 "$(ls -d "$dbg"/hctx*/cpu"$cpu" | wc -l)" "hardware queues of cpu $cpu"
  done
  assert_eq "$NCPU" "$(ls -d "$dbg"/hctx*/cpu* | sed 's|/cpu.*||' | sort -u | wc -l)" "distinct hardware queues used by the $NCPU CPUs"
fi

serve_stop srv "$NAME"
log "attach-4q OK"
