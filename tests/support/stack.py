"""Start a compose stack of this repo with testcontainers, the way `make up` does."""

import contextlib
import dataclasses
import functools
import json
import os
import re
import subprocess
from pathlib import Path

from testcontainers.compose import DockerCompose

from .docker import COMPOSE_FILE, ROOT, env_files, write_test_env
from .gunicorn import free_port

TEST_OVERLAY = "tests/integration/compose.test.yaml"


@dataclasses.dataclass
class ProjectCompose(DockerCompose):
    """DockerCompose pinned to one project with `-p`. testcontainers 4.15 has no project setting, so
    every command took COMPOSE_PROJECT_NAME from the environment, and a stack started while another
    ran (a second module fixture) redirected the first one's commands to itself."""

    project: str = ""

    @functools.cached_property
    def compose_command_property(self) -> list[str]:
        binary, compose, *rest = DockerCompose.compose_command_property.func(self)
        return [binary, compose, "-p", self.project, *rest]
_PREFIX = re.compile(r"^\S+\s+\| ?")  # "app-1  | " in front of each line of `compose logs`


class Stack:
    """A running compose project: testcontainers' DockerCompose, and what the tests read from it."""

    def __init__(self, compose: DockerCompose, env_file: Path):
        self.compose = compose
        self.env_file = env_file
        self.env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)

    def url(self, service: str, port: int, scheme: str = "http") -> str:
        host, published = self.compose.get_service_host_and_port(service, port)
        return f"{scheme}://{host}:{published}"

    def logs(self, *services: str) -> str:
        stdout, _ = self.compose.get_logs(*services)
        return "\n".join(_PREFIX.sub("", line) for line in stdout.splitlines())

    def json_logs(self, *services: str) -> list[dict]:
        """Every JSON line the services printed."""
        lines = []
        for line in self.logs(*services).splitlines():
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(ValueError):
                    lines.append(json.loads(line))
        return lines

    def exec(self, service: str, *command: str) -> str:
        """Run a command in the service's container; its stdout (a non-zero exit fails the test)."""
        stdout, _, _ = self.compose.exec_in_container(list(command), service)
        return stdout

    def addresses(self, service: str) -> list[str]:
        """The container's IPv4 addresses on its networks: what anyone on the host can connect to."""
        container = self.compose.get_container(service).ID
        out = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
                              container], capture_output=True, text=True, check=True).stdout
        return out.split()

    def health(self, service: str) -> str:
        return self.compose.get_container(service).Health

    def service(self, action: str, service: str) -> None:
        """`docker compose stop|start SERVICE` (DockerCompose has these for the whole project only)."""
        subprocess.run([*self.compose.compose_command_property, action, service], cwd=ROOT, check=True,
                       capture_output=True)


@contextlib.contextmanager
def compose_stack(name: str, profiles: list[str], workdir: Path, services: list[str] | None = None,
                  extra_files: tuple[str, ...] = (), **env):
    """Build and start the stack (`up --build --wait`), yield a Stack, always tear it down."""
    # Nginx's host ports, chosen here rather than by Docker: the app's links carry the public port,
    # which is the published one (PUBLIC_HTTPS_PORT defaults to HTTPS_PORT).
    env.setdefault("HTTP_PORT", str(free_port()))
    env.setdefault("HTTPS_PORT", str(free_port()))
    env_file = write_test_env(workdir, **env)
    project = f"flaskobs-test-{name}-{os.getpid()}"
    files = [COMPOSE_FILE, *extra_files, TEST_OVERLAY]
    saved = dict(os.environ)
    if (ROOT / ".airgap.env").exists():
        os.environ["DOCKER_BUILDKIT"] = "0"  # the classic builder never asks a registry for FROM
    compose = ProjectCompose(context=str(ROOT), compose_file_name=files, env_file=[*env_files(), str(env_file)],
                             profiles=profiles, services=services, build=True, wait=True, pull=False, project=project)
    stack = Stack(compose, env_file)
    try:
        try:
            compose.start()
        except subprocess.CalledProcessError as exc:
            logs = subprocess.run([*compose.compose_command_property, "logs", "--no-color", "--tail=80"], cwd=ROOT,
                                  capture_output=True, text=True).stdout
            raise AssertionError(f"stack {name} did not become healthy:\n{exc.stderr}\n--- logs ---\n{logs}") from exc
        yield stack
    finally:
        compose.services = None  # down takes the whole project, one-shot services and networks too
        with contextlib.suppress(subprocess.CalledProcessError):
            compose.stop(down=True)
        os.environ.clear()
        os.environ.update(saved)
