# The build image: flaskobs and its pinned dependencies in /opt/venv, with pip able to reach
# the package index from this host (its CA bundle, when `make build-ca` found one). Every app
# image starts its dependency stage from it (app.Dockerfile); only /opt/venv leaves it.
# Context: the repository root (.dockerignore there lets through only what is copied here).
ARG PYTHON_IMAGE=python:3.13-slim-trixie
FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_DEFAULT_TIMEOUT=120
# uWSGI (APP_SERVER=uwsgi) compiles on install, as may packages in an app's requirements: a C
# compiler, and Python's headers where the image lacks them (Debian's Python; python:*-slim has
# them). Versions come from the image's Debian suite (DL3008); $packages is a list, split on purpose (SC2086).
# hadolint ignore=DL3008,SC2086
RUN packages="gcc libc6-dev" \
 && python3 -c 'import os, sys, sysconfig; sys.exit(not os.path.isfile(sysconfig.get_paths()["include"] + "/Python.h"))' \
   || packages="$packages python3-dev" \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages \
 && rm -rf /var/lib/apt/lists/*
ARG PIP_INDEX_URL=
# .build/ca.pem is optional (the bracket); it stays in this local-only image.
COPY requirements.txt .build/ca.pe[m] /etc/flaskobs-build/
COPY pyproject.toml /src/flaskobs/
COPY flaskobs /src/flaskobs/flaskobs
RUN printf '[global]\n' > /etc/pip.conf \
 && if [ -f /etc/flaskobs-build/ca.pem ]; then printf 'cert = /etc/flaskobs-build/ca.pem\n' >> /etc/pip.conf; fi \
 && if [ -n "$PIP_INDEX_URL" ]; then printf 'index-url = %s\n' "$PIP_INDEX_URL" >> /etc/pip.conf; fi \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install -q --no-deps -r /etc/flaskobs-build/requirements.txt \
 && /opt/venv/bin/pip install -q --no-deps /src/flaskobs \
 && /opt/venv/bin/pip check
# The app's requirements may not move flaskobs's pins: a conflict fails the build, naming both.
ENV PATH=/opt/venv/bin:$PATH PIP_CONSTRAINT=/etc/flaskobs-build/requirements.txt
CMD ["true"]
