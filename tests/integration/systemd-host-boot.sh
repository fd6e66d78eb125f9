#!/bin/sh
# PID 1 of the systemd test host (systemd-host.Dockerfile): systemd 257 runs on the unified
# cgroup hierarchy only. This kernel has it beside the v1 controllers, so a cgroup2 mount (no
# controllers, enough for systemd to track services) replaces the v1 tree Docker gave us.
set -eu
mount -o remount,rw /sys 2>/dev/null || true
umount -R -l /sys/fs/cgroup 2>/dev/null || true
mount -t cgroup2 -o rw,nosuid,nodev,noexec,relatime cgroup2 /sys/fs/cgroup
exec /lib/systemd/systemd
