# Python runtime from Debian packages, the air-gapped stand-in for python:3-slim.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# Versions come from the Debian suite the image is built from (DEBIAN_SUITE, its mirror);
# exact pins would break at every point release of it (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/python3 /usr/local/bin/python
