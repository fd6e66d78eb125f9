"""`flaskobs-serve [gunicorn options]`: Gunicorn with flaskobs.gunicorn_conf, serving APP_MODULE.

It sets each X from X_FILE for the Docker secrets in /run/secrets (secrets_from_files), and empties
the multiprocess metrics directory before Gunicorn's Python starts: prometheus_client
picks its value class when it is first imported, and files left by a previous run would be
summed into the new counters. Without PROMETHEUS_MULTIPROC_DIR it makes a private one.
"""

import os
import shutil
import sys
import tempfile


def prepare_metrics_dir(env) -> str:
    directory = env.get("PROMETHEUS_MULTIPROC_DIR", "")
    if not directory:
        # A private directory (mkdtemp, 0700) in shared memory where there is some.
        shm = "/dev/shm"  # nosec B108
        base = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
        directory = env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="flaskobs-metrics-", dir=base)
        return directory
    os.makedirs(directory, exist_ok=True)
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)
    return directory


SECRETS_DIR = "/run/secrets"  # nosec B105  # where Docker mounts a service's secrets (a path, not a secret)


def secrets_from_files(env, directory: str = SECRETS_DIR) -> list[str]:
    """For each X_FILE naming a file in `directory` while X is unset, set X to the file's text,
    so an app that reads os.environ (any app, not only flaskobs's settings) gets its Docker
    secrets. Only that directory: other *_FILE settings (LOG_FILE=...) mean something else.
    Returns the names set; raises ValueError naming the variable when a file cannot be read."""
    prefix = directory.rstrip("/") + "/"
    done = []
    for name, path in sorted(env.items()):
        target = name.removesuffix("_FILE")
        if target in (name, "") or not path.startswith(prefix):
            continue  # not X_FILE, or not a Docker secret
        if env.get(target, "").strip():
            continue  # X itself wins
        try:
            with open(path) as f:
                env[target] = f.read().strip()
        except OSError as exc:
            raise ValueError(f"{name}={path!r} cannot be read ({exc.strerror}); "
                             f"check the secret is granted to this service") from None
        done.append(target)
    return done


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    env = dict(os.environ)
    try:
        secrets_from_files(env)
    except ValueError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
    try:
        prepare_metrics_dir(env)
    except OSError as exc:
        sys.stderr.write(f"configuration error: PROMETHEUS_MULTIPROC_DIR={env.get('PROMETHEUS_MULTIPROC_DIR')!r}: "
                         f"{exc.strerror}; it must be a writable directory\n")
        sys.exit(2)
    # Gunicorn reads FORWARDED_ALLOW_IPS from the environment itself, before our config file runs,
    # and its error names the value but not the variable: check it first, as the extension does.
    from .forwarded import read_setting
    from .settings import ConfigError
    try:
        read_setting(env, "FORWARDED_ALLOW_IPS")
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
    command = [sys.executable, "-m", "gunicorn", "-c", "python:flaskobs.gunicorn_conf", *argv]
    # Replaced by Gunicorn, which becomes the container's PID 1; no shell, fixed arguments.
    os.execve(sys.executable, command, env)  # noqa: S606  # nosec B606


if __name__ == "__main__":
    main()
