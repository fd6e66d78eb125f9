# The app image, for any Flask app: its code and requirements.txt come from APP_DIR (the build
# context), flaskobs and its pinned dependencies from the build image (build.Dockerfile).
# Gunicorn serves APP_MODULE through flaskobs-serve; the process runs as uid 10001.
ARG BUILD_IMAGE=flaskobs/app-build:local
ARG PYTHON_IMAGE=python:3.13-slim-trixie

FROM ${BUILD_IMAGE} AS source
ARG APP_DIR=app
COPY . /src/
RUN test -f /src/requirements.txt || { echo "build: APP_DIR=$APP_DIR has no requirements.txt; add one listing the packages your app imports (it may be empty)" >&2; exit 1; }

# A layer of its own, rebuilt only when requirements.txt changes. Lines naming flaskobs (a
# version, or the path to a local checkout) are left out: the image brings it.
FROM ${BUILD_IMAGE} AS deps
COPY --from=source /src/requirements.txt /tmp/app/requirements.txt
# The pipe only reports what is left out; its status is not wanted (DL4006).
# hadolint ignore=DL4006
RUN grep -iE '^[^#]*flaskobs' /tmp/app/requirements.txt | sed 's/^/build: left out (the image brings flaskobs): /' || true; \
    grep -viE '^[^#]*flaskobs' /tmp/app/requirements.txt > /tmp/app/wanted.txt; \
    pip install -q --no-cache-dir -r /tmp/app/wanted.txt && pip check

FROM ${PYTHON_IMAGE}
ARG APP_VERSION=dev
RUN (command -v useradd >/dev/null && useradd --system --uid 10001 --home-dir /srv/app --shell /usr/sbin/nologin app) \
 || (echo 'app:x:10001:10001::/srv/app:/usr/sbin/nologin' >> /etc/passwd && echo 'app:x:10001:' >> /etc/group) \
 && mkdir -p /var/lib/app/data /var/lib/app/log-queue /run/metrics \
 && chown -R 10001:10001 /var/lib/app /run/metrics
COPY --from=deps /opt/venv /opt/venv
WORKDIR /srv/app
COPY --from=source /src /srv/app
# Flask's default instance folder (next to the app's package) is the data volume, so SQLite
# files and the like in `instance/` survive restarts; a local instance/ never ships.
RUN rm -rf /srv/app/instance && ln -s /var/lib/app/data /srv/app/instance \
 && /opt/venv/bin/python -m compileall -q /srv/app
# Container layout, not tunable settings: the tmpfs and volumes compose.yaml mounts.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APP_VERSION=${APP_VERSION} \
    LOG_QUEUE_DIR=/var/lib/app/log-queue \
    PROMETHEUS_MULTIPROC_DIR=/run/metrics
USER 10001:10001
EXPOSE 8000 9101
VOLUME ["/var/lib/app/data", "/var/lib/app/log-queue"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["python3", "-m", "flaskobs.healthcheck"]
CMD ["flaskobs-serve"]
