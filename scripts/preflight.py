"""Checks before `make up`: engine, Compose version, memory and kernel settings, images.

Usage: preflight.py PROFILE[,PROFILE...] -- <compose command words>
Exits 2 with what to do when something would make the start fail.
"""

import json
import os
import re
import subprocess
import sys

PROFILES = ("app", "proxy", "metrics", "logs", "full")
MIN_COMPOSE = (2, 24)
LOGS_MIN_MEMORY = 4 * 1024**3        # Elasticsearch + Logstash + Kibana limits, plus the rest
MIN_MAX_MAP_COUNT = 262144           # Elasticsearch's bootstrap check


def fail(message: str) -> None:
    print(f"preflight: {message}", file=sys.stderr)
    sys.exit(2)


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True)


def parse_profiles(arg: str) -> list[str]:
    profiles = [p.strip() for p in arg.split(",") if p.strip()]
    bad = [p for p in profiles if p not in PROFILES]
    if not profiles or bad:
        fail(f"PROFILE={arg!r} is not allowed; allowed: {', '.join(PROFILES)} (comma-separated)")
    return profiles


def check_engine() -> None:
    if run(["docker", "--version"]).returncode != 0:
        fail("the docker command is missing: install Docker Engine 20.10+ (https://docs.docker.com/engine/install/)")
    info = run(["docker", "info", "--format", "{{.ServerVersion}}"])
    if info.returncode != 0:
        fail("no Docker engine answers: start it (`sudo systemctl start docker`, or Docker Desktop) "
             f"and check `docker info`\n  {info.stderr.strip()[:300]}")
    version = run(["docker", "compose", "version", "--short"])
    if version.returncode != 0:
        fail("Docker Compose v2 is missing: install the docker-compose-plugin (`docker compose version`)")
    numbers = tuple(int(n) for n in re.findall(r"\d+", version.stdout)[:2])
    if numbers < MIN_COMPOSE:
        fail(f"Docker Compose {version.stdout.strip()} is too old; need {'.'.join(map(str, MIN_COMPOSE))} or newer")


def check_logs_host() -> None:
    total = run(["docker", "info", "--format", "{{.MemTotal}}"]).stdout.strip()
    if total.isdigit() and int(total) < LOGS_MIN_MEMORY:
        fail(f"the logs profile needs {LOGS_MIN_MEMORY // 1024**3} GiB for Docker, the engine has "
             f"{int(total) / 1024**3:.1f} GiB: give Docker more memory, or lower ES_HEAP and the *_MEM_LIMIT settings")
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            current = int(f.read())
    except OSError:
        return  # not Linux: Docker Desktop's VM sets it
    if current < MIN_MAX_MAP_COUNT:
        fail(f"vm.max_map_count is {current}; Elasticsearch needs {MIN_MAX_MAP_COUNT}: run "
             f"`sudo sysctl -w vm.max_map_count={MIN_MAX_MAP_COUNT}` (persist it in /etc/sysctl.d/)")


def services(compose: list[str], profiles: list[str]) -> dict:
    flags = [w for p in profiles for w in ("--profile", p)]
    out = run(compose + flags + ["config", "--format", "json"])
    if out.returncode != 0:
        fail(f"`docker compose config` failed:\n{out.stderr.strip()}")
    return json.loads(out.stdout).get("services", {})


def local(image: str) -> bool:
    return run(["docker", "image", "inspect", image]).returncode == 0


def check_images(compose: list[str], profiles: list[str]) -> None:
    wanted = services(compose, profiles)
    missing = sorted({s["image"] for s in wanted.values() if "build" not in s and not local(s["image"])})
    never = any(s.get("pull_policy") == "never" for s in wanted.values())
    if missing and not never:
        for image in list(missing):
            print(f"preflight: pulling {image}")
            if run(["docker", "pull", image]).returncode == 0:
                missing.remove(image)
    if not missing:
        return
    runnable = []
    for profile in PROFILES:
        svc = services(compose, [profile])
        if all("build" in s or local(s["image"]) for s in svc.values()):
            runnable.append(profile)
    fail("these images are not available and cannot be pulled (no registry?):\n  "
         + "\n  ".join(missing)
         + "\n  Profiles that can run from local images: " + (", ".join(runnable) or "none")
         + "\n  `make images-airgap` builds Nginx, Prometheus and Python from a Debian mirror;"
           " Grafana and the Elastic stack must be loaded with `docker load -i <file>`.")


def main(argv: list[str]) -> int:
    if "--" not in argv:
        fail("usage: preflight.py PROFILE -- <compose command>")
    split = argv.index("--")
    profiles = parse_profiles(",".join(argv[1:split]))
    if os.environ.get("PREFLIGHT_PROFILE_ONLY"):
        return 0
    check_engine()
    if {"logs", "full"} & set(profiles):
        check_logs_host()
    check_images(argv[split + 1:], profiles)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
