# Python runtime from Debian packages, the air-gapped stand-in for python:3-slim. Debian's python3
# links libpython statically; uWSGI (APP_SERVER=uwsgi) needs it as the shared library too.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# Versions come from the Debian suite the image is built from (DEBIAN_SUITE, its mirror);
# exact pins would break at every point release of it (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "libpython$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python
