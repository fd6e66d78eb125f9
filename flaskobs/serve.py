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
    from .delayed_stop import shutdown_delay
    from .settings import env_choice
    try:
        server = env_choice(env, "APP_SERVER", "gunicorn", APP_SERVERS)
        if server == "uwsgi":
            executable, command = uwsgi_command(env, argv)
        else:
            # A proxy set to speak uwsgi to Gunicorn would get nothing but errors: refuse at start.
            if env_choice(env, "APP_PROTOCOL", "http", ("http", "uwsgi")) != "http":
                raise ConfigError("APP_PROTOCOL=uwsgi needs APP_SERVER=uwsgi; Gunicorn speaks http only")
            executable, command = sys.executable, [sys.executable, "-m", "gunicorn", "-c",
                                                   "python:flaskobs.gunicorn_conf", *argv]
        delay = shutdown_delay(env)
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
    if server == "uwsgi":  # uWSGI's parent stops it safely and holds a stop back (delayed_stop.py)
        from .delayed_stop import run
        from .uwsgi_conf import master_fifo
        sys.exit(run(executable, command, env, delay, master_fifo(env), keep_fds=(int(env[STDOUT_FD_VAR]),)))
    # Replaced by the server, which becomes the container's PID 1; no shell, fixed arguments.
    os.execve(executable, command, env)  # noqa: S606  # nosec B606


APP_SERVERS = ("gunicorn", "uwsgi")


def uwsgi_command(env, argv: list[str]) -> tuple[str, list[str]]:
    """uWSGI's binary (beside this Python, from `pip install 'flaskobs[uwsgi]'`) and command."""
    from .settings import ConfigError
    from .uwsgi_conf import command
    uwsgi = os.path.join(os.path.dirname(sys.executable), "uwsgi")
    if not os.access(uwsgi, os.X_OK):
        raise ConfigError(f"APP_SERVER=uwsgi needs uWSGI, which is not installed beside {sys.executable}: "
                          "pip install 'flaskobs[uwsgi]' (it compiles: a C compiler and Python's headers)")
    # uWSGI sends its processes' stdout through its log encoder (uwsgi_conf.py), which would wrap
    # the app's JSON lines in its own; the workers write them to this copy of stdout instead.
    copy = os.dup(1)
    os.set_inheritable(copy, True)  # uWSGI keeps inherited descriptors open for its workers
    env[STDOUT_FD_VAR] = str(copy)
    return uwsgi, [*command(env, uwsgi), *argv]


STDOUT_FD_VAR = "FLASKOBS_STDOUT_FD"


if __name__ == "__main__":
    main()
