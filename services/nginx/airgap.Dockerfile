# Nginx from Debian packages, laid out like the upstream image
# (config in /etc/nginx, logs to stdout/stderr, `nginx -g 'daemon off;'`), with njs as the
# upstream image has it (services/nginx/config/nginx.conf loads it, for both images).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# Versions come from the Debian suite the image is built from (NGINX_DEBIAN_SUITE, default the
# next release: scripts/airgap-images.sh says why); exact pins would break at every upload to it
# (DL3008). That suite's Release file expires within a week, and a mirror's snapshot of it may
# be older: its date is not checked, its signature still is.
# hadolint ignore=DL3008
RUN apt-get -o Acquire::Check-Valid-Until=false update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx-light libnginx-mod-http-js gettext-base curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default /etc/nginx/modules-enabled/*js.conf \
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
