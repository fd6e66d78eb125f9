"""A real multi-node Docker Swarm for the tests: each node a Docker engine in a container
(services/swarm-node), on one bridge network of the host's engine, reached through its own
socket (a host folder mounted into the node). No registry: images are loaded into every node
with `docker save` once and `docker load`, and each node's engine prefers them (the node image)."""

import concurrent.futures
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from support.docker import ROOT, image_vars
from support.waiting import wait_until

NODE_IMAGE = "flaskobs-test/swarm-node:local"
# Without --privileged (this host lacks CAP_SYS_RESOURCE): every capability but that one, and
# the node's entrypoint remounts /sys and the cgroups read-write.
NODE_FLAGS = ("--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
              "--security-opt", "apparmor=unconfined", "--security-opt", "systempaths=unconfined",
              # Should anything still ask the registry, its name points nowhere.
              "--add-host", "registry-1.docker.io:127.0.0.1")


def run(*cmd: str, env: dict | None = None, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)[:300]} failed ({out.returncode}):\n"
                             f"{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    return out


def build_node_image() -> None:
    base = image_vars()["DEBIAN_IMAGE"]
    run("docker", "build", "-q", "--build-arg", f"BASE_IMAGE={base}", "-t", NODE_IMAGE,
        str(ROOT / "services/swarm-node"), env={**os.environ, "DOCKER_BUILDKIT": "0"}, timeout=900)


class Swarm:
    def __init__(self, nodes: int = 3, managers: int = 1):
        self.prefix = f"flaskobs-swarm-{uuid.uuid4().hex[:6]}"
        self.names = [f"{self.prefix}-n{i + 1}" for i in range(nodes)]
        self.managers = self.names[:managers]
        self.sockets = Path(tempfile.mkdtemp(prefix="flaskobs-swarm-"))
        self.network = self.prefix
        self._ips: dict[str, str] = {}

    # -- nodes -----------------------------------------------------------------------------------
    def start(self) -> "Swarm":
        build_node_image()
        run("docker", "network", "create", self.network)
        for name in self.names:
            self._start_node(name)
        manager = self.names[0]
        self.docker(manager, "swarm", "init", "--advertise-addr", "eth0")
        tokens = {role: self.docker(manager, "swarm", "join-token", "-q", role).stdout.strip()
                  for role in ("manager", "worker")}
        for name in self.names[1:]:
            role = "manager" if name in self.managers else "worker"
            self.docker(name, "swarm", "join", "--token", tokens[role], f"{self.ip(manager)}:2377")
        wait_until(lambda: self.ready_nodes() == len(self.names), 60, "every node Ready")
        return self

    def _start_node(self, name: str) -> None:
        (self.sockets / name).mkdir()
        run("docker", "run", "-d", "--name", name, "--hostname", name, "--network", self.network,
            *NODE_FLAGS, "-v", f"{self.sockets / name}:/run/ext",
            "-e", "DOCKERD_EXTRA_ARGS=--host=unix:///run/ext/docker.sock", NODE_IMAGE)
        wait_until(lambda: self.docker(name, "info", check=False).returncode == 0, 60, f"{name}'s engine")

    def env(self, name: str) -> dict:
        return {**os.environ, "DOCKER_HOST": f"unix://{self.sockets / name}/docker.sock"}

    def docker(self, name: str, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return run("docker", *args, env=self.env(name), check=check, timeout=timeout)

    def ip(self, name: str) -> str:
        """The node's address on the swarm's network (asked once: the load tests call this per request)."""
        if name not in self._ips:
            self._ips[name] = run("docker", "inspect", "-f",
                                  f"{{{{(index .NetworkSettings.Networks \"{self.network}\").IPAddress}}}}",
                                  name).stdout.strip()
        return self._ips[name]

    def ready_nodes(self) -> int:
        out = self.docker(self.names[0], "node", "ls", "--format", "{{.Status}}", check=False)
        return out.stdout.split().count("Ready")

    def label(self, name: str, *labels: str) -> None:
        for label in labels:
            self.docker(self.names[0], "node", "update", "--label-add", label, name)

    def load(self, *images: str) -> None:
        """Each image into every node: saved once, loaded in parallel."""
        archive = self.sockets / "images.tar"
        run("docker", "save", "-o", str(archive), *images, timeout=600)
        try:
            with concurrent.futures.ThreadPoolExecutor(len(self.names)) as pool:
                list(pool.map(lambda name: self._load(name, archive), self.names))
        finally:
            archive.unlink()

    def _load(self, name: str, archive: Path) -> None:
        with archive.open("rb") as f:
            out = subprocess.run(["docker", "load", "-q"], stdin=f, capture_output=True, text=True,
                                 env=self.env(name), timeout=600)
        assert out.returncode == 0, out.stderr

    def kill(self, name: str) -> None:
        """Lose a node at once, as a machine that loses power: its engine gets no chance to leave."""
        run("docker", "kill", name)

    def close(self) -> None:
        for name in self.names:
            run("docker", "rm", "-f", "-v", name, check=False)
        run("docker", "network", "rm", self.network, check=False)
        shutil.rmtree(self.sockets, ignore_errors=True)
