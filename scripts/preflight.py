"""Checks before `make up`: engine, Compose version, memory and kernel settings, your app's
folders (APP_DIR, APP_STATIC_DIR), the alert receivers and SLOs (ALERT_*, SLO_*), images.

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


def check_app_folders(svc: dict) -> None:
    """APP_DIR (the app image's build context) and APP_STATIC_DIR exist, before anything builds."""
    app = svc.get("app", {})
    build = app.get("build", {})
    context, raw = build.get("context", ""), build.get("args", {}).get("APP_DIR", "")
    where = f"APP_DIR={raw}" + (f" (resolved to {context})" if raw != context else "")
    hint = "; paths are absolute or relative to compose/"
    if context and not os.path.isdir(context):
        fail(f"{where} is not a folder: set APP_DIR to the folder with your app's code and requirements.txt{hint}")
    if context and not os.path.isfile(os.path.join(context, "requirements.txt")):
        fail(f"{where} has no requirements.txt: add one listing what your app imports besides Flask and "
             "flaskobs (it may be empty)")
    proxy_volumes = [v for proxy in ("nginx", "caddy") for v in svc.get(proxy, {}).get("volumes", [])]
    for volume in proxy_volumes:
        if volume.get("target") != "/srv/static" or volume.get("type") != "bind":
            continue
        source = volume["source"]
        if not os.path.isdir(source):
            fail(f"APP_STATIC_DIR resolves to {source}, which is not a folder: point it at your static "
                 f"files, or leave it empty for the app to serve them{hint}")
        if context and os.path.commonpath([os.path.realpath(source), os.path.realpath(context)]) != \
                os.path.realpath(context):
            # Most likely the demo's folder left in .env after APP_DIR moved to another app.
            fail(f"APP_STATIC_DIR ({source}) is not inside {where}: set it to your app's static folder, or "
                 f"leave it empty for the app to serve its static files")


def needed(svc: dict) -> set[str]:
    """Images to pull or load: those no service of the project builds."""
    built = {s["image"] for s in svc.values() if "build" in s}
    return {s["image"] for s in svc.values() if "build" not in s and s["image"] not in built}


# One-shot services that render a config from .env, and their renderers (relative to the checkout).
RENDERERS = {"alertmanager-config": "services/alertmanager/render_config.py",
             "prometheus-rules": "prometheus/slo/render_slo_rules.py"}


def load_script(path: str):
    """Import one of the checkout's stand-alone scripts (they run in containers, outside any
    package) as a module, to call its functions."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_rendered_settings(svc: dict) -> None:
    """The ALERT_* and SLO_* settings as the one-shots will read them, checked by their own code
    now: a bad one is named here, not in a container's log after `up` failed."""
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    for service, script in RENDERERS.items():
        if service not in svc:
            continue
        renderer = load_script(os.path.join(root, script))
        try:
            renderer.render(svc[service].get("environment") or {})
        except renderer.ConfigError as exc:
            fail(f"{exc} (in .env)")


def check_images(compose: list[str], profiles: list[str]) -> None:
    wanted = services(compose, profiles)
    check_app_folders(wanted)
    check_rendered_settings(wanted)
    missing = sorted(image for image in needed(wanted) if not local(image))
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
        if all(local(image) for image in needed(services(compose, [profile]))):
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
