# A TEST DOUBLE of a plain Debian host run by systemd, for tests/integration/test_systemd_host.py:
# systemd as PID 1, Debian's Nginx with njs, Python with venv, and a local wheelhouse of what
# deploy/systemd/install.sh installs (the test runs it with PIP_INSTALL_ARGS pointing there,
# since the container may reach no index). Built from PYTHON_IMAGE, a Debian image either way.
ARG PYTHON_IMAGE
FROM ${PYTHON_IMAGE}
# Versions come from the Debian suite of the base image (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd systemd-sysv dbus \
      nginx-light libnginx-mod-http-js gettext-base openssl curl ca-certificates python3-venv procps \
      gcc libc6-dev python3-dev \
 && rm -rf /var/lib/apt/lists/* \
 && systemctl mask getty.target systemd-logind.service console-getty.service systemd-udevd.service \
      systemd-networkd.service systemd-resolved.service systemd-modules-load.service
COPY requirements.txt app-requirements.txt ca.pe[m] /wheels-src/
RUN if [ -f /wheels-src/ca.pem ]; then export PIP_CERT=/wheels-src/ca.pem; fi \
 && python3 -m venv /tmp/download \
 && /tmp/download/bin/pip download -q --disable-pip-version-check -d /wheels \
      -r /wheels-src/requirements.txt -r /wheels-src/app-requirements.txt "setuptools>=68" wheel \
 && rm -rf /tmp/download
COPY boot.sh /usr/local/sbin/boot.sh
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/bin/sh", "/usr/local/sbin/boot.sh"]
