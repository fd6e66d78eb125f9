"""Write alertmanager.yml from the environment (.env), since Alertmanager reads no environment
variables itself. The one-shot `alertmanager-config` service runs it before Alertmanager starts;
a bad or half-set value stops `make up` with a message naming the variable.

    python3 render_config.py OUT_FILE

Receivers, each optional; with none set, alerts show in Alertmanager's UI and nothing is sent:
  ALERT_WEBHOOK_URL         any HTTP endpoint (Alertmanager's webhook JSON): critical and warning
  ALERT_SLACK_WEBHOOK_URL   a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat):
                            critical and warning; ALERT_SLACK_CHANNEL overrides the hook's channel
  ALERT_EMAIL_TO            with ALERT_EMAIL_FROM and ALERT_SMTP_SMARTHOST (host:port): critical
                            only; ALERT_SMTP_USERNAME/ALERT_SMTP_PASSWORD to log in,
                            ALERT_SMTP_REQUIRE_TLS (default true) for STARTTLS
Timing (Alertmanager's durations): ALERT_GROUP_WAIT (30s), ALERT_GROUP_INTERVAL (5m),
ALERT_REPEAT_INTERVAL_CRITICAL (1h), ALERT_REPEAT_INTERVAL_WARNING (12h).

The output is JSON, which is YAML: no value can break the file's syntax. It holds secrets, so it
is written 0600 for Alertmanager's user (nobody) on a volume only Alertmanager mounts.
Standard library only: it runs in the app's build image.
"""

import json
import os
import re
import sys
from urllib.parse import urlsplit

ALERTMANAGER_UID = 65534  # nobody, in both the upstream and the Debian-built image
DURATION = re.compile(r"\A([0-9]+(ms|s|m|h|d|w|y))+\Z")
# When the app or Nginx is down, its other alerts say nothing new: only the down alert is sent.
DOWN_ALERTS = ("FlaskTargetDown", "NginxDown")


class ConfigError(ValueError):
    pass


def _get(env, name: str) -> str:
    return (env.get(name) or "").strip()


def _url(env, name: str) -> str:
    value = _get(env, name)
    if value:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{name}={value!r} is not a URL; allowed: http://host[:port]/path or https://…")
    return value


def _host_port(env, name: str) -> str:
    value = _get(env, name)
    if value:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ConfigError(f"{name}={value!r} is not host:port; allowed: for example smtp.example.com:587")
    return value


def _address(env, name: str) -> str:
    value = _get(env, name)
    if value and not re.fullmatch(r"[^@\s,]+@[^@\s,]+", value):
        raise ConfigError(f"{name}={value!r} is not an email address; allowed: one address, name@example.com")
    return value


def _duration(env, name: str, default: str) -> str:
    value = _get(env, name) or default
    if not DURATION.match(value):
        raise ConfigError(f"{name}={value!r} is not a duration; allowed: for example 30s, 5m, 1h, 1h30m")
    return value


def _bool(env, name: str, default: bool) -> bool:
    value = _get(env, name).lower()
    if not value:
        return default
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean; allowed: true, false")


def receivers(env) -> tuple[list[dict], list[dict]]:
    """The notifier configs for critical alerts (page) and for warnings (chat)."""
    page, chat = [], []
    webhook = _url(env, "ALERT_WEBHOOK_URL")
    if webhook:
        config = {"webhook_configs": [{"url": webhook, "send_resolved": True}]}
        page.append(config)
        chat.append(config)
    slack = _url(env, "ALERT_SLACK_WEBHOOK_URL")
    if slack:
        entry = {"api_url": slack, "send_resolved": True,
                 "title": '[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} ({{ .CommonLabels.job }})',
                 "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n{{ .Annotations.description }}\n"
                         "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"}
        channel = _get(env, "ALERT_SLACK_CHANNEL")
        if channel:
            entry["channel"] = channel
        config = {"slack_configs": [entry]}
        page.append(config)
        chat.append(config)
    email = {name: _address(env, name) for name in ("ALERT_EMAIL_TO", "ALERT_EMAIL_FROM")}
    email["ALERT_SMTP_SMARTHOST"] = _host_port(env, "ALERT_SMTP_SMARTHOST")
    if any(email.values()):
        missing = [name for name, value in email.items() if not value]
        if missing:
            raise ConfigError(f"email alerts need {', '.join(missing)} too (set with "
                              f"{', '.join(name for name, value in email.items() if value)}); "
                              "allowed: all three set, or none")
        entry = {"to": email["ALERT_EMAIL_TO"], "from": email["ALERT_EMAIL_FROM"],
                 "smarthost": email["ALERT_SMTP_SMARTHOST"], "send_resolved": True,
                 "require_tls": _bool(env, "ALERT_SMTP_REQUIRE_TLS", True),
                 "headers": {"Subject": "[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }} "
                                        "({{ .CommonLabels.job }})"},
                 # A plain-text part beside Alertmanager's HTML one: what, why, where to look.
                 "text": "{{ range .Alerts }}[{{ .Status }}] {{ .Annotations.summary }}\n"
                         "{{ .Annotations.description }}\nRunbook: {{ .Annotations.runbook_url }}\n\n{{ end }}"}
        username, password = _get(env, "ALERT_SMTP_USERNAME"), _get(env, "ALERT_SMTP_PASSWORD")
        if bool(username) != bool(password):
            raise ConfigError("ALERT_SMTP_USERNAME and ALERT_SMTP_PASSWORD go together; allowed: both set, or neither")
        if username:
            entry.update(auth_username=username, auth_password=password)
        page.append({"email_configs": [entry]})
    return page, chat


def _merge(configs: list[dict]) -> dict:
    merged: dict = {}
    for config in configs:
        for key, value in config.items():
            merged.setdefault(key, []).extend(value)
    return merged


def render(env) -> dict:
    page, chat = receivers(env)
    critical_repeat = _duration(env, "ALERT_REPEAT_INTERVAL_CRITICAL", "1h")
    routes = [
        {"matchers": ['severity="critical"'], "receiver": "page", "repeat_interval": critical_repeat},
        {"matchers": ['severity="warning"'], "receiver": "chat",
         "repeat_interval": _duration(env, "ALERT_REPEAT_INTERVAL_WARNING", "12h")},
    ]
    down = "|".join(DOWN_ALERTS)
    return {
        "route": {
            "receiver": "page",  # an alert without a known severity is treated as critical
            "group_by": ["alertname", "job"],
            "group_wait": _duration(env, "ALERT_GROUP_WAIT", "30s"),
            "group_interval": _duration(env, "ALERT_GROUP_INTERVAL", "5m"),
            "repeat_interval": critical_repeat,  # the default route is the page
            "routes": routes,
        },
        "inhibit_rules": [
            # A service that is down: its other alerts are consequences.
            {"source_matchers": [f'alertname=~"{down}"'], "target_matchers": [f'alertname!~"{down}"'],
             "equal": ["job"]},
            # The app down: Nginx answers its requests with 502s, a consequence too (another job).
            {"source_matchers": ['alertname="FlaskTargetDown"'], "target_matchers": ['alertname="NginxHigh5xxRatio"']},
            # The critical form of an alert silences its warning form.
            {"source_matchers": ['severity="critical"'], "target_matchers": ['severity="warning"'],
             "equal": ["alertname", "job"]},
        ],
        "receivers": [{"name": "page", **_merge(page)}, {"name": "chat", **_merge(chat)}],
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: render_config.py OUT_FILE", file=sys.stderr)
        return 2
    try:
        config = render(os.environ)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    out = argv[1]
    fd = os.open(out + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    if os.geteuid() == 0:
        os.chown(out + ".tmp", ALERTMANAGER_UID, ALERTMANAGER_UID)
    os.replace(out + ".tmp", out)
    page = next(r for r in config["receivers"] if r["name"] == "page")  # critical: every receiver
    configured = sum(len(configs) for key, configs in page.items() if key != "name")
    sent = f"{configured} receiver(s) configured" if configured else "nothing is sent (no ALERT_* receiver set)"
    print(f"alertmanager-config: wrote {out}; {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
