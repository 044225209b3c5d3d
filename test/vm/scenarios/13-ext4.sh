#!/usr/bin/env bash
# vm-timeout: 400
# ext4 on the disk: mkfs, write ~2000 small files with known checksums,
# umount, drop caches, mount again, verify every file, e2fsck -fn is clean.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../product.sh"

NAME=vblk13
IMG="$VM_WORK_DIR/disk.img"
MNT="$VM_WORK_DIR/mnt"
NFILES=2000
make_image "$IMG" 256M
mkdir -p "$MNT"

serve_start srv "$NAME" "$IMG" --queues 2
DEV="$SERVE_DEV"

mkfs.ext4 -q -F "$DEV"
mount "$DEV" "$MNT"
on_exit "umount '$MNT' 2>/dev/null"
# One perl process writes every file (100 B to 16 KiB of random bytes, in 20
# directories) and the manifest of their sha256 sums: no process per file.
log "writing $NFILES files"
perl -e '
  use strict; use Digest::SHA qw(sha256_hex);
  my ($dir, $n, $manifest) = @ARGV;
  open(my $r, "<:raw", "/dev/urandom") or die;
  open(my $m, ">", $manifest) or die;
  for my $i (0 .. $n - 1) {
    my $d = sprintf("%s/d%02d", $dir, $i % 20);
    mkdir $d unless -d $d;
    my $len = 100 + int(rand(16284));
    read($r, my $buf, $len) == $len or die;
    my $f = sprintf("%s/f%05d", $d, $i);
    open(my $o, ">:raw", $f) or die "$f: $!"; print $o $buf; close($o) or die "$f: $!";
    printf $m "%s  %s\n", sha256_hex($buf), $f;
  }
  close($m) or die;' "$MNT" "$NFILES" "$VM_WORK_DIR/manifest"
assert_eq "$NFILES" "$(wc -l <"$VM_WORK_DIR/manifest")" "manifest entries"
used_kib="$(df -k --output=used "$MNT" | tail -1)"
log "written; df used ${used_kib} KiB"
umount "$MNT"
echo 3 >/proc/sys/vm/drop_caches

mount "$DEV" "$MNT"
assert_eq "$NFILES" "$(find "$MNT" -type f -name 'f*' | wc -l)" "files after remount"
sha256sum --quiet -c "$VM_WORK_DIR/manifest" >"$VM_LOG_DIR/sha-check.txt" 2>&1 \
  || { head -20 "$VM_LOG_DIR/sha-check.txt"; fail "checksums differ after remount"; }
log "all $NFILES checksums verified after umount/drop_caches/mount"
umount "$MNT"

e2fsck -fn "$DEV" >"$VM_LOG_DIR/e2fsck.txt" 2>&1 || { cat "$VM_LOG_DIR/e2fsck.txt"; fail "e2fsck -fn found problems"; }
tail -1 "$VM_LOG_DIR/e2fsck.txt" >&2

serve_stop srv "$NAME"
# The filesystem is in the file: e2fsck on the image itself.
e2fsck -fn "$IMG" >/dev/null 2>&1 || fail "e2fsck -fn on the backing file after shutdown"
log "ext4 OK"
