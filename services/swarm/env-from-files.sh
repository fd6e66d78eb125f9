#!/bin/sh
# env-from-files.sh COMMAND [ARG...]: on Swarm, the entry point of the images that read their
# passwords from the environment only (Logstash, Kibana, Grafana's datasource, our Elasticsearch
# setup job). For each X_FILE naming a Docker secret (a file under /run/secrets/) while X is
# unset, it exports X with the file's text, then runs COMMAND: the same rule as flaskobs-serve
# (flaskobs/serve.py, secrets_from_files), so the stack file holds no password.
set -eu
dir=${SECRETS_DIR:-/run/secrets}  # where Docker mounts a service's secrets (the tests use their own)
for name in $(env | sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)_FILE=.*/\1/p'); do
  case "$name" in *_) continue ;; esac  # Grafana's own X__FILE: Grafana reads those itself
  eval "file=\${${name}_FILE}"
  case "$file" in "$dir"/*) ;; *) continue ;; esac  # not a Docker secret: other *_FILE mean other things
  eval "value=\${${name}:-}"
  [ -z "$value" ] || continue  # X itself wins
  if ! value=$(cat "$file" 2>/dev/null); then
    echo "configuration error: ${name}_FILE=$file cannot be read; check the secret is granted to this service" >&2
    exit 2
  fi
  export "$name=$value"
done
[ "$#" -gt 0 ] || { echo "usage: env-from-files.sh COMMAND [ARG...]" >&2; exit 2; }
exec "$@"
