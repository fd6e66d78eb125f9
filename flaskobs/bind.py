"""Where Gunicorn listens: GUNICORN_BIND (host:port or unix:/path), else 0.0.0.0:PORT; the metrics
port (METRICS_PORT), which Waitress's launcher uses too; and the address the Gunicorn master serves
metrics on (METRICS_HOST). Shared by gunicorn_conf.py and the health check, which must agree; light
on imports, since the health check runs every few seconds."""

from collections.abc import Mapping

DEFAULT_PORT = 8000
DEFAULT_METRICS_PORT = 9101
# All interfaces: Prometheus scrapes from another container (the port is never published). A plain
# host (deploy/systemd) sets 127.0.0.1.
DEFAULT_METRICS_HOST = "0.0.0.0"  # nosec B104


def bind(env: Mapping[str, str]) -> str:
    explicit = (env.get("GUNICORN_BIND") or "").strip()
    return explicit or f"0.0.0.0:{port(env)}"


def port(env: Mapping[str, str]) -> int:
    from .settings import env_int
    return env_int(env, "PORT", DEFAULT_PORT, low=1, high=65535)


def listen_address(env: Mapping[str, str]) -> tuple[str, int]:
    host, _, number = bind(env).rpartition(":")
    return host, int(number)


def metrics_port(env: Mapping[str, str]) -> int:
    from .settings import env_int
    return env_int(env, "METRICS_PORT", DEFAULT_METRICS_PORT, low=1, high=65535)


def metrics_host(env: Mapping[str, str]) -> str:
    import ipaddress

    from .settings import ConfigError
    raw = (env.get("METRICS_HOST") or "").strip()
    if not raw:
        return DEFAULT_METRICS_HOST
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        raise ConfigError(f"METRICS_HOST={raw!r} is not an IP address; examples: 127.0.0.1, 0.0.0.0, ::1") from None
