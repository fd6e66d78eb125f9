"""The demo's own settings (flaskobs reads its own): parsed once, each bad value named."""

import os
import secrets
from collections.abc import Mapping

from flaskobs.settings import ConfigError, app_env, env_bool, env_int, env_str


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


def from_env(env: Mapping[str, str], instance_path: str) -> dict:
    """Flask config for the demo. Without SECRET_KEY it makes a throwaway one, except in
    production, where flaskobs refuses to serve without a strong key."""
    production = app_env(env) == "production"
    secret = env_str(env, "SECRET_KEY", "") or (None if production else secrets.token_urlsafe(48))
    default_db = "sqlite:///" + os.path.join(os.path.abspath(instance_path), "app.db")
    return {
        "SECRET_KEY": secret,
        "DEBUG": False if production else env_bool(env, "FLASK_DEBUG", False),
        "DATABASE_URL": check_database_url(env_str(env, "DATABASE_URL", default_db)),
        "MAX_CONTENT_LENGTH": env_int(env, "MAX_CONTENT_LENGTH", 1024 * 1024, low=1024, high=1 << 30),
        "SESSION_COOKIE_SECURE": env_bool(env, "SESSION_COOKIE_SECURE", False),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
    }
