"""flaskobs-serve hands Docker secrets (X_FILE in /run/secrets) to any app as X."""

import pytest

from flaskobs.serve import secrets_from_files


def test_a_secret_file_becomes_the_variable(tmp_path):
    (tmp_path / "secret_key").write_text("s3cret-value\n")
    env = {"SECRET_KEY_FILE": f"{tmp_path}/secret_key"}
    assert secrets_from_files(env, str(tmp_path)) == ["SECRET_KEY"]
    assert env["SECRET_KEY"] == "s3cret-value"  # noqa: S105  # the test's own value


def test_a_set_variable_wins_and_other_files_are_left_alone(tmp_path):
    (tmp_path / "secret_key").write_text("from-file")
    env = {"SECRET_KEY": "from-env", "SECRET_KEY_FILE": f"{tmp_path}/secret_key",
           "LOG_FILE": "/var/log/app.log", "APP_SETTINGS_FILE": "/home/me/.env", "_FILE": f"{tmp_path}/x"}
    assert secrets_from_files(env, str(tmp_path)) == []
    assert env["SECRET_KEY"] == "from-env"  # noqa: S105  # the test's own value
    assert "LOG" not in env and "APP_SETTINGS" not in env


def test_an_unreadable_secret_is_named(tmp_path):
    env = {"DATABASE_URL_FILE": f"{tmp_path}/missing"}
    with pytest.raises(ValueError, match=r"DATABASE_URL_FILE=.*cannot be read"):
        secrets_from_files(env, str(tmp_path))
