"""flaskobs installs as a package: `pip wheel .` builds, the wheel holds the package and nothing
of the repository, and it imports and serves with neither the demo nor the checkout around."""

import os
import subprocess
import sys
import zipfile

from support.docker import ROOT


def build_wheel(tmp_path) -> str:
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path / "dist"), str(ROOT)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    wheels = list((tmp_path / "dist").glob("flaskobs-*.whl"))
    assert len(wheels) == 1, wheels
    return str(wheels[0])


def test_the_wheel_holds_only_the_package(tmp_path):
    wheel = zipfile.ZipFile(build_wheel(tmp_path))
    names = wheel.namelist()
    top = {name.split("/")[0] for name in names}
    assert top == {"flaskobs", next(t for t in top if t.endswith(".dist-info"))}, top
    assert {"flaskobs/gunicorn_conf.py", "flaskobs/serve.py", "flaskobs/extension.py"} <= set(names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "flaskobs-serve = flaskobs.serve:main" in wheel.read(entry_points).decode()


def test_the_installed_wheel_works_without_the_demo_or_the_checkout(tmp_path):
    site = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                          build_wheel(tmp_path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    code = """
import importlib.util, flaskobs, flaskobs.gunicorn_conf
from flask import Flask
print(flaskobs.__file__)
print(importlib.util.find_spec("demo"), importlib.util.find_spec("support"))
app = Flask("outside")
app.config["SECRET_KEY"] = "k3J9-xq2_VbN8mZr4TtYwLp0sQe7HfGu5AaDcE1"
flaskobs.init_app(app)
print(app.test_client().get("/healthz").json)
"""
    env = {**os.environ, "PYTHONPATH": str(site), "APP_ENV": "production"}
    env.pop("APP_MODULE", None)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    where, specs, health = run.stdout.splitlines()[-3:]
    assert where.startswith(str(site)), where  # the wheel's copy, not the checkout's
    assert specs == "None None"
    assert health == "{'status': 'ok'}"
