"""Write a Docker Swarm stack file from the Compose model (`make swarm-stack`).

Reads `docker compose -f compose/compose.yaml -f compose/swarm.yaml config --format json` on
stdin, so images, settings and health checks come from compose.yaml alone, and writes
OUT/stack.yml for `docker stack deploy`. What Swarm does differently (compose/swarm.yaml's
x-swarm says which services and files it applies to):
- files from this checkout become Docker configs, one per file, named by their content (a
  config cannot change; a new content is a new config, rolled out like a new image);
- passwords become Docker secrets (files under OUT/secrets, 0600: `make swarm-deploy` deletes
  them once deployed), and the service reads the variable that names the file;
- the one-shot steps' outputs (alertmanager.yml, the SLO rules) are rendered here, by the same
  scripts, from the same settings; with Logstash in the stack, the app and Nginx get what the
  shipping-on step tells them under Compose;
- ports are published in host mode on the node a task runs on; ports Compose binds to loopback
  (Prometheus, Grafana...) are not published at all: Swarm cannot bind to a node's loopback;
- mem_limit and restart take their Swarm form, tmpfs mounts become anonymous volumes; build,
  depends_on, profiles, pull_policy, security_opt and expose have none and are left out.
Stdlib only: it runs with the python3 that runs make. Errors name the setting and exit 2.
"""

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from scripts.preflight import RENDERERS, load_script  # noqa: E402

KEEP = ("image", "command", "entrypoint", "environment", "healthcheck", "deploy", "read_only", "user",
        "stop_grace_period", "stop_signal", "ulimits", "init", "cap_add", "cap_drop", "working_dir", "labels")
RESTART = {"always": "any", "unless-stopped": "any", "on-failure": "on-failure", "no": "none"}
LOOPBACK = ("127.", "::1", "localhost")


class StackError(ValueError):
    """The Compose model cannot run on Swarm as it is set."""


class Stack:
    def __init__(self, model: dict, out: Path):
        self.model = model
        self.rules = model.get("x-swarm") or {}
        self.out = out
        self.configs: dict[str, dict] = {}
        self.secrets: dict[str, dict] = {}
        self.volumes: set[str] = set()
        self.notes: list[str] = []

    # -- configs and secrets, named by content ---------------------------------------------------
    def _key(self, label: str, data: bytes) -> str:
        words = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").split("-")
        while len("-".join(words)) > 40 and len(words) > 1:  # the file's end names it best
            words.pop(0)
        slug = "-".join(words)[-40:]
        return f"{slug}-{hashlib.sha256(data).hexdigest()[:10]}"

    def config_from_file(self, path: Path, label: str) -> str:
        key = self._key(label, path.read_bytes())
        self.configs[key] = {"file": str(path)}
        return key

    def config_from_text(self, text: str, label: str, filename: str) -> str:
        data = text.encode()
        key = self._key(label, data)
        path = self.out / "configs" / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.configs[key] = {"file": str(path)}
        return key

    def secret(self, data: bytes, label: str) -> str:
        key = self._key(label, data)
        directory = self.out / "secrets"
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        self.secrets[key] = {"file": str(path)}
        return key

    # -- services --------------------------------------------------------------------------------
    def service(self, name: str, svc: dict) -> dict:
        out = {k: svc[k] for k in KEEP if svc.get(k) not in (None, [], {})}
        env = {k: v for k, v in (svc.get("environment") or {}).items() if v not in (None, "")}
        if "logstash" in self.model["services"]:  # what compose.yaml's shipping-on step says
            for var, value in ((self.rules.get("shipping-on") or {}).get(name) or {}).items():
                if env.get(var, "auto") == "auto":
                    env[var] = value
        configs, secrets, mounts = [], [], []
        for var, file_var in (self.rules.get("secrets") or {}).get(name, {}).items():
            value = env.pop(var, "")
            if not value:
                raise StackError(f"{name}: {var} is not set; run `make init` or set it in .env")
            secrets.append({"source": self.secret(value.encode(), f"{name}-{var}"), "target": var})
            env[file_var] = f"/run/secrets/{var}"
        for volume in svc.get("volumes") or []:
            self._mount(name, volume, configs, secrets, mounts)
        # A stack's tmpfs is root's, 0755, whatever its options say (docker stack drops them): the
        # app could not write its metrics or /tmp there. An anonymous volume starts as a copy of the
        # image's folder, owner and mode included, and goes with the task's container.
        for spec in svc.get("tmpfs") or []:
            mounts.append({"type": "volume", "target": spec.split(":", 1)[0]})
        if name == "app" and "FORWARDED_ALLOW_IPS" not in env:
            env["FORWARDED_ALLOW_IPS"] = self.subnet()  # Nginx's replicas are on the stack's network
        out["environment"] = env
        if configs:
            out["configs"] = configs
        if secrets:
            out["secrets"] = secrets
        if mounts:
            out["volumes"] = mounts
        ports = [p for p in (self._port(name, port) for port in svc.get("ports") or []) if p]
        if ports:
            out["ports"] = ports
        out["networks"] = sorted(svc.get("networks") or {"default": None})
        out["deploy"] = self._deploy(svc)
        return out

    def _mount(self, name, volume, configs, secrets, mounts) -> None:
        kind, source, target = volume["type"], volume.get("source", ""), volume["target"]
        rendered = (self.rules.get("rendered") or {}).get(source)  # "config" or "secret"
        if kind == "volume" and source in (self.rules.get("drop-volumes") or []):
            return
        if target in ((self.rules.get("drop-mounts") or {}).get(name) or []):
            return
        if kind == "volume" and rendered:
            filename, text = self.render(source)
            ref = {"target": f"{target}/{filename}"}
            if rendered == "secret":
                secrets.append({**ref, "source": self.secret(text.encode(), f"{name}-{filename}")})
            else:
                configs.append({**ref, "source": self.config_from_text(text, f"{name}-{filename}", filename)})
            return
        if kind == "volume":
            self.volumes.add(source)
            mounts.append({k: volume[k] for k in ("type", "source", "target", "read_only") if k in volume})
            return
        if kind != "bind":
            raise StackError(f"{name}: a {kind} mount at {target} has no Swarm form here")
        path = Path(source)
        if target in (self.rules.get("secret-mounts") or []):
            for f in sorted(p for p in path.iterdir() if p.is_file()):
                secrets.append({"source": self.secret(f.read_bytes(), f"{name}-{f.name}"),
                                "target": f"{target}/{f.name}", "mode": 0o400})
            return
        if not path.resolve().is_relative_to(ROOT):
            raise StackError(f"{name}: {source} (mounted at {target}) is a folder on this machine, and Swarm runs "
                             f"the service on other nodes; APP_STATIC_DIR is not supported on Swarm (the app serves "
                             f"its static files; bake them into its image)")
        files = [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and not p.name.startswith("."))
        for f in files:
            relative = f.relative_to(ROOT)
            configs.append({"source": self.config_from_file(f, str(relative)),
                            "target": target if f == path else f"{target}/{f.relative_to(path)}"})

    def _port(self, name: str, port: dict) -> dict | None:
        host_ip = port.get("host_ip") or ""
        if host_ip.startswith(LOOPBACK):
            self.notes.append(f"{name}: port {port['target']} is bound to {host_ip} under Compose; not published "
                              f"on Swarm (set its *_BIND to 0.0.0.0 to publish it on its node)")
            return None
        if not port.get("published"):
            raise StackError(f"{name}: port {port['target']} has no published port; set it in .env")
        return {"target": port["target"], "published": int(port["published"]),
                "protocol": port.get("protocol", "tcp"), "mode": "host"}

    def _deploy(self, svc: dict) -> dict:
        deploy = {k: v for k, v in (svc.get("deploy") or {}).items() if v not in (None, {}, [])}
        if svc.get("mem_limit") and not deploy.get("resources", {}).get("limits", {}).get("memory"):
            deploy.setdefault("resources", {}).setdefault("limits", {})["memory"] = str(svc["mem_limit"])
        if "restart_policy" not in deploy and svc.get("restart") in RESTART:
            deploy["restart_policy"] = {"condition": RESTART[svc["restart"]]}
        return deploy

    def render(self, volume: str) -> tuple[str, str]:
        """(file name, text) of what the one-shot step writing `volume` writes, by the same script
        (preflight.RENDERERS) from the step's own settings; the file is the step's OUT_FILE."""
        step = next(name for name, svc in self.model["services"].items()
                    if any(v.get("source") == volume and v["target"] == "/out" for v in svc.get("volumes") or []))
        svc = self.model["services"][step]
        env = {k: v for k, v in (svc.get("environment") or {}).items() if v is not None}
        module = load_script(str(ROOT / RENDERERS[step]))
        try:
            return os.path.basename(svc["command"][-1]), json.dumps(module.render(env), indent=2) + "\n"
        except ValueError as exc:
            raise StackError(str(exc)) from None

    def subnet(self) -> str:
        network = (self.model.get("networks") or {}).get("default") or {}
        configs = (network.get("ipam") or {}).get("config") or []
        if not configs or not configs[0].get("subnet"):
            raise StackError("the stack's network has no subnet (compose/swarm.yaml, SWARM_SUBNET)")
        return configs[0]["subnet"]

    def build(self) -> dict:
        leave_out = set(self.rules.get("leave-out") or [])
        services = {name: self.service(name, svc) for name, svc in sorted(self.model["services"].items())
                    if name not in leave_out}
        network = {k: v for k, v in ((self.model.get("networks") or {}).get("default") or {}).items() if k != "name"}
        return {"version": "3.9", "services": services,
                "networks": {"default": network},
                "volumes": {name: {} for name in sorted(self.volumes)},
                "configs": self.configs, "secrets": self.secrets}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="folder for stack.yml, configs/ and secrets/")
    args = parser.parse_args(argv)
    model = json.load(sys.stdin)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        stack = Stack(model, args.out)
        document = stack.build()
    except StackError as exc:
        print(f"swarm-stack: {exc}", file=sys.stderr)
        return 2
    # JSON is YAML: `docker stack deploy -c` reads it as it is.
    (args.out / "stack.yml").write_text(json.dumps(document, indent=2) + "\n")
    for note in stack.notes:
        print(f"swarm-stack: {note}", file=sys.stderr)
    print(f"swarm-stack: wrote {args.out / 'stack.yml'} ({len(document['services'])} services, "
          f"{len(document['configs'])} configs, {len(document['secrets'])} secrets)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
