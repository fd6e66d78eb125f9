#!/bin/sh
# Entry point of the nginx service: check the settings, render templates/*.template into
# /etc/nginx/conf.d (a tmpfs), check the result with `nginx -t`, then exec nginx.
# Our nginx.conf (mounted over the image's) includes conf.d/*.main and conf.d/*.conf.
# Every setting's default is here, and only here (compose.yaml passes .env's values as they are).
set -eu
here=$(dirname "$0")
fail() { echo "nginx config: $*" >&2; exit 2; }

TLS=${TLS:-on}
worker=$(id -u nginx >/dev/null 2>&1 && echo nginx || echo www-data)  # upstream image: nginx; Debian: www-data
: "${RATE_LIMIT:=20r/s}" "${RATE_LIMIT_BURST:=40}" "${CLIENT_MAX_BODY_SIZE:=1m}" "${PUBLIC_HTTPS_PORT:=8443}" \
  "${PUBLIC_HTTP_PORT:=8080}"
case "$TLS" in on|off) ;; *) fail "TLS=$TLS is not allowed; allowed: on, off" ;; esac
APP_URL_PREFIX=${APP_URL_PREFIX:-}
case "$APP_URL_PREFIX" in
  "") ;;
  */) fail "APP_URL_PREFIX=$APP_URL_PREFIX must not end with '/'; example: /shop" ;;
  /*) echo "$APP_URL_PREFIX" | grep -Eq '^(/[A-Za-z0-9._~-]+)+$' \
        || fail "APP_URL_PREFIX=$APP_URL_PREFIX may hold only letters, digits and . _ ~ - between slashes" ;;
  *) fail "APP_URL_PREFIX=$APP_URL_PREFIX must start with '/'; example: /shop" ;;
esac
echo "$RATE_LIMIT" | grep -Eq '^[0-9]+r/[sm]$' || fail "RATE_LIMIT=$RATE_LIMIT is not allowed; example: 20r/s or 600r/m"
echo "$RATE_LIMIT_BURST" | grep -Eq '^[0-9]+$' || fail "RATE_LIMIT_BURST=$RATE_LIMIT_BURST must be a whole number"
echo "$CLIENT_MAX_BODY_SIZE" | grep -Eq '^[0-9]+[kKmMgG]?$' || fail "CLIENT_MAX_BODY_SIZE=$CLIENT_MAX_BODY_SIZE is not allowed; example: 1m or 512k"
for port in PUBLIC_HTTPS_PORT PUBLIC_HTTP_PORT; do
  eval "value=\$$port"
  echo "$value" | grep -Eq '^[0-9]{1,5}$' && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] \
    || fail "$port=$value must be a port number (1-65535)"
done
# Where Nginx listens: its container's ports (compose.yaml publishes them); a plain host
# (deploy/systemd/install.sh) sets 80, 443 and 127.0.0.1:8081.
: "${NGINX_HTTP_LISTEN:=8080}" "${NGINX_HTTPS_LISTEN:=8443}" "${NGINX_INTERNAL_LISTEN:=8081}"
# The JSON access log: stdout in a container; a file on a plain host, where systemd's journal
# socket cannot be opened by path.
: "${NGINX_ACCESS_LOG:=/dev/stdout}"
echo "$NGINX_ACCESS_LOG" | grep -Eq '^/[A-Za-z0-9._/-]+$' || fail "NGINX_ACCESS_LOG=$NGINX_ACCESS_LOG is not an absolute path"
for listen in NGINX_HTTP_LISTEN NGINX_HTTPS_LISTEN NGINX_INTERNAL_LISTEN; do
  eval "value=\$$listen"
  echo "$value" | grep -Eq '^(([0-9]{1,3}\.){3}[0-9]{1,3}:|\[[0-9A-Fa-f:]+\]:)?[0-9]{1,5}$' \
    || fail "$listen=$value is not a port or address:port; example: 8080 or 127.0.0.1:8081"
done
# The JSON 502 server Nginx falls back to when the app does not answer: loopback only. A host
# with something else on 8082 (or several Nginx sharing one network) moves it.
: "${NGINX_FALLBACK_LISTEN:=127.0.0.1:8082}"
echo "$NGINX_FALLBACK_LISTEN" | grep -Eq '^127(\.[0-9]{1,3}){3}:[0-9]{1,5}$' \
  || fail "NGINX_FALLBACK_LISTEN=$NGINX_FALLBACK_LISTEN is not a loopback address:port; example: 127.0.0.1:8082"
SERVER_NAME=${SERVER_NAME:-localhost 127.0.0.1}
# The app: host:port, or unix:/path (Compose: the app's socket, so the app has no TCP port that
# anyone but Nginx could reach). Its static files, when APP_STATIC_DIR is mounted at /srv/static,
# are served from disk; without it the app serves them.
APP_UPSTREAM=${APP_UPSTREAM:-app:8000}
echo "$APP_UPSTREAM" | grep -Eq '^([A-Za-z0-9._-]+:[0-9]{1,5}|unix:/[A-Za-z0-9._/-]+)$' \
  || fail "APP_UPSTREAM=$APP_UPSTREAM is not host:port or unix:/path"
# What the app speaks: http (Gunicorn, proxy_pass) or uwsgi (APP_SERVER=uwsgi, uwsgi_pass; whoever
# reaches its socket sets every WSGI variable, so it must be Nginx's alone: a Unix socket). Its
# default follows APP_SERVER, as the app's own does (flaskobs/uwsgi_conf.py).
APP_SERVER=${APP_SERVER:-gunicorn}
case "$APP_SERVER" in
  gunicorn) APP_PROTOCOL=${APP_PROTOCOL:-http} ;;
  uwsgi) APP_PROTOCOL=${APP_PROTOCOL:-uwsgi} ;;
  *) fail "APP_SERVER=$APP_SERVER is not allowed; allowed: gunicorn, uwsgi" ;;
esac
[ "$APP_SERVER:$APP_PROTOCOL" != gunicorn:uwsgi ] || fail "APP_PROTOCOL=uwsgi needs APP_SERVER=uwsgi; Gunicorn speaks http only"
case "$APP_PROTOCOL" in
  http) APP_PASS="proxy_pass http://flask_app/;"; APP_PASS_AGAIN="proxy_pass http://flask_app;"; app_proxy=app-proxy.conf ;;
  uwsgi)
    APP_PASS="uwsgi_pass flask_app;"; APP_PASS_AGAIN="uwsgi_pass flask_app;"; app_proxy=app-uwsgi.conf
    # proxy_pass's URI strips the prefix; uwsgi_pass has none, so the location rewrites.
    [ -z "$APP_URL_PREFIX" ] || APP_PASS="rewrite ^$APP_URL_PREFIX/(.*)\$ /\$1 break; $APP_PASS" ;;
  *) fail "APP_PROTOCOL=$APP_PROTOCOL is not allowed; allowed: http, uwsgi" ;;
esac
# A host name (Swarm: tasks.app, one address per replica) is resolved again by Nginx itself
# every APP_RESOLVE_INTERVAL seconds (upstream `server ... resolve`), so replicas that come and
# go are followed without a reload, which would close idle client keep-alive connections.
: "${APP_RESOLVE_INTERVAL:=1}"
echo "$APP_RESOLVE_INTERVAL" | grep -Eq '^[0-9]{1,2}$' && [ "$APP_RESOLVE_INTERVAL" -ge 1 ] \
  || fail "APP_RESOLVE_INTERVAL=$APP_RESOLVE_INTERVAL must be a whole number of seconds, 1-99"
STATIC_LOCATION=""
if [ -n "${APP_STATIC_DIR:-}" ]; then
  STATIC_LOCATION="include /etc/nginx/conf.d/static-location.inc;"
fi
: "${CONTENT_SECURITY_POLICY:=default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'}"
case "$CONTENT_SECURITY_POLICY" in *'"'*) fail "CONTENT_SECURITY_POLICY may not contain a double quote" ;; esac
# Where HTTP redirects to: the host as the client typed it, on the public HTTPS port.
if [ "$PUBLIC_HTTPS_PORT" = 443 ]; then HTTPS_SUFFIX=""; else HTTPS_SUFFIX=":$PUBLIC_HTTPS_PORT"; fi
if [ "$PUBLIC_HTTP_PORT" = 80 ]; then HTTP_SUFFIX=""; else HTTP_SUFFIX=":$PUBLIC_HTTP_PORT"; fi
if [ "$TLS" = on ]; then
  for f in /etc/nginx/certs/tls.crt /etc/nginx/certs/tls.key; do
    [ -r "$f" ] || fail "TLS=on but $f is missing: run \`make init\` for a development certificate, mount your own (TLS_CERT_DIR), or set TLS=off"
  done
fi
# With the logs profile Nginx also writes its JSON access log to one file per day on a volume
# that Logstash tails; files older than two days are deleted.
# auto: on when the deployment includes Logstash (the logs and full profiles write its name
# to /run/deployment/logstash-host; compose.yaml, shipping-on).
ACCESS_LOG_FILE=""
mode=${NGINX_ACCESS_LOG_FILE:-auto}
if [ "$mode" = auto ]; then
  if [ -s /run/deployment/logstash-host ]; then mode=on; else mode=off; fi
fi
case "$mode" in
  off) ;;
  on)
    dir=/var/log/nginx/flaskobs
    mkdir -p "$dir"
    chown "$worker" "$dir"
    ACCESS_LOG_FILE="access_log $dir/access-\$log_day.json flaskobs_json;"
    (while sleep 3600; do find "$dir" -name 'access-*.json' -mtime +2 -delete; done) &
    ;;
  *) fail "NGINX_ACCESS_LOG_FILE=$NGINX_ACCESS_LOG_FILE is not allowed; allowed: auto, on, off" ;;
esac
export NGINX_HTTP_LISTEN NGINX_HTTPS_LISTEN NGINX_INTERNAL_LISTEN NGINX_FALLBACK_LISTEN NGINX_ACCESS_LOG APP_URL_PREFIX RATE_LIMIT RATE_LIMIT_BURST CLIENT_MAX_BODY_SIZE SERVER_NAME HTTPS_SUFFIX HTTP_SUFFIX \
  PUBLIC_HTTPS_PORT PUBLIC_HTTP_PORT ACCESS_LOG_FILE \
  STATIC_LOCATION CONTENT_SECURITY_POLICY APP_PASS APP_PASS_AGAIN

# Only our variables are substituted; nginx's own $variables stay as they are.
vars='${NGINX_HTTP_LISTEN} ${NGINX_HTTPS_LISTEN} ${NGINX_INTERNAL_LISTEN} ${NGINX_FALLBACK_LISTEN} ${NGINX_ACCESS_LOG} ${APP_URL_PREFIX} ${RATE_LIMIT} ${RATE_LIMIT_BURST} ${CLIENT_MAX_BODY_SIZE} ${SERVER_NAME} ${HTTPS_SUFFIX} ${HTTP_SUFFIX} ${PUBLIC_HTTPS_PORT} ${PUBLIC_HTTP_PORT} ${ACCESS_LOG_FILE} ${STATIC_LOCATION} ${CONTENT_SECURITY_POLICY} ${APP_PASS} ${APP_PASS_AGAIN}'
# The upstream's servers for the app (http.conf includes them), each listed twice and never
# ejected (max_fails=0), so a retry after one closed connection reaches a live worker again;
# only then does the JSON 502 server answer. A host name is resolved by Nginx (from 1.27.3),
# through the container's own resolver; while it resolves to nothing the 502 server answers.
# A socket, an address or a name in /etc/hosts does not change: Nginx reads it as it loads.
app_is_fixed() {
  case "$APP_UPSTREAM" in unix:*|[0-9]*.[0-9]*.[0-9]*.[0-9]*:*) return 0 ;; esac
  awk -v h="${APP_UPSTREAM%:*}" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == h) found = 1 } END { exit !found }' /etc/hosts
}
app_servers() {
  if app_is_fixed; then
    printf 'server %s max_fails=0;\n' "$APP_UPSTREAM" "$APP_UPSTREAM"; return
  fi
  version=$(nginx -v 2>&1 | sed 's|.*nginx/||')
  [ "$(printf '1.27.3\n%s\n' "$version" | sort -V | head -n1)" = 1.27.3 ] \
    || fail "APP_UPSTREAM=$APP_UPSTREAM is a host name, which nginx $version cannot follow (it needs 1.27.3 or later, for \`server ... resolve\`); use such an image (NGINX_IMAGE) or an address"
  resolver=$(awk '$1 == "nameserver" {print $2; exit}' /etc/resolv.conf)
  [ -n "$resolver" ] || fail "APP_UPSTREAM=$APP_UPSTREAM is a host name, but /etc/resolv.conf names no nameserver"
  case "$resolver" in *:*) resolver="[$resolver]" ;; esac
  # valid= overrides the answer's TTL (Docker's DNS says 600 s for a service's tasks).
  printf 'resolver %s valid=%ss ipv6=off;\n' "$resolver" "$APP_RESOLVE_INTERVAL"
  printf 'server %s resolve max_fails=0;\n' "$APP_UPSTREAM" "$APP_UPSTREAM"
}
printf 'user %s;\n' "$worker" > /etc/nginx/conf.d/user.main  # nginx.conf includes *.main
render() { envsubst "$vars" < "$here/templates/$1.template" > "/etc/nginx/conf.d/$2"; }
app_servers > /etc/nginx/conf.d/app-servers.inc
# The JSON 502 server (http.conf) speaks HTTP: to uwsgi_pass it is a server that answers 400 to
# everything. Under uwsgi the failed retry's 502 gets the same JSON page from error-pages.conf.
[ "$APP_PROTOCOL" = uwsgi ] || echo "server $NGINX_FALLBACK_LISTEN backup;" >> /etc/nginx/conf.d/app-servers.inc
render http.conf 00-http.conf
render internal.conf 10-internal.conf
render static-location.conf static-location.inc
render app-locations.conf app-locations.inc
render "$app_proxy" app-proxy.inc
render headers.conf headers.inc
render errors.conf errors.inc
render error-pages.conf error-pages.inc
render unknown-host.conf unknown-host.inc
render server-settings.conf server-settings.inc
if [ "$TLS" = on ]; then
  render tls.conf tls.inc
  render server-tls.conf 20-server.conf
else
  render server-plain.conf 20-server.conf
fi
if [ -n "$APP_URL_PREFIX" ]; then
  printf 'location = %s { return 301 %s/; }\n' "$APP_URL_PREFIX" "$APP_URL_PREFIX" >> /etc/nginx/conf.d/app-locations.inc
fi
nginx -t -q
exec "$@"
