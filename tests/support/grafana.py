"""The Grafana files the tests read: the generated dashboards and the provisioned datasources."""

import json

import yaml

from .docker import ROOT

DASHBOARDS = sorted((ROOT / "grafana/dashboards").glob("*.json"))
DATASOURCES = ROOT / "grafana/provisioning/datasources/datasources.yaml"


def targets():
    """(dashboard file name, panel, target) of every query of every dashboard."""
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                yield path.name, panel, target


def datasources() -> list[dict]:
    return yaml.safe_load(DATASOURCES.read_text())["datasources"]
