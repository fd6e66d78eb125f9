#!/bin/sh
# Start dockerd inside the node container. Without --privileged (this host lacks
# CAP_SYS_RESOURCE) /sys and the cgroup hierarchies come read-only: make them read-write.
# A node killed and started again finds its old pid files: remove them, or dockerd refuses.
set -eu
mount -o remount,rw /sys 2>/dev/null || true
# The cgroup hierarchies cannot be remounted ("busy"), and engines inside need them writable:
# unmount them and mount each afresh, same controllers (cgroup v1), or cgroup2 likewise.
if grep -q '^cgroup2 /sys/fs/cgroup ' /proc/self/mounts; then
  umount -l /sys/fs/cgroup && mount -t cgroup2 -o rw,nosuid,nodev,noexec,relatime cgroup2 /sys/fs/cgroup
else
  hierarchies=$(awk '$3 == "cgroup" {print $2 " " $4}' /proc/self/mounts | sort -u -k1,1)
  echo "$hierarchies" | while read -r dir opts; do umount -l "$dir"; done
  umount -l /sys/fs/cgroup
  mount -t tmpfs -o rw,nosuid,nodev,noexec,relatime,mode=755 cgroup /sys/fs/cgroup
  echo "$hierarchies" | while read -r dir opts; do
    controllers=$(echo "$opts" | tr , '\n' | grep -vE '^(ro|rw|nosuid|nodev|noexec|relatime)$' | paste -sd, -)
    mkdir -p "$dir"
    mount -t cgroup -o "rw,nosuid,nodev,noexec,relatime,$controllers" cgroup "$dir"
  done
fi
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid /run/docker/containerd/containerd.pid
# No registry may be asked: services use the images loaded into this engine (docker load), and
# the test harness points the registry's name at 127.0.0.1 (--add-host) should anything try.
export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
exec dockerd --host=unix:///var/run/docker.sock ${DOCKERD_EXTRA_ARGS:-} "$@"
