#!/bin/sh
# Install your Flask app as a systemd service (flaskobs-app.service) behind this host's Nginx,
# whose site is rendered from the templates the Nginx container uses (services/nginx/config).
# Run as root from a checkout: `make install-systemd APP_DIR=... APP_MODULE=...` or this script.
# Again after a change: it replaces the code, flaskobs and the site, and restarts the service;
# it keeps /etc/flaskobs-app/app.env (your settings and secrets) and the certificate.
# Settings (environment; each default is here):
#   APP_DIR      your app's folder, with its requirements.txt   (default: the demo, app/)
#   APP_MODULE   module:variable or module:factory()            (default: demo:create_app())
#   APP_SERVER   gunicorn | uwsgi (uWSGI compiles: gcc, python3-dev) (default: gunicorn, or app.env's)
#   SERVER_NAME  host names Nginx serves                         (default: localhost 127.0.0.1)
#   TLS          on | off                                        (default: on)
#   HTTP_PORT / HTTPS_PORT  where Nginx listens                  (default: 80 / 443)
#   PIP_INSTALL_ARGS        extra pip arguments, e.g. --no-index --find-links DIR (offline)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
checkout=$(cd "$here/../.." && pwd)
fail() { echo "install-systemd: $*" >&2; exit 2; }
say() { echo "install-systemd: $*"; }

APP_DIR=${APP_DIR:-$checkout/app}
module_given=${APP_MODULE:+yes}
APP_MODULE=${APP_MODULE:-"demo:create_app()"}
server_given=${APP_SERVER:+yes}
SERVER_NAME=${SERVER_NAME:-localhost 127.0.0.1}
TLS=${TLS:-on}
HTTP_PORT=${HTTP_PORT:-80}
HTTPS_PORT=${HTTPS_PORT:-443}
PIP_INSTALL_ARGS=${PIP_INSTALL_ARGS:-}
# The unit's paths (flaskobs-app.service names them too).
user=flaskobs-app code=/srv/flaskobs-app venv=/opt/flaskobs-app/venv settings=/etc/flaskobs-app

[ "$(id -u)" = 0 ] || fail "run as root (it creates a user, a service and an Nginx site)"
# Given, else the one installed before (app.env), else Gunicorn.
[ -n "$server_given" ] || APP_SERVER=$(sed -n 's/^APP_SERVER=//p' "$settings/app.env" 2>/dev/null | tail -n1)
APP_SERVER=${APP_SERVER:-gunicorn}
case "$APP_SERVER" in gunicorn|uwsgi) ;; *) fail "APP_SERVER=$APP_SERVER is not allowed; allowed: gunicorn, uwsgi" ;; esac
case "$TLS" in on|off) ;; *) fail "TLS=$TLS is not allowed; allowed: on, off" ;; esac
for port in HTTP_PORT HTTPS_PORT; do
  eval "value=\$$port"
  echo "$value" | grep -Eq '^[0-9]{1,5}$' && [ "$value" -ge 1 ] && [ "$value" -le 65535 ] \
    || fail "$port=$value must be a port number (1-65535)"
done
[ -f "$APP_DIR/requirements.txt" ] \
  || fail "APP_DIR=$APP_DIR has no requirements.txt: point it at your app's folder (an empty requirements.txt will do)"
command -v systemctl >/dev/null || fail "systemctl is missing: this script needs a host run by systemd"
command -v nginx >/dev/null \
  || fail "nginx is missing: apt-get install nginx-light libnginx-mod-http-js gettext-base (Debian 13 or later)"
[ -e /usr/lib/nginx/modules/ngx_http_js_module.so ] \
  || fail "Nginx's njs module is missing: apt-get install libnginx-mod-http-js"
command -v envsubst >/dev/null || fail "envsubst is missing (it renders the Nginx site): apt-get install gettext-base"
command -v openssl >/dev/null || fail "openssl is missing: apt-get install openssl"
command -v curl >/dev/null || fail "curl is missing: apt-get install curl"
python3 -c 'import ensurepip, venv' 2>/dev/null || fail "python3 with venv is missing: apt-get install python3-venv"
extras=""
if [ "$APP_SERVER" = uwsgi ]; then
  extras="[uwsgi]"
  command -v gcc >/dev/null || fail "APP_SERVER=uwsgi compiles uWSGI, and gcc is missing: apt-get install gcc python3-dev"
  python3 -c 'import os, sysconfig; exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
    || fail "APP_SERVER=uwsgi compiles uWSGI, and Python's headers are missing: apt-get install python3-dev"
fi

id -u "$user" >/dev/null 2>&1 \
  || useradd --system --home-dir "$code" --no-create-home --shell /usr/sbin/nologin "$user"

say "copying $APP_DIR to $code (owned by root: the service reads it, never writes it)"
rm -rf "$code.new"
mkdir -p "$code.new"
cp -R "$APP_DIR/." "$code.new/"
find "$code.new" -name __pycache__ -prune -exec rm -rf {} +
chown -R root:root "$code.new"
chmod -R u+rwX,go+rX,go-w "$code.new"
rm -rf "$code.old"
[ ! -d "$code" ] || mv "$code" "$code.old"
mv "$code.new" "$code"
rm -rf "$code.old"

say "installing flaskobs and the app's requirements into $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# shellcheck disable=SC2086  # PIP_INSTALL_ARGS is a list of arguments
"$venv/bin/pip" install -q --disable-pip-version-check $PIP_INSTALL_ARGS \
  -c "$checkout/requirements.txt" "$checkout$extras" -r "$code/requirements.txt"

install -d -m 0700 "$settings"
if [ ! -e "$settings/app.env" ]; then
  say "writing $settings/app.env (0600) with a new SECRET_KEY; your settings and secrets go there"
  umask_was=$(umask)
  umask 077
  cat > "$settings/app.env" <<ENV
# Read by systemd (as root) for flaskobs-app.service: the README's settings tables. Mode 0600.
APP_MODULE=$APP_MODULE
APP_SERVER=$APP_SERVER
APP_ENV=production
SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')
# Nginx is the one trusted hop in front; the app and its metrics listen on loopback only.
GUNICORN_BIND=127.0.0.1:8000
METRICS_HOST=127.0.0.1
PROXY_FIX_X_FOR=1
PROXY_FIX_X_PROTO=1
PROXY_FIX_X_HOST=1
PROXY_FIX_X_PREFIX=1
# The one folder the service may write to (StateDirectory); the demo keeps its database there.
DATABASE_URL=sqlite:////var/lib/flaskobs-app/app.db
ENV
  umask "$umask_was"
else
  chmod 0600 "$settings/app.env"
  kept=""
  write_setting() {  # NAME VALUE: replaces NAME's line in app.env
    grep -v "^$1=" "$settings/app.env" > "$settings/app.env.new" || true
    echo "$1=$2" >> "$settings/app.env.new"
    chmod 0600 "$settings/app.env.new" && mv "$settings/app.env.new" "$settings/app.env"
    kept="$kept, with $1=$2"
  }
  [ -z "$module_given" ] || write_setting APP_MODULE "$APP_MODULE"
  [ -z "$server_given" ] || write_setting APP_SERVER "$APP_SERVER"
  say "keeping $settings/app.env$kept"
fi

install -m 0644 "$here/flaskobs-app.service" /etc/systemd/system/flaskobs-app.service
systemctl daemon-reload
systemctl enable -q flaskobs-app
systemctl restart flaskobs-app

say "rendering the Nginx site from $checkout/services/nginx/config"
rm -rf /etc/nginx/flaskobs
cp -R "$checkout/services/nginx/config" /etc/nginx/flaskobs
chmod -R u+rwX,go+rX,go-w /etc/nginx/flaskobs
if [ "$TLS" = on ] && [ ! -e /etc/nginx/certs/tls.crt ]; then
  say "no certificate in /etc/nginx/certs: making a self-signed one for $SERVER_NAME (put yours there: tls.crt, tls.key)"
  install -d -m 0755 /etc/nginx/certs
  san=""
  for name in $SERVER_NAME; do
    case "$name" in *[!0-9.]*) kind=DNS ;; *) kind=IP ;; esac
    san="${san:+$san,}$kind:$name"
  done
  (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=${SERVER_NAME%% *}" \
     -addext "subjectAltName=$san" -keyout /etc/nginx/certs/tls.key -out /etc/nginx/certs/tls.crt 2>/dev/null)
  chmod 0644 /etc/nginx/certs/tls.crt
fi
# Debian's default site is the default server on port 80, as ours is.
if [ -e /etc/nginx/sites-enabled/default ] && [ "$HTTP_PORT" = 80 ]; then
  say "disabling Debian's default site (/etc/nginx/sites-enabled/default), which also claims port 80"
  rm -f /etc/nginx/sites-enabled/default
fi
# Nginx speaks uwsgi_pass to uWSGI (APP_PROTOCOL follows APP_SERVER), proxy_pass to Gunicorn.
APP_UPSTREAM=127.0.0.1:8000 APP_SERVER=$APP_SERVER TLS=$TLS SERVER_NAME=$SERVER_NAME \
  PUBLIC_HTTP_PORT=$HTTP_PORT PUBLIC_HTTPS_PORT=$HTTPS_PORT \
  NGINX_HTTP_LISTEN=$HTTP_PORT NGINX_HTTPS_LISTEN=$HTTPS_PORT NGINX_INTERNAL_LISTEN=127.0.0.1:8081 \
  NGINX_ACCESS_LOG=/var/log/nginx/flaskobs-access.json NGINX_ACCESS_LOG_FILE=off \
  sh /etc/nginx/flaskobs/render.sh true
systemctl enable -q nginx
systemctl reload-or-restart nginx

# Ready when Nginx and the app both answer (the server tells systemd it is ready: Type=notify);
# flaskobs's health check asks the app in the protocol it speaks.
app_ready() {
  APP_SERVER=$APP_SERVER GUNICORN_BIND=127.0.0.1:8000 "$venv/bin/python" -m flaskobs.healthcheck /readyz 2>/dev/null
}
for _ in $(seq 60); do
  if curl -fsS -o /dev/null http://127.0.0.1:8081/nginx-health && app_ready; then
    if [ "$TLS" = on ]; then url=https://${SERVER_NAME%% *}; [ "$HTTPS_PORT" = 443 ] || url=$url:$HTTPS_PORT
    else url=http://${SERVER_NAME%% *}; [ "$HTTP_PORT" = 80 ] || url=$url:$HTTP_PORT; fi
    say "done: $url/ (logs: journalctl -u flaskobs-app; metrics: http://127.0.0.1:9101/metrics)"
    exit 0
  fi
  sleep 1
done
systemctl --no-pager status flaskobs-app nginx >&2 || true
fail "the app or Nginx did not answer within 60 s (above: their status)"
