#!/usr/bin/env bash
# The Swarm stack with PROFILE=full on one node of a registry host (the e2e workflow's `swarm`
# job): deployed as the README says, then one request followed into Elasticsearch through both
# log paths (the app's shipper, and Nginx's file through nginx-log-shipper). The air-gapped CI
# machine runs the same stack less the Elastic and Grafana images on a 3-node swarm instead
# (tests/integration/test_swarm.py).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[swarm-e2e] $*"; }

make init
echo "LOG_SHIP_ACCESS=true" >> .env
set -a; . compose/images.env; . ./.env; set +a

docker swarm init --advertise-addr 127.0.0.1 >/dev/null
node=$(docker node ls -q)
docker node update --label-add flaskobs.ingress=true --label-add flaskobs.monitoring=true \
  --label-add flaskobs.logs=true "$node" >/dev/null
docker compose --project-directory compose -f compose/compose.yaml --env-file compose/images.env \
  --env-file .env --profile app build app-build app
# One node: one Nginx (host-mode ports), two app replicas; images are local (never resolved).
NGINX_REPLICAS=1 APP_REPLICAS=2 make swarm-deploy PROFILE=full SWARM_RESOLVE_IMAGE=never

converged() {  # every service has all its tasks running (healthy, for those with a check)
  local line
  while read -r line; do
    set -- ${line/\// }  # NAME RUNNING WANTED
    [ "$2" = "$3" ] || return 1
  done < <(docker service ls --filter label=com.docker.stack.namespace=flaskobs --format '{{.Name}} {{.Replicas}}')
}
for _ in $(seq 180); do converged && break; sleep 5; done
docker service ls
converged || { log "the stack did not converge"; docker service ps --no-trunc flaskobs_setup flaskobs_logstash \
  flaskobs_kibana flaskobs_elasticsearch; exit 1; }

rid="swarm-e2e-$(date +%s)"
code=$(curl -sk -o /dev/null -w '%{http_code}' -H "X-Request-ID: $rid" https://localhost:8443/api/items)
[ "$code" = 200 ] || { log "GET /api/items answered $code"; exit 1; }

es=$(docker ps -q -f name=flaskobs_elasticsearch)
search() {
  docker exec "$es" curl -fsS -u "elastic:$ELASTIC_PASSWORD" -H 'Content-Type: application/json' \
    "http://127.0.0.1:9200/logs-flask-default/_search" \
    -d "{\"size\":10,\"query\":{\"term\":{\"request_id\":\"$rid\"}},\"_source\":[\"logger\"]}"
}
for _ in $(seq 60); do
  loggers=$(search | python3 -c 'import json,sys; print(" ".join(sorted(h["_source"]["logger"] for h in json.load(sys.stdin)["hits"]["hits"])))' || true)
  [ "$loggers" = "gunicorn.access nginx.access" ] && break
  sleep 2
done
log "documents for $rid: ${loggers:-none}"
[ "$loggers" = "gunicorn.access nginx.access" ] || { docker service logs --tail 50 flaskobs_nginx-log-shipper; exit 1; }
log "ok: the request is in Elasticsearch once from the app and once from Nginx"
