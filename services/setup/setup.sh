#!/usr/bin/env bash
# One-off provisioning of Elasticsearch and Kibana for the logs profile; safe to run again.
# It sets the built-in users' passwords from .env, creates the least-privilege users for
# Logstash and Grafana, the ILM policy and index template of logs-flask-*, and Kibana's data
# view. It then stays up, healthy, so `docker compose up --wait` works (docker/compose#10596).
set -euo pipefail

ES=${ES_URL:-http://elasticsearch:9200}
KIBANA=${KIBANA_URL:-http://kibana:5601}
CONF=$(dirname "$0")/config
DONE=${SETUP_DONE_FILE:-/tmp/setup-done}  # the health check's marker: only this run's success sets it
: "${ELASTIC_PASSWORD:?}" "${KIBANA_SYSTEM_PASSWORD:?}" "${LOGSTASH_INTERNAL_PASSWORD:?}" "${GRAFANA_ES_PASSWORD:?}"

# --- what gets created ------------------------------------------------------------------
declare -A ROLES=([logstash_writer]=role-logstash-writer.json [grafana_reader]=role-grafana-reader.json)
declare -A USERS=([logstash_internal]=logstash_writer [grafana_reader]=grafana_reader)
declare -A PASSWORDS=([logstash_internal]=$LOGSTASH_INTERNAL_PASSWORD [grafana_reader]=$GRAFANA_ES_PASSWORD)

# Every request body is a file in $CONF; __NAME__ placeholders are filled in below.
# (tests/config/test_upstream_types.py checks them against Elasticsearch's published types.)

# --- helpers ----------------------------------------------------------------------------
log() { echo "[setup] $*"; }
json_string() {  # json_string TEXT -> TEXT escaped for the inside of a JSON string
  local s=${1//\\/\\\\}
  printf '%s' "${s//\"/\\\"}"
}
fill() {  # fill FILE NAME=VALUE... -> the file with __NAME__ replaced by each JSON-escaped VALUE
  local body pair
  body=$(<"$1"); shift
  for pair in "$@"; do body=${body//__${pair%%=*}__/"$(json_string "${pair#*=}")"}; done
  printf '%s' "$body"
}
hint() {  # hint CURL_EXIT HTTP_CODE BODY
  case "$1" in
    6) echo "Could not resolve host. Is Elasticsearch running on the compose network?" ;;
    7) echo "Connection refused. Is Elasticsearch up (\`make ps\`, \`make logs SERVICE=elasticsearch\`)?" ;;
    28) echo "Timed out. Elasticsearch may be starving for memory (ES_HEAP, ES_MEM_LIMIT)." ;;
  esac
  case "$2" in
    401) echo "Authentication failed for user elastic. ELASTIC_PASSWORD is only the bootstrap password Elasticsearch keeps in its keystore, used while the elastic user has none of its own; once set, the password lives in the security index on the es-data volume. Put back the ELASTIC_PASSWORD you first started with, or start over: make clean (deletes the logs)." ;;
    403) echo "Forbidden: the user lacks a privilege. Body: $3" ;;
  esac
}
call() {  # call METHOD PATH [JSON_FILE_OR_BODY] -> prints body; fails with a hint
  local method=$1 path=$2 data=${3:-} out code rc
  local args=(-sS -m 30 -u "elastic:${ELASTIC_PASSWORD}" -X "$method" -H 'Content-Type: application/json'
              -w '\n%{http_code}')
  if [ -n "$data" ]; then
    if [ -f "$data" ]; then args+=(--data-binary "@$data"); else args+=(--data-binary "$data"); fi
  fi
  set +e; out=$(curl "${args[@]}" "$ES$path" 2>&1); rc=$?; set -e
  code=${out##*$'\n'}; out=${out%$'\n'*}
  LAST_CODE=$code
  if [ $rc -ne 0 ] || [ "${code:0:1}" != 2 ]; then
    log "FAILED: $method $path (curl exit $rc, HTTP $code)"
    hint "$rc" "$code" "$out" >&2
    echo "$out" >&2
    return 1
  fi
  echo "$out"
}

# --- procedure --------------------------------------------------------------------------
rm -f "$DONE"  # a restart is not healthy until it has run again
log "waiting for Elasticsearch at $ES"
for i in $(seq 1 60); do
  if call GET "/_cluster/health?wait_for_status=yellow&timeout=5s" >/dev/null 2>/tmp/es.err; then break; fi
  # A wrong password does not get better by waiting.
  [ "$i" = 60 ] || [ "${LAST_CODE:-}" = 401 ] && { cat /tmp/es.err >&2; exit 1; }
  sleep 5
done

log "password of kibana_system"
call POST /_security/user/kibana_system/_password "$(fill "$CONF/password.json" PASSWORD="$KIBANA_SYSTEM_PASSWORD")" >/dev/null

for role in "${!ROLES[@]}"; do
  log "role $role"
  call PUT "/_security/role/$role" "$CONF/${ROLES[$role]}" >/dev/null
done
for user in "${!USERS[@]}"; do
  log "user $user (role ${USERS[$user]})"
  call PUT "/_security/user/$user" \
    "$(fill "$CONF/user.json" PASSWORD="${PASSWORDS[$user]}" ROLE="${USERS[$user]}")" >/dev/null
done

retention=${LOG_RETENTION:-14d}
[[ "$retention" =~ ^[0-9]+[dh]$ ]] || { log "LOG_RETENTION=$retention is not allowed; examples: 14d, 72h"; exit 2; }
log "ILM policy logs-flask (delete after $retention)"
call PUT /_ilm/policy/logs-flask "$(fill "$CONF/ilm-policy.json" LOG_RETENTION="$retention")" >/dev/null
# The template is composed of Elasticsearch's own logs@mappings and logs@settings, which it
# installs asynchronously after the cluster turns yellow: an early PUT is refused (400).
for template in logs@mappings logs@settings; do
  log "waiting for Elasticsearch's component template $template"
  for i in $(seq 1 60); do
    if call GET "/_component_template/$template" >/dev/null 2>/tmp/es.err; then break; fi
    [ "$i" = 60 ] && { cat /tmp/es.err >&2; exit 1; }
    sleep 2
  done
done
log "index template logs-flask"
call PUT /_index_template/logs-flask "$CONF/index-template.json" >/dev/null

touch "$DONE"
log "Elasticsearch is ready; waiting for Kibana to create the data view"

for i in $(seq 1 120); do
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -u "elastic:${ELASTIC_PASSWORD}" "$KIBANA/api/status" || true)
  [ "$code" = 200 ] && break
  sleep 5
done
if curl -sS -m 30 -u "elastic:${ELASTIC_PASSWORD}" -H 'kbn-xsrf: setup' -H 'Content-Type: application/json' \
     -X POST "$KIBANA/api/data_views/data_view" --data-binary "@$CONF/data-view.json" -o /dev/null -f; then
  log "Kibana data view logs-flask* is in place"
else
  log "could not create the Kibana data view; is Kibana up? (make logs SERVICE=kibana)"
fi
# Stay up, healthy, for `up --wait`; compose.yaml's `init: true` makes a stop immediate.
exec sleep infinity
