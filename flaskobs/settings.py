"""flaskobs's own settings: parsed and checked once, each with one default, in SPECS below.

Every bad value raises ConfigError naming the variable and what it accepts, so a typo in `.env`
stops the container with a message instead of a stack trace. A setting named X may also be
read from the file named by X_FILE (Docker's secrets convention); X itself wins when both are set.

The app's own configuration (SECRET_KEY, DEBUG, database URLs) is never read or written here,
only checked by the extension (extension.check_app_config).
"""

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields

ENVIRONMENTS = ("production", "development", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting has a value the app cannot run with."""


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    if value is not None and value.strip() != "":
        return value
    path = env.get(f"{name}_FILE")
    if not path:
        return value
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE={path!r} cannot be read ({exc.strerror}); "
                          f"point it at a readable file or unset it") from None


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    value = _raw(env, name)
    return default if value is None or value == "" else value


def env_int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    return _env_number(env, name, default, low, high, int, "a whole number")


def env_float(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    return _env_number(env, name, default, low, high, float, "a number")


def _env_number(env, name, default, low, high, kind, what):
    raw = _raw(env, name)
    if raw is None or raw.strip() == "":
        return default
    allowed = f"{kind(low)}..{kind(high)}" if kind is int else f"{low:g}..{high:g}"
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {what}; allowed: {allowed}") from None
    if not low <= value <= high:  # NaN fails too
        raise ConfigError(f"{name}={value} is out of range; allowed: {allowed}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _raw(env, name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; allowed: true, false, 1, 0, yes, no, on, off")


def env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...],
               *, fold: Callable[[str], str] = str.lower) -> str:
    raw = _raw(env, name)
    if raw is None or raw.strip() == "":
        return default
    value = fold(raw.strip())
    if value not in choices:
        raise ConfigError(f"{name}={raw!r} is not allowed; allowed: {', '.join(choices)}")
    return value


@dataclass(frozen=True)
class Spec:
    env: str
    read: Callable[[Mapping[str, str], str], object]
    doc: str


def _int(default: int, low: int, high: int):
    return lambda env, name: env_int(env, name, default, low=low, high=high)


def _float(default: float, low: float, high: float):
    return lambda env, name: env_float(env, name, default, low=low, high=high)


def _str(default: str):
    return lambda env, name: env_str(env, name, default)


def _bool(default: bool):
    return lambda env, name: env_bool(env, name, default)


def _forwarded():
    from . import forwarded  # it imports ConfigError from here
    return forwarded


def _choice(default: str, choices: tuple[str, ...], fold=str.lower):
    return lambda env, name: env_choice(env, name, default, choices, fold=fold)


# Each setting of the extension: option name (init_app keyword) -> environment variable, parser
# with its one default, meaning. README's settings table follows this one (a test compares them).
SPECS: dict[str, Spec] = {
    "app_env": Spec("APP_ENV", _choice("production", ENVIRONMENTS),
                    "production, development or test; production refuses a weak SECRET_KEY and DEBUG"),
    "service_name": Spec("SERVICE_NAME", _str("flask-app"), "the service field of every log line"),
    "app_version": Spec("APP_VERSION", _str("dev"), "on log lines and in flask_app_info"),
    # Set per replica by an orchestrator (Swarm: {{.Node.Hostname}}, {{.Task.Slot}}); empty: left out.
    "deploy_node": Spec("DEPLOY_NODE", _str(""), "the node label on metrics and node field on log lines"),
    "deploy_replica": Spec("DEPLOY_REPLICA", _str(""), "the replica label on metrics and log lines"),
    "proxy_fix_x_for": Spec("PROXY_FIX_X_FOR", _int(0, 0, 10), "trusted proxy hops for X-Forwarded-For"),
    "proxy_fix_x_proto": Spec("PROXY_FIX_X_PROTO", _int(0, 0, 10), "trusted hops for X-Forwarded-Proto"),
    "proxy_fix_x_host": Spec("PROXY_FIX_X_HOST", _int(0, 0, 10), "trusted hops for X-Forwarded-Host"),
    "proxy_fix_x_prefix": Spec("PROXY_FIX_X_PREFIX", _int(0, 0, 10), "trusted hops for X-Forwarded-Prefix"),
    "forwarded_allow_ips": Spec("FORWARDED_ALLOW_IPS", lambda env, name: _forwarded().read_setting(env, name),
                                "proxies whose forwarded headers count (Gunicorn's too): addresses or "
                                "networks, comma-separated, or *; a Unix socket's peer always counts"),
    "metrics_enabled": Spec("METRICS_ENABLED", _bool(True), "record and serve metrics"),
    "metrics_exemplars": Spec("METRICS_EXEMPLARS", _bool(True),
                              "the latest request id per latency bucket, served with OpenMetrics"),
    "log_level": Spec("LOG_LEVEL", _choice("INFO", LOG_LEVELS, fold=str.upper), "root log level"),
    "logstash_host": Spec("LOGSTASH_HOST", _str(""), "ship logs to this Logstash; empty: stdout only"),
    "logstash_port": Spec("LOGSTASH_PORT", _int(5959, 1, 65535), "Logstash's tcp json_lines input"),
    "log_ship_access": Spec("LOG_SHIP_ACCESS", _bool(False), "also ship Gunicorn's access line"),
    "log_queue_dir": Spec("LOG_QUEUE_DIR", _str(""), "the on-disk shipping queue; empty: <instance>/log-queue"),
    "log_queue_max_events": Spec("LOG_QUEUE_MAX_EVENTS", _int(200_000, 100, 100_000_000),
                                 "bound of the shipping queue per worker"),
    "log_event_ttl": Spec("LOG_EVENT_TTL", _int(7 * 24 * 3600, 60, 365 * 24 * 3600),
                          "seconds an undelivered event is kept"),
    "readiness_timeout": Spec("READINESS_TIMEOUT", _float(2.0, 0.1, 60.0),
                              "seconds /readyz waits for the readiness checks"),
    "json_errors": Spec("JSON_ERRORS", _bool(False), "answer every HTTP error with a JSON body"),
    "json_max_depth": Spec("JSON_MAX_DEPTH", _int(64, 1, 500),
                           "deepest nesting of a request's JSON body; deeper is a 400"),
}


@dataclass(frozen=True)
class Settings:
    app_env: str
    service_name: str
    app_version: str
    deploy_node: str
    deploy_replica: str
    proxy_fix_x_for: int
    proxy_fix_x_proto: int
    proxy_fix_x_host: int
    proxy_fix_x_prefix: int
    forwarded_allow_ips: str
    metrics_enabled: bool
    metrics_exemplars: bool
    log_level: str
    logstash_host: str
    logstash_port: int
    log_ship_access: bool
    log_queue_dir: str
    log_queue_max_events: int
    log_event_ttl: int
    readiness_timeout: float
    json_errors: bool
    json_max_depth: int

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    def static_fields(self) -> dict:
        """The fields every log line carries."""
        return {"service": self.service_name, "environment": self.app_env, "version": self.app_version,
                **_present(node=self.deploy_node, replica=self.deploy_replica)}


if set(SPECS) != {f.name for f in fields(Settings)}:  # one table, one dataclass: keep them in step
    raise RuntimeError("flaskobs.settings: SPECS and Settings name different settings")


def load(env: Mapping[str, str] | None = None, options: Mapping[str, object] | None = None,
         instance_path: str = ".") -> Settings:
    """Settings from `env` (default: os.environ), with `options` (init_app's keywords) winning.

    Options go through the same parsing as the environment, so `log_level="LOUD"` fails the
    same way `LOG_LEVEL=LOUD` does.
    """
    env = os.environ if env is None else env
    options = dict(options or {})
    unknown = sorted(options.keys() - SPECS.keys())
    if unknown:
        raise TypeError(f"unknown flaskobs option(s) {', '.join(unknown)}; allowed: {', '.join(SPECS)}")
    values = {}
    for key, spec in SPECS.items():
        if key in options:
            value = options[key]
            value = str(value).lower() if isinstance(value, bool) else str(value)
            values[key] = spec.read({spec.env: value}, spec.env)
        else:
            values[key] = spec.read(env, spec.env)
    if not values["log_queue_dir"]:
        values["log_queue_dir"] = os.path.join(os.path.abspath(instance_path), "log-queue")
    return Settings(**values)


def app_env(env: Mapping[str, str] | None = None) -> str:
    """APP_ENV (production, development or test), for apps that behave differently by it."""
    return SPECS["app_env"].read(os.environ if env is None else env, "APP_ENV")


def identity(env: Mapping[str, str] | None = None) -> dict:
    """The fields every log line carries, from the environment alone: Gunicorn's logger is
    built in the master, before any app exists."""
    env = os.environ if env is None else env
    return {"service": SPECS["service_name"].read(env, "SERVICE_NAME"),
            "environment": SPECS["app_env"].read(env, "APP_ENV"),
            "version": SPECS["app_version"].read(env, "APP_VERSION"),
            **deployment_labels(env)}


def deployment_labels(env: Mapping[str, str] | None = None) -> dict:
    """Which node and replica this is ({"node": ..., "replica": ...}, the ones set): labels on
    every metric and fields on every log line, so replicas are told apart and summed."""
    env = os.environ if env is None else env
    return _present(node=SPECS["deploy_node"].read(env, "DEPLOY_NODE"),
                    replica=SPECS["deploy_replica"].read(env, "DEPLOY_REPLICA"))


def _present(**labels: str) -> dict:
    return {key: value for key, value in labels.items() if value}
