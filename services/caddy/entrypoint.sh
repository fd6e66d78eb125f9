#!/bin/sh
# Entry point of the caddy service (PROXY=caddy): check the settings, write the optional pieces
# of the Caddyfile to /run/caddy (a tmpfs), check the result with `caddy validate`, then run
# Caddy as its own user. Every setting's default is here, and only here; the names and meanings
# are those of the Nginx service (services/nginx/config/render.sh) where both have the setting.
set -eu
fail() { echo "caddy config: $*" >&2; exit 2; }

TLS=${TLS:-on}
case "$TLS" in on|off) ;; *) fail "TLS=$TLS is not allowed; allowed: on, off" ;; esac
# internal: Caddy's own CA (its root in the caddy-data volume); files: TLS_CERT_DIR's tls.crt and
# tls.key (`make init` writes a development pair); acme: certificates for SERVER_NAME from Let's
# Encrypt, which must reach this host on ports 80 and 443 under that name.
CADDY_CERTIFICATES=${CADDY_CERTIFICATES:-internal}
case "$CADDY_CERTIFICATES" in internal|files|acme) ;;
  *) fail "CADDY_CERTIFICATES=$CADDY_CERTIFICATES is not allowed; allowed: internal, files, acme" ;; esac
: "${CLIENT_MAX_BODY_SIZE:=1m}" "${PUBLIC_HTTPS_PORT:=8443}" "${PUBLIC_HTTP_PORT:=8080}"
APP_URL_PREFIX=${APP_URL_PREFIX:-}
case "$APP_URL_PREFIX" in
  "") ;;
  */) fail "APP_URL_PREFIX=$APP_URL_PREFIX must not end with '/'; example: /shop" ;;
  /*) echo "$APP_URL_PREFIX" | grep -Eq '^(/[A-Za-z0-9._~-]+)+$' \
        || fail "APP_URL_PREFIX=$APP_URL_PREFIX may hold only letters, digits and . _ ~ - between slashes" ;;
  *) fail "APP_URL_PREFIX=$APP_URL_PREFIX must start with '/'; example: /shop" ;;
esac
echo "$CLIENT_MAX_BODY_SIZE" | grep -Eq '^[0-9]+[kKmMgG]?$' \
  || fail "CLIENT_MAX_BODY_SIZE=$CLIENT_MAX_BODY_SIZE is not allowed; example: 1m or 512k"
for port in PUBLIC_HTTPS_PORT PUBLIC_HTTP_PORT; do
  eval "value=\$$port"
  echo "$value" | grep -Eq '^[0-9]{1,5}$' && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] \
    || fail "$port=$value must be a port number (1-65535)"
done
SERVER_NAME=${SERVER_NAME:-localhost 127.0.0.1}
echo "$SERVER_NAME" | grep -Eq '^[A-Za-z0-9.:-]+( [A-Za-z0-9.:-]+)*$' \
  || fail "SERVER_NAME=$SERVER_NAME must be host names or addresses separated by single spaces"
APP_UPSTREAM=${APP_UPSTREAM:-app:8000}
case "$APP_UPSTREAM" in
  unix:/*) upstream="unix/${APP_UPSTREAM#unix:}" ;;
  *) upstream=$APP_UPSTREAM ;;
esac
echo "$APP_UPSTREAM" | grep -Eq '^([A-Za-z0-9._-]+:[0-9]{1,5}|unix:/[A-Za-z0-9._/-]+)$' \
  || fail "APP_UPSTREAM=$APP_UPSTREAM is not host:port or unix:/path"
: "${CONTENT_SECURITY_POLICY:=default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'}"
case "$CONTENT_SECURITY_POLICY" in *'"'*|*'{'*|*'}'*) fail "CONTENT_SECURITY_POLICY may not contain \" { or }" ;; esac
if [ -n "${ACME_EMAIL:-}" ]; then
  echo "$ACME_EMAIL" | grep -Eq '^[^@ {}]+@[^@ {}]+$' || fail "ACME_EMAIL=$ACME_EMAIL is not an e-mail address"
fi
# Caddy's standard build has no rate limiting (it needs a plugin): say so rather than ignore it.
if [ -n "${RATE_LIMIT:-}${RATE_LIMIT_BURST:-}" ]; then
  echo "caddy config: RATE_LIMIT and RATE_LIMIT_BURST are Nginx settings; Caddy's standard build does not limit request rates" >&2
fi

number=${CLIENT_MAX_BODY_SIZE%[kKmMgG]}
case "$CLIENT_MAX_BODY_SIZE" in
  *[kK]) CLIENT_MAX_BODY_BYTES=$((number * 1024)) ;;
  *[mM]) CLIENT_MAX_BODY_BYTES=$((number * 1024 * 1024)) ;;
  *[gG]) CLIENT_MAX_BODY_BYTES=$((number * 1024 * 1024 * 1024)) ;;
  *) CLIENT_MAX_BODY_BYTES=$number ;;
esac

run=/run/caddy
mkdir -p "$run"
rm -f "$run"/*.caddy
if [ "$PUBLIC_HTTPS_PORT" = 443 ]; then HTTPS_SUFFIX=""; else HTTPS_SUFFIX=":$PUBLIC_HTTPS_PORT"; fi
if [ "$PUBLIC_HTTP_PORT" = 80 ]; then HTTP_SUFFIX=""; else HTTP_SUFFIX=":$PUBLIC_HTTP_PORT"; fi
# A client that sends no SNI has connected by address (Python and curl send none for an IP):
# it gets the certificate of the first address in SERVER_NAME, else of its first name.
DEFAULT_SNI=${SERVER_NAME%% *}
for name in $SERVER_NAME; do
  case "$name" in *[!0-9.:]*) ;; *) DEFAULT_SNI=$name; break ;; esac
done
if [ "$TLS" = on ]; then
  scheme=https
  PUBLIC_PORT=$PUBLIC_HTTPS_PORT PUBLIC_PORT_SUFFIX=$HTTPS_SUFFIX
  HSTS_HEADER='Strict-Transport-Security "max-age=31536000; includeSubDomains"'
  CATCH_ALL_TLS="tls internal"
  case "$CADDY_CERTIFICATES" in
    internal) TLS_DIRECTIVE="tls internal" ;;
    files)
      mkdir -p "$run/certs"
      for f in tls.crt tls.key; do
        [ -r "/etc/caddy/certs/$f" ] || fail "CADDY_CERTIFICATES=files but /etc/caddy/certs/$f is missing: run \`make init\` for a development certificate, mount your own (TLS_CERT_DIR), or use internal"
        # Caddy runs as its own user; the key on the host is 0600 and may belong to anyone.
        install -m 0600 -o caddy -g caddy "/etc/caddy/certs/$f" "$run/certs/$f"
      done
      TLS_DIRECTIVE="tls $run/certs/tls.crt $run/certs/tls.key" ;;
    acme)
      TLS_DIRECTIVE=""
      [ -z "${ACME_EMAIL:-}" ] || echo "email $ACME_EMAIL" > "$run/global-acme.caddy" ;;
  esac
  redirect=""
  for name in $SERVER_NAME; do redirect="${redirect:+$redirect, }http://$name"; done
  # Let's Encrypt's HTTP-01 challenge is answered by Caddy before this site sees it.
  cat > "$run/site-redirect.caddy" <<SITE
$redirect {
	import request_id
	import headers
	import json_errors
	import access_log
	redir https://{host}$HTTPS_SUFFIX{uri} 301
}
SITE
else
  scheme=http
  PUBLIC_PORT=$PUBLIC_HTTP_PORT PUBLIC_PORT_SUFFIX=$HTTP_SUFFIX
  HSTS_HEADER="" CATCH_ALL_TLS="" TLS_DIRECTIVE=""
fi
SITE_ADDRESSES=""
for name in $SERVER_NAME; do SITE_ADDRESSES="${SITE_ADDRESSES:+$SITE_ADDRESSES, }$scheme://$name"; done
CATCH_ALL_ADDRESSES="$scheme://"

if [ -n "$APP_URL_PREFIX" ]; then
  echo "redir $APP_URL_PREFIX $APP_URL_PREFIX/ 301" > "$run/static-prefix-redirect.caddy"
fi
if [ -n "${APP_STATIC_DIR:-}" ]; then
  cat > "$run/static-location.caddy" <<STATIC
handle_path $APP_URL_PREFIX/static/* {
	root * /srv/static
	header Cache-Control "public, max-age=604800"
	encode gzip
	file_server
}
STATIC
fi

# With the logs profile Caddy also writes its JSON access log to a file on the volume that
# Logstash tails. auto: on when the deployment includes Logstash (compose.yaml, shipping-on).
mode=${CADDY_ACCESS_LOG_FILE:-auto}
if [ "$mode" = auto ]; then
  if [ -s /run/deployment/logstash-host ]; then mode=on; else mode=off; fi
fi
case "$mode" in
  off) ;;
  on)
    dir=/var/log/caddy/flaskobs
    mkdir -p "$dir"
    chown caddy:caddy "$dir"
    cat > "$run/global-log-file.caddy" <<LOG
log access_file {
	output file $dir/caddy-access.json {
		roll_size 100MiB
		roll_keep 2
	}
	format json
	include http.log.access
}
LOG
    ;;
  *) fail "CADDY_ACCESS_LOG_FILE=$CADDY_ACCESS_LOG_FILE is not allowed; allowed: auto, on, off" ;;
esac


export DEFAULT_SNI CONTENT_SECURITY_POLICY HSTS_HEADER CLIENT_MAX_BODY_SIZE \
  CLIENT_MAX_BODY_BYTES SITE_ADDRESSES TLS_DIRECTIVE APP_URL_PREFIX PUBLIC_PORT PUBLIC_PORT_SUFFIX \
  CATCH_ALL_ADDRESSES CATCH_ALL_TLS
export APP_UPSTREAM="$upstream"
# Caddy's data (its CA, ACME certificates) on the caddy-data volume; its autosaved config in /tmp.
export XDG_DATA_HOME=/data XDG_CONFIG_HOME=/tmp/caddy-config
mkdir -p /data/caddy
caddy validate --config /etc/caddy/flaskobs/Caddyfile --adapter caddyfile >/dev/null 2>"$run/validate.log" \
  || { cat "$run/validate.log" >&2; fail "the rendered Caddyfile does not validate (above)"; }
chown -R caddy:caddy /data/caddy  # after validate, which may have made the internal CA as root
exec setpriv --reuid=caddy --regid=caddy --init-groups --inh-caps=-all --bounding-set=-all "$@"
