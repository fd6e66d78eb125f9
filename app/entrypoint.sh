#!/bin/sh
# Empty the multiprocess metrics directory before Python starts: prometheus_client reads the
# variable at import, and files from a previous run would be summed into the new counters.
set -eu
dir="${PROMETHEUS_MULTIPROC_DIR:-}"
if [ -n "$dir" ]; then
  mkdir -p "$dir"
  find "$dir" -mindepth 1 -delete
fi
exec "$@"
