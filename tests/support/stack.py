"""Start a compose stack of this repo with testcontainers, the way `make up` does."""

import contextlib
import json
import os
import re
import subprocess
from pathlib import Path

from testcontainers.compose import DockerCompose

from .docker import COMPOSE_FILE, ROOT, env_files, write_test_env

TEST_OVERLAY = "tests/integration/compose.test.yaml"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class Stack:
    """A running compose project, with the helpers the tests need."""

    def __init__(self, compose: DockerCompose, project: str, cmd: list[str]):
        self.compose = compose
        self.project = project
        self._cmd = cmd

    def url(self, service: str, port: int, scheme: str = "http") -> str:
        host, published = self.compose.get_service_host_and_port(service, port)
        return f"{scheme}://{host}:{published}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a `docker compose` subcommand against this project."""
        return subprocess.run([*self._cmd, *args], cwd=ROOT, capture_output=True, text=True, check=check)

    def logs(self, *services: str) -> str:
        out = self.run("logs", "--no-color", "--no-log-prefix", *services).stdout
        return _ANSI.sub("", out)

    def json_logs(self, *services: str) -> list[dict]:
        """Every JSON line the services printed."""
        lines = []
        for line in self.logs(*services).splitlines():
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(line))
        return lines

    def exec(self, service: str, *command: str) -> subprocess.CompletedProcess:
        return self.run("exec", "-T", service, *command, check=False)


@contextlib.contextmanager
def compose_stack(name: str, profiles: list[str], workdir: Path, services: list[str] | None = None,
                  extra_files: tuple[str, ...] = (), environment: dict[str, str] | None = None, **env):
    """Build and start the stack (`up --build --wait`), yield a Stack, always tear it down."""
    env_file = write_test_env(workdir, **env)
    project = f"flaskobs-test-{name}-{os.getpid()}"
    files = [COMPOSE_FILE, *extra_files, TEST_OVERLAY]
    all_env = [*env_files(), str(env_file)]
    saved = dict(os.environ)
    os.environ.update({"COMPOSE_PROJECT_NAME": project, **(environment or {})})
    if (ROOT / ".airgap.env").exists():
        os.environ["DOCKER_BUILDKIT"] = "0"  # the classic builder never asks a registry for FROM
    cmd = ["docker", "compose", "-p", project]
    for f in files:
        cmd += ["-f", f]
    for e in all_env:
        cmd += ["--env-file", e]
    compose = DockerCompose(context=str(ROOT), compose_file_name=files, env_file=all_env,
                            profiles=profiles, services=services, build=True, wait=True, pull=False)
    stack = Stack(compose, project, cmd)
    stack.env_file = env_file
    try:
        try:
            compose.start()
        except subprocess.CalledProcessError as exc:
            logs = stack.run("logs", "--no-color", "--tail=80", check=False).stdout
            raise AssertionError(f"stack {name} did not become healthy:\n{exc.stderr}\n--- logs ---\n{logs}") from exc
        yield stack
    finally:
        subprocess.run([*cmd, "--profile", "app", "--profile", "full", "down", "--volumes", "--remove-orphans"],
                       cwd=ROOT, capture_output=True)
        os.environ.clear()
        os.environ.update(saved)
