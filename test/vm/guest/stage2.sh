#!/bin/bash
# Stage 2 of the guest: PID 1 (bash) on the host's root, shared read-only
# over 9p. Makes the writable scratch areas, runs the requested script and
# prints the marker line `VDUSE_VM_EXIT=<status>` on the console, then powers
# the machine off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 TERM=dumb

say() { echo "[vm-stage2] $*"; }
finish() {
  echo "VDUSE_VM_EXIT=$1"
  sync
  echo o >/proc/sysrq-trigger   # ACPI power-off; QEMU exits
  sleep 30
  exit "$1"                     # fallback: PID 1 exits -> panic=-1 -> -no-reboot
}

# Inputs from the host (a shell fragment written by boot.mjs).
if [ -f /run/vduse-vm/env ]; then
  set -a
  # shellcheck disable=SC1091
  . /run/vduse-vm/env
  set +a
fi

# Writable scratch: the 9p root is read-only. These hide the host's own
# /tmp, /var/tmp; /run is the tmpfs stage 1 made. Host paths under /tmp or
# /var/tmp that the guest needs (a checkout in /tmp, the script, the cache)
# are bind-mounted back, read-only, at their own paths.
mkdir -p /run/vduse-vm/host-tmp /run/vduse-vm/host-var-tmp
mount --bind /tmp /run/vduse-vm/host-tmp
mount --bind /var/tmp /run/vduse-vm/host-var-tmp
mount -t tmpfs -o mode=1777 tmpfs /tmp || finish 125
mount -t tmpfs -o mode=1777 tmpfs /var/tmp || finish 125
expose_host_path() {
  local p="$1" src
  case "$p" in
    /tmp/*) src="/run/vduse-vm/host-tmp/${p#/tmp/}" ;;
    /var/tmp/*) src="/run/vduse-vm/host-var-tmp/${p#/var/tmp/}" ;;
    *) return 0 ;;
  esac
  [ -d "$src" ] || return 0
  [ -e "$p" ] && return 0   # already visible (e.g. under an exposed parent)
  mkdir -p "$p" && mount --bind "$src" "$p" && say "host path $p bind-mounted over the guest tmpfs (read-only)"
}
expose_host_path "${VDUSE_VM_REPO:-}"
expose_host_path "${VDUSE_VM_HARNESS:-}"
expose_host_path "${VDUSE_VM_KROOT:-}"
expose_host_path "$(dirname "${VDUSE_VM_SCRIPT:-/}")"
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm 2>/dev/null
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t configfs configfs /sys/kernel/config 2>/dev/null

# `modprobe` for the guest kernel: the host has its own (or no) /lib/modules,
# so the stock module tree lives in the host's cache; scenarios use
# `modprobe -d "$VDUSE_VM_KROOT" NAME` (lib.sh: vm_modprobe). Where the host
# has a /lib/modules directory, a tmpfs over it makes plain `modprobe` work.
KVER="$(uname -r)"
if [ -n "${VDUSE_VM_KROOT:-}" ] && [ -d "$VDUSE_VM_KROOT/lib/modules/$KVER" ] && [ -d /lib/modules ]; then
  if mount -t tmpfs -o mode=0755,size=1m tmpfs /lib/modules 2>/dev/null; then
    ln -s "$VDUSE_VM_KROOT/lib/modules/$KVER" "/lib/modules/$KVER"
  fi
fi

ulimit -n 65536 2>/dev/null
ulimit -l unlimited 2>/dev/null
export HOME=/tmp/home TMPDIR=/tmp
mkdir -p "$HOME"
ip link set lo up 2>/dev/null
hostname vduse-vm 2>/dev/null

script="${VDUSE_VM_SCRIPT:-}"
[ -n "$script" ] || { say "no VDUSE_VM_SCRIPT given"; finish 126; }
[ -f "$script" ] || { say "script not found: $script"; finish 127; }
cd "${VDUSE_VM_REPO:-/}" || finish 126
eval "set -- ${VDUSE_VM_ARGS:-}"   # a shell-quoted list written by boot.mjs
say "kernel $KVER up $(cut -d' ' -f1 /proc/uptime)s, running $script $*"
bash "$script" "$@" </dev/null
finish $?
