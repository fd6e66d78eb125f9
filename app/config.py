"""Settings from environment variables, parsed and checked once at start-up.

Every bad value raises ConfigError naming the variable and what it accepts,
so a typo in `.env` stops the container with a message instead of a stack trace.
"""

import os
import re
import secrets
from collections.abc import Mapping

ENVIRONMENTS = ("production", "development", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_WEAK_SECRETS = {"changeme", "secret", "dev", "development", "password", "flask", "default"}
MIN_SECRET_LENGTH = 32


class ConfigError(ValueError):
    """A setting has a value the app cannot run with."""


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name)
    return default if value is None or value == "" else value


def env_int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; allowed: {low}..{high}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is out of range; allowed: {low}..{high}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean; allowed: true, false, 1, 0, yes, no, on, off")


def env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...],
               *, fold=str.lower) -> str:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = fold(raw.strip())
    if value not in choices:
        raise ConfigError(f"{name}={raw!r} is not allowed; allowed: {', '.join(choices)}")
    return value


def check_secret_key(key: str | None) -> str:
    """Refuse a missing, short, repetitive or well-known SECRET_KEY."""
    if not key:
        raise ConfigError("SECRET_KEY is not set; production needs at least "
                          f"{MIN_SECRET_LENGTH} random characters (`make init` writes one to .env)")
    if (len(key) < MIN_SECRET_LENGTH or key.lower() in _WEAK_SECRETS
            or len(set(key)) < 10):
        raise ConfigError(f"SECRET_KEY is too weak; use at least {MIN_SECRET_LENGTH} random "
                          "characters, for example `python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`")
    return key


def check_database_url(url: str) -> str:
    """Parse DATABASE_URL with SQLAlchemy so a typo fails before the first request."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        make_url(url).get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"DATABASE_URL names a database this image cannot use ({exc}); "
                          "supported here: sqlite, or install the driver for your database") from None
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"DATABASE_URL is not a valid SQLAlchemy URL ({exc}); "
                          "example: sqlite:////var/lib/app/data/app.db or "
                          "postgresql+psycopg://user:pw@db/app") from None
    return url


_REQUEST_ID_RE = re.compile(r"\A[A-Za-z0-9._:-]{1,128}\Z")


def identity(env: Mapping[str, str]) -> dict:
    """Which service this is: the part of the config every log line carries. Also read on its
    own by Gunicorn's logger, which is built in the master before any app exists."""
    return {
        "APP_ENV": env_choice(env, "APP_ENV", "production", ENVIRONMENTS),
        "SERVICE_NAME": env_str(env, "SERVICE_NAME", "flask-app"),
        "APP_VERSION": env_str(env, "APP_VERSION", "dev"),
    }


def load(env: Mapping[str, str] | None = None, instance_path: str = ".") -> dict:
    """Return the Flask config mapping built from `env` (default: os.environ)."""
    env = os.environ if env is None else env
    ident = identity(env)
    app_env = ident["APP_ENV"]
    production = app_env == "production"
    secret = env.get("SECRET_KEY") or None
    if production:
        check_secret_key(secret)
    elif not secret:
        secret = secrets.token_urlsafe(48)  # fine for dev and tests: sessions die with the process
    default_db = "sqlite:///" + os.path.join(os.path.abspath(instance_path), "app.db")
    return {
        **ident,
        "DEBUG": False if production else env_bool(env, "FLASK_DEBUG", False),
        "TESTING": app_env == "test",
        "SECRET_KEY": secret,
        "DATABASE_URL": check_database_url(env_str(env, "DATABASE_URL", default_db)),
        "MAX_CONTENT_LENGTH": env_int(env, "MAX_CONTENT_LENGTH", 1024 * 1024, low=1024, high=1 << 30),
        "PROXY_FIX_X_FOR": env_int(env, "PROXY_FIX_X_FOR", 0, low=0, high=10),
        "PROXY_FIX_X_PROTO": env_int(env, "PROXY_FIX_X_PROTO", 0, low=0, high=10),
        "PROXY_FIX_X_HOST": env_int(env, "PROXY_FIX_X_HOST", 0, low=0, high=10),
        "PROXY_FIX_X_PREFIX": env_int(env, "PROXY_FIX_X_PREFIX", 0, low=0, high=10),
        "SESSION_COOKIE_SECURE": env_bool(env, "SESSION_COOKIE_SECURE", False),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "METRICS_ENABLED": env_bool(env, "METRICS_ENABLED", True),
        "LOG_LEVEL": env_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS, fold=str.upper),
        "LOGSTASH_HOST": env_str(env, "LOGSTASH_HOST", ""),
        "LOGSTASH_PORT": env_int(env, "LOGSTASH_PORT", 5959, low=1, high=65535),
        "LOG_SHIP_ACCESS": env_bool(env, "LOG_SHIP_ACCESS", False),
        "LOG_QUEUE_DIR": env_str(env, "LOG_QUEUE_DIR", os.path.join(os.path.abspath(instance_path), "log-queue")),
        "LOG_QUEUE_MAX_EVENTS": env_int(env, "LOG_QUEUE_MAX_EVENTS", 200_000, low=100, high=100_000_000),
        "LOG_EVENT_TTL": env_int(env, "LOG_EVENT_TTL", 7 * 24 * 3600, low=60, high=365 * 24 * 3600),
    }


def valid_request_id(value: str | None) -> bool:
    return bool(value) and _REQUEST_ID_RE.match(value) is not None
