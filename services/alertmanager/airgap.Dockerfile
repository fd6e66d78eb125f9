# Alertmanager and amtool from Debian packages, with the upstream image's paths, user and entry
# point, so compose.yaml runs either image the same way.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# Versions come from the Debian suite the image is built from (DEBIAN_SUITE, its mirror);
# exact pins would break at every point release of it (DL3008).
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager wget \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s /usr/bin/prometheus-alertmanager /bin/alertmanager \
 && mkdir -p /alertmanager /etc/alertmanager && chown nobody:nogroup /alertmanager
# nobody, by number: an image may not resolve the name (DL3066)
USER 65534:65534
WORKDIR /alertmanager
EXPOSE 9093
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
