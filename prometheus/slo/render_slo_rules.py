"""Write the app's SLO rules (slo.rules.yml) from the SLO_* settings in .env: recording rules
for the bad-request ratio over each window, and multiwindow, multi-burn-rate alerts (the SRE
workbook's, for a 30-day budget). The one-shot `prometheus-rules` service runs it before
Prometheus starts; a bad value stops `make up` naming the variable (preflight checks it first).

    python3 render_slo_rules.py OUT_FILE

Settings (defaults): SLO_AVAILABILITY_TARGET (99.9, percent of requests that are not 5xx),
SLO_LATENCY_TARGET (99, percent of requests faster than the threshold), SLO_LATENCY_THRESHOLD
(0.3 seconds; one of the request histogram's bucket bounds, REQUEST_BUCKETS in flaskobs).

Standard library only: it runs in the app's build image. Output is JSON, which is YAML.
"""

import json
import os
import sys

# flaskobs.metrics.REQUEST_BUCKETS; a test keeps the two equal. A threshold must be one of them:
# the ratio of fast requests is read from that bucket, exactly.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0)
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# (severity, for, [(long window, short window, burn rate)]): a burn rate of 14.4 spends 2% of a
# 30-day budget in an hour; 6, 5% in 6 hours; 3, 10% in a day; 1, 10% in 3 days.
POLICIES = (
    ("Fast", "critical", "2m", (("1h", "5m", 14.4), ("6h", "30m", 6))),
    ("Slow", "warning", "15m", (("1d", "2h", 3), ("3d", "6h", 1))),
)
SLOS = {
    # name: (metric of bad requests over the window, what it measures)
    # With no 5xx yet there is no 5xx series: "or … * 0" makes the ratio 0, not absent.
    "availability": ('(sum by (job) (rate(flask_http_request_duration_seconds_count{{status=~"5.."}}[{w}]))'
                     ' or sum by (job) (rate(flask_http_request_duration_seconds_count[{w}])) * 0)'
                     ' / sum by (job) (rate(flask_http_request_duration_seconds_count[{w}]))',
                     "of requests end in a 5xx"),
    "latency": ('1 - sum by (job) (rate(flask_http_request_duration_seconds_bucket{{le="{le}"}}[{w}]))'
                ' / sum by (job) (rate(flask_http_request_duration_seconds_count[{w}]))',
                "of requests are slower than {threshold}"),
}


class ConfigError(ValueError):
    pass


def _percent(env, name: str, default: float) -> float:
    raw = (env.get(name) or "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number; allowed: a percentage from 90 to 99.999") from None
    if not 90 <= value <= 99.999:
        raise ConfigError(f"{name}={raw!r} is out of range; allowed: a percentage from 90 to 99.999")
    return value


def _threshold(env) -> float:
    raw = (env.get("SLO_LATENCY_THRESHOLD") or "").strip()
    allowed = ", ".join(f"{b:g}" for b in BUCKETS)
    try:
        value = float(raw) if raw else 0.3
    except ValueError:
        value = None
    if value not in BUCKETS:
        raise ConfigError(f"SLO_LATENCY_THRESHOLD={raw!r} is not a bucket bound of the request histogram; "
                          f"allowed (seconds): {allowed}")
    return value


def render(env) -> dict:
    targets = {"availability": _percent(env, "SLO_AVAILABILITY_TARGET", 99.9),
               "latency": _percent(env, "SLO_LATENCY_TARGET", 99.0)}
    threshold = _threshold(env)
    recording, alerts = [], []
    for slo, (expr, meaning) in SLOS.items():
        budget = round(1 - targets[slo] / 100, 10)
        for w in WINDOWS:
            recording.append({"record": f"job:slo_{slo}_bad:ratio_rate{w}",
                              "expr": expr.format(w=w, le=f"{threshold:g}")})
        recording.append({"record": f"job:slo_{slo}_budget:ratio", "expr": f"vector({budget})"})
        what = meaning.format(threshold=f"{threshold * 1000:g} ms")
        for speed, severity, wait, pairs in POLICIES:
            name = f"Flask{slo.capitalize()}BudgetBurn{speed}"
            expr = " or ".join(
                f"(job:slo_{slo}_bad:ratio_rate{long} > {rate} * {budget}"
                f" and job:slo_{slo}_bad:ratio_rate{short} > {rate} * {budget})"
                for long, short, rate in pairs)
            windows = ", ".join(f"{long}/{short} at {rate}x" for long, short, rate in pairs)
            alerts.append({
                "alert": name, "expr": expr, "for": wait, "labels": {"severity": severity},
                "annotations": {
                    "runbook_url": f"docs/runbook.md#{name.lower()}",
                    "summary": f"{{{{ $labels.job }}}} spends its {slo} error budget too fast "
                               f"({{{{ $value | humanizePercentage }}}} {what})",
                    "description": f"Target {targets[slo]:g}% over 30 days; burn-rate windows {windows}."}})
    return {"groups": [{"name": "slo.recording", "rules": recording}, {"name": "slo.alerts", "rules": alerts}]}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: render_slo_rules.py OUT_FILE", file=sys.stderr)
        return 2
    try:
        rules = render(os.environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    with open(argv[1] + ".tmp", "w") as f:
        json.dump(rules, f, indent=2)
        f.write("\n")
    os.replace(argv[1] + ".tmp", argv[1])
    print(f"prometheus-rules: wrote {argv[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
