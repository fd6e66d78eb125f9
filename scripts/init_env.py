"""`make init`: write .env from .env.example with fresh secrets, and a development TLS pair.

Never overwrites: a secret already set in .env is kept, and so are existing certificates.
FLASKOBS_DIR, this checkout's absolute path (for plain `docker compose`), is kept current.
"""

import os
import secrets
import shutil
import subprocess
import sys

# Variable -> length of the random value make init writes (lengths, not secrets).
SECRETS = dict.fromkeys(("GRAFANA_ADMIN_PASSWORD", "ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD",
                         "LOGSTASH_INTERNAL_PASSWORD", "GRAFANA_ES_PASSWORD"), 24)
SECRETS.update(SECRET_KEY=48, GRAFANA_SECRET_KEY=32, KIBANA_ENCRYPTION_KEY=48)


def fill(lines: list[str]) -> tuple[list[str], list[str]]:
    """Return the lines with empty secrets filled, and the names that were filled."""
    out, filled, seen = [], [], set()
    for line in lines:
        name, sep, value = line.partition("=")
        key = name.strip()
        if sep and key in SECRETS and not line.lstrip().startswith("#"):
            seen.add(key)
            if not value.strip():
                # URL-safe alphabet: no quoting problems in .env, URLs or shell.
                line = f"{key}={secrets.token_urlsafe(SECRETS[key])[:SECRETS[key]]}\n"
                filled.append(key)
        out.append(line)
    for key in SECRETS.keys() - seen:
        out.append(f"{key}={secrets.token_urlsafe(SECRETS[key])[:SECRETS[key]]}\n")
        filled.append(key)
    return out, filled


def locate(lines: list[str], root: str) -> tuple[list[str], bool]:
    """Set FLASKOBS_DIR to this checkout; return the lines and whether they changed."""
    wanted = f"FLASKOBS_DIR={os.path.abspath(root)}\n"
    for i, line in enumerate(lines):
        if line.split("=", 1)[0].strip() == "FLASKOBS_DIR" and not line.lstrip().startswith("#"):
            if line == wanted:
                return lines, False
            return [*lines[:i], wanted, *lines[i + 1:]], True
    return [*lines, wanted], True


def make_certs(directory: str) -> str:
    crt, key = os.path.join(directory, "tls.crt"), os.path.join(directory, "tls.key")
    if os.path.exists(crt) and os.path.exists(key):
        return f"kept {crt}"
    if not shutil.which("openssl"):
        return "openssl is missing: no development certificate (install openssl, or set TLS=off)"
    os.makedirs(directory, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", crt],
        check=True, capture_output=True)
    # Its owner only. In the container the Nginx master reads it as root (Docker keeps
    # CAP_DAC_OVERRIDE, and rootless Docker's root is this user); Nginx's workers cannot.
    os.chmod(key, 0o600)
    return f"wrote a self-signed development certificate to {crt}"


def main(root: str) -> int:
    env_path, example = os.path.join(root, ".env"), os.path.join(root, ".env.example")
    source = env_path if os.path.exists(env_path) else example
    with open(source) as f:
        lines = f.readlines()
    lines, filled = fill(lines)
    lines, moved = locate(lines, root)
    if filled or moved or source == example:
        tmp = env_path + ".tmp"
        with open(os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600), "w") as f:
            f.writelines(lines)
        os.replace(tmp, env_path)
    print(f"init: .env {'created' if source == example else 'kept'}; "
          f"new secrets: {', '.join(filled) if filled else 'none'}")
    print("init: " + make_certs(os.path.join(root, ".certs")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.getcwd()))
