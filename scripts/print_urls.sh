#!/usr/bin/env bash
# Print the URL of every UI the stack publishes. Arguments: the compose command and profile flags.
set -uo pipefail
compose=("$@")
url() {  # url SERVICE PORT SCHEME LABEL PATH
  local addr
  addr=$("${compose[@]}" port "$1" "$2" 2>/dev/null | head -n1) || return 0
  case "$addr" in ""|:*|*:0) return 0 ;; esac  # not published
  addr=${addr/0.0.0.0/localhost}
  printf '  %-12s %s://%s%s\n' "$4" "$3" "$addr" "$5"
}
echo "Stack is up and healthy:"
url nginx 8443 https "app (TLS)" "${APP_URL_PREFIX:-}/"
url nginx 8080 http "app (HTTP)" "${APP_URL_PREFIX:-}/"
url caddy 8443 https "app (TLS)" "${APP_URL_PREFIX:-}/"
url caddy 8080 http "app (HTTP)" "${APP_URL_PREFIX:-}/"
url app 8000 http "app" "/"
url grafana 3000 http "Grafana" "/  (user/password: GRAFANA_ADMIN_* in .env)"
url prometheus 9090 http "Prometheus" "/"
url alertmanager 9093 http "Alertmanager" "/  (make alerts, make silence ALERT=name)"
url kibana 5601 http "Kibana" "/  (user elastic, password ELASTIC_PASSWORD in .env)"
