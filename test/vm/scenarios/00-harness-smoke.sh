#!/usr/bin/env bash
# vm-timeout: 180
# Harness smoke test, independent of our product: Debian's qemu-storage-daemon
# serves a 256 MiB image in guest tmpfs as a VDUSE vduse-blk export; attach it
# with `vdpa`, check the disk the kernel's virtio_blk made of it, write and
# read back data with O_DIRECT, detach, stop the daemon and check that the
# VDUSE device is gone. Proves kernel + modules + initramfs + 9p + tmpfs.
. "$(dirname "$0")/../lib.sh"

NAME=smoke0
IMG="$VM_WORK_DIR/disk.img"
SIZE_MIB=256

[ -e /dev/vduse/control ] || fail "/dev/vduse/control missing (vduse module not loaded?)"
assert_eq 0 "$(vdpa_list | wc -l)" "vdpa devices before the test"

make_image "$IMG" "${SIZE_MIB}M"
# qemu-storage-daemon keeps a reconnect log in $TMPDIR (must be writable).
start_bg qsd qemu-storage-daemon \
  --blockdev "driver=file,node-name=f0,filename=$IMG" \
  --export "type=vduse-blk,id=e0,node-name=f0,name=$NAME,num-queues=1,queue-size=256,writable=on"
wait_for_vduse "$NAME" 30
log "VDUSE device /dev/vduse/$NAME created"

vdpa_attach "$NAME"
DEV="$(wait_for_block "$NAME" 30)"
log "attached as $DEV"
vdpa dev show "$NAME"

# Size: sysfs counts 512-byte sectors.
assert_eq $((SIZE_MIB * 1024 * 1024 / 512)) "$(sysfs_block_attr "$DEV" size)" "sectors of $DEV"
assert_eq 512 "$(sysfs_block_attr "$DEV" queue/logical_block_size)" "logical block size"
assert_eq 0 "$(sysfs_block_attr "$DEV" ro)" "read-only flag"

# Write 8 MiB of random data at 16 MiB with O_DIRECT, read it back the same
# way, and check it against the source and against the backing image.
dd if=/dev/urandom of="$VM_WORK_DIR/pattern" bs=1M count=8 status=none
want="$(sha_of "$VM_WORK_DIR/pattern")"
dd if="$VM_WORK_DIR/pattern" of="$DEV" bs=1M seek=16 oflag=direct conv=fsync status=none
assert_eq "$want" "$(sha_of "$DEV" 16 8)" "data read back from $DEV"
assert_eq "$want" "$(sha_of "$IMG" 16 8)" "data in the backing image"
# The rest of the disk is still zeros.
assert_eq "$(dd if=/dev/zero bs=1M count=8 status=none | sha256sum | cut -d' ' -f1)" \
  "$(sha_of "$DEV" 0 8)" "untouched range"

log "dd write/read-back verified"

# fio in the guest: a short verified random-write job on the disk.
fio --name=smoke --filename="$DEV" --ioengine=libaio --direct=1 --rw=randwrite \
  --bs=4k --iodepth=8 --size=8M --offset=64M --verify=crc32c --do_verify=1 \
  --output="$VM_LOG_DIR/fio.txt"
grep -q 'err= 0' "$VM_LOG_DIR/fio.txt" || { cat "$VM_LOG_DIR/fio.txt"; fail "fio reported errors"; }

log "fio verified: $(grep -Eo 'IOPS=[^,]*' "$VM_LOG_DIR/fio.txt" | tr '\n' ' ')"

vdpa_detach "$NAME"
[ ! -e "$DEV" ] || fail "$DEV still exists after detach"
assert_eq 0 "$(vdpa_list | wc -l)" "vdpa devices after detach"

log "detached"

# qemu-storage-daemon destroys its VDUSE device when it shuts down.
rc=0; stop_bg qsd TERM 20 || rc=$?
log "qemu-storage-daemon exited with status $rc"
wait_for_path_gone "/dev/vduse/$NAME" 10
assert_eq "" "$(vduse_list)" "VDUSE devices left"
log "smoke OK"
