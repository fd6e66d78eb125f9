# Prometheus and promtool from Debian packages, with the upstream image's paths and user.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# Versions come from the Debian suite the image is built from (DEBIAN_SUITE, its mirror);
# exact pins would break at every point release of it (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus promtool wget ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /prometheus /etc/prometheus && chown nobody:nogroup /prometheus
# nobody, by number: an image may not resolve the name (DL3066)
USER 65534:65534
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
