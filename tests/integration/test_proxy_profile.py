"""The `proxy` profile: Nginx in front of the app server, tested from the outside through the
published ports, and from inside the compose network where the test needs another client.
Nginx's own behaviour, with the demo behind it under each supported server (Gunicorn over
proxy_pass, uWSGI over uwsgi_pass): every answer below is the same under both
(test_metrics_profile.py proves the request path through Nginx for both apps)."""

import collections
import json
import re
import socket
import ssl
import subprocess
import time
import uuid

import pytest
import requests
from support.apps import DEMO, DEMO_UWSGI
from support.checks import assert_json_error
from support.docker import require_images
from support.proxy_checks import (
    assert_no_path_traversal_under_static,
    assert_prefixed_links,
    assert_security_headers,
    assert_tls_1_1_refused,
)
from support.stack import compose_stack
from support.waiting import wait_until

pytestmark = pytest.mark.stack("proxy")
SERVERS = [DEMO, DEMO_UWSGI]


@pytest.fixture(scope="module", params=SERVERS, ids=lambda app: app.server)
def stack(request, tmp_path_factory):
    """One TLS proxy stack for the module per server; a tight rate limit makes the burst test short."""
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE", "NGINX_IMAGE")
    app = request.param
    workdir = tmp_path_factory.mktemp(f"proxy-{app.server}")
    # NGINX_ACCESS_LOG_FILE=on: two access logs per request (stdout and the file for Logstash).
    with compose_stack(f"proxy-{app.server}", ["proxy"], workdir, RATE_LIMIT="10r/s", RATE_LIMIT_BURST="10",
                       NGINX_ACCESS_LOG_FILE="on", **app.env()) as running:
        running.certs = workdir / "certs" / "tls.crt"
        yield running


def https(stack, path, **kwargs):
    kwargs.setdefault("timeout", 10)
    return requests.request(kwargs.pop("method", "GET"), stack.url("nginx", 8443, "https") + path,  # noqa: S113
                            verify=str(stack.certs), **kwargs)


def app_saw(stack, request_id) -> list[dict]:
    return [line for line in stack.json_logs("app") if line.get("request_id") == request_id]


def wait_for_log(stack, service, request_id, timeout=5.0) -> list[dict]:
    return wait_until(lambda: [line for line in stack.json_logs(service) if line.get("request_id") == request_id],
                      timeout, f"a {service} line with request id {request_id}")


def test_malformed_request_id_is_replaced_by_nginx(stack):
    response = https(stack, "/api/hello", headers={"X-Request-ID": "not valid!"})
    generated = response.headers["X-Request-ID"]
    assert response.status_code == 200 and generated != "not valid!" and len(generated) == 32
    assert wait_for_log(stack, "app", generated)  # the app received nginx's id, not the bad one


def test_huge_request_id_is_a_json_400_that_never_reaches_the_app(stack):
    response = https(stack, "/api/hello", headers={"X-Request-ID": "x" * 20000})
    body = assert_json_error(response, 400)
    assert not app_saw(stack, body["request_id"])


def test_links_are_https_with_the_public_host(stack):
    item = https(stack, "/api/items", method="POST", json={"name": "tea", "price": 1}).json()
    assert item["url"].startswith("https://127.0.0.1:")  # ProxyFix: scheme and host from Nginx


def test_http_redirects_to_https(stack):
    response = requests.get(stack.url("nginx", 8080) + "/api/items?limit=5", allow_redirects=False, timeout=10)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://127.0.0.1")
    assert response.headers["Location"].endswith("/api/items?limit=5")


def test_security_headers_and_hsts(stack):
    assert_security_headers(https(stack, "/").headers)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # we ask for old TLS on purpose
def test_tls_1_1_is_refused(stack):
    assert_tls_1_1_refused(*tls_address(stack))


def test_big_body_is_a_json_413_that_never_reaches_the_app(stack):
    request_id = f"big-{uuid.uuid4().hex}"
    response = https(stack, "/api/items", method="POST", data=b"x" * (2 * 1024 * 1024),
                     headers={"Content-Type": "application/json", "X-Request-ID": request_id})
    assert_json_error(response, 413)
    wait_for_log(stack, "nginx", request_id)  # Nginx has answered and logged it: the app would have by now
    assert not app_saw(stack, request_id)


def test_static_files_come_from_nginx_with_cache_headers(stack):
    request_id = f"static-{uuid.uuid4().hex}"
    response = https(stack, "/static/style.css", headers={"X-Request-ID": request_id, "Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "max-age=604800" in response.headers["Cache-Control"]
    assert "Expires" in response.headers
    assert response.headers.get("Content-Encoding") == "gzip" or len(response.content) < 512
    assert wait_for_log(stack, "nginx", request_id)
    assert not app_saw(stack, request_id)
    metrics = requests.get(stack.url("app", 9101) + "/metrics", timeout=5).text
    assert "/static" not in metrics


def test_path_traversal_under_static_is_not_served(stack):
    assert_no_path_traversal_under_static(lambda path: https(stack, path))


def test_internal_endpoints_are_not_reachable_from_outside(stack):
    for path in ("/metrics", "/stub_status", "/nginx-health"):
        assert_json_error(https(stack, path), 404)
    with pytest.raises(Exception, match="publisher"):
        stack.compose.get_service_port("nginx", 8081)
    assert stack.compose.get_service_port("app", 9101)  # published by the test overlay only


def test_unknown_host_is_rejected(stack):
    response = https(stack, "/api/hello", headers={"Host": "evil.example.com"})
    assert response.status_code == 421
    assert response.json()["error"] == "unknown host"


def test_burst_gets_429_while_another_client_is_served(stack):
    url = stack.url("nginx", 8443, "https") + "/api/hello"
    statuses = []
    started = time.monotonic()
    with requests.Session() as session:
        for _ in range(60):
            statuses.append(session.get(url, verify=str(stack.certs), timeout=10).status_code)
    elapsed = time.monotonic() - started
    # 10 r/s with a burst of 10: at most 10 + 10/s of the 60 pass.
    assert statuses.count(200) <= 10 + 10 * elapsed + 2, (statuses, elapsed)
    assert 429 in statuses and 200 in statuses
    limited = https(stack, "/api/hello")
    if limited.status_code == 429:
        assert_json_error(limited, 429)
    # A client with another address (the app container itself) is not limited meanwhile.
    probe = ("import ssl,urllib.request;c=ssl._create_unverified_context();"
             "print(urllib.request.urlopen(urllib.request.Request('https://nginx:8443/api/hello',"
             "headers={'Host':'localhost'}),context=c,timeout=5).status)")
    assert stack.exec("app", "python3", "-c", probe).strip() == "200"


def nginx_responses(stack) -> dict[str, int]:
    """Nginx's responses by status code, as Prometheus scrapes them (port 8081, inside the network)."""
    text = stack.exec("nginx", "curl", "-fsS", "http://127.0.0.1:8081/metrics")
    return {code: int(n) for code, n in re.findall(r'^nginx_http_responses_total\{code="(\d{3})"\} (\d+)$', text, re.M)}


def test_every_answer_is_counted_once_under_its_status(stack):
    """What Nginx answers, 429s and its own 404 JSON included, counts once per request in
    nginx_http_responses_total, though two access logs write each request here."""
    wait_until(lambda: https(stack, "/healthz").status_code == 200, 10, "the rate limit to let a request through")
    before = nginx_responses(stack)
    base = stack.url("nginx", 8443, "https")
    with requests.Session() as session:
        statuses = [session.get(base + path, verify=str(stack.certs), timeout=10).status_code
                    for path in ["/api/hello"] * 30 + ["/no/such/page"] * 3]
    sent = collections.Counter(str(status) for status in statuses)
    assert "429" in sent and "200" in sent, statuses
    expected = {code: before.get(code, 0) + sent.get(code, 0) for code in set(before) | set(sent)}
    wait_until(lambda: nginx_responses(stack) == expected, 10, f"the counts to read {expected}", 0.5)


def test_slow_client_is_cut_off_and_others_are_served(stack):
    host, port = stack.url("nginx", 8080).split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall(b"GET /api/hello HTTP/1.1\r\nHost: localhost\r\n")  # never finishes its headers
        started = time.monotonic()
        assert https(stack, "/healthz").status_code == 200  # others keep being served
        data = slow.recv(4096)  # Nginx closes after client_header_timeout
        assert time.monotonic() - started < 20
        assert data == b"" or data.startswith(b"HTTP/1.1 408")


def test_app_down_gives_a_json_502(stack):
    """Last in the module: it stops the app container."""
    stack.service("stop", "app")
    try:
        before = nginx_responses(stack).get("502", 0)
        response = https(stack, "/api/hello")
        body = assert_json_error(response, 502)
        assert body["error"] == "the app is not answering"
        # One client-facing 502, though Nginx tried the app twice and its 502 server once.
        wait_until(lambda: nginx_responses(stack).get("502", 0) == before + 1, 10, "the 502 counted once")
    finally:
        stack.service("start", "app")
        wait_until(lambda: stack.health("app") == "healthy", 60, "the app healthy again, for the tests after")


def tls_address(stack) -> tuple[str, int]:
    host, port = stack.url("nginx", 8443, "https").split("//")[1].split(":")
    return host, int(port)


def raw_https(stack, request: bytes, server_hostname: str = "localhost") -> bytes:
    """One request as raw bytes over TLS (what requests would normalise away); the whole answer."""
    context = ssl.create_default_context(cafile=str(stack.certs))
    with socket.create_connection(tls_address(stack), timeout=10) as sock, \
            context.wrap_socket(sock, server_hostname=server_hostname) as tls:
        tls.sendall(request)
        chunks = []
        while chunk := tls.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def not_rate_limited(answer):
    """The answer (a Response, or raw bytes), or None while it is a 429: the module's tight rate
    limit may still be spent by the tests before."""
    status = answer.status_code if isinstance(answer, requests.Response) else int(answer.split(b" ", 2)[1])
    return None if status == 429 else answer


def test_an_absolute_uri_cannot_choose_the_apps_host(stack):
    """Nginx picks the server from an absolute URI's host but used to forward the Host header:
    `POST https://localhost/...` with `Host: evil.example` got links and a Location at evil.example."""
    body = b'{"name": "tea", "price": 1}'
    request = (b"POST https://localhost/api/items HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    answer = wait_until(lambda: not_rate_limited(raw_https(stack, request)), 10, "an answer other than 429")
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201"), answer[:300]
    public = f"https://localhost:{stack.env['HTTPS_PORT']}/api/items/".encode()
    location = re.search(rb"\r\nLocation: (\S+)", head).group(1)
    assert location.startswith(public) and json.loads(payload)["url"].startswith(public.decode())
    assert b"evil.example" not in answer
    # The Host header alone still cannot reach the app.
    assert raw_https(stack, b"GET /api/hello HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
                     ).startswith(b"HTTP/1.1 421")


def tls12_handshake(stack, cipher: str) -> bool:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE  # only the suite is in question
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(f"{cipher}:@SECLEVEL=0")
    try:
        with socket.create_connection(tls_address(stack), timeout=10) as sock, \
                context.wrap_socket(sock, server_hostname="localhost"):
            return True
    except ssl.SSLError:
        return False


def test_tls12_offers_only_forward_secret_aead_suites(stack):
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.set_ciphers("ALL:@SECLEVEL=0")
    suites = {c["name"]: c for c in probe.get_ciphers() if c["protocol"] != "TLSv1.3"}  # usable in 1.2
    assert "AES128-SHA" in suites and "ECDHE-RSA-AES128-GCM-SHA256" in suites  # the probe can tell
    accepted = {name for name in suites if tls12_handshake(stack, name)}
    assert "ECDHE-RSA-AES128-GCM-SHA256" in accepted  # the control: a good suite is accepted
    weak = {name for name in accepted if not (suites[name]["aead"] and suites[name]["kea"] == "kx-ecdhe")}
    assert not weak, f"TLS 1.2 suites without forward secrecy or AEAD: {sorted(weak)}"


def test_the_private_key_is_the_nginx_masters_alone(stack):
    key = stack.certs.parent / "tls.key"
    assert key.stat().st_mode & 0o777 == 0o600  # as `make init` writes it
    nginx = stack.compose.get_container("nginx").ID
    worker = "nginx" if subprocess.run(["docker", "exec", nginx, "id", "-u", "nginx"], capture_output=True,
                                       ).returncode == 0 else "www-data"
    as_worker = subprocess.run(["docker", "exec", "-u", worker, nginx, "cat", "/etc/nginx/certs/tls.key"],
                               capture_output=True, text=True)
    assert as_worker.returncode != 0 and "Permission denied" in as_worker.stderr, as_worker
    assert https(stack, "/api/hello").status_code == 200  # and the master, root, still read it


@pytest.mark.parametrize("sent", ['"', "203.0.113.9", '203.0.113.9, "unclosed'])
def test_the_app_logs_the_client_nginx_saw_whatever_x_forwarded_for_says(stack, sent):
    request_id = f"xff-{uuid.uuid4().hex}"
    response = wait_until(lambda: not_rate_limited(
        https(stack, "/api/hello", headers={"X-Request-ID": request_id, "X-Forwarded-For": sent})), 10, "not a 429")
    assert response.status_code == 200
    nginx_line = wait_for_log(stack, "nginx", request_id)[0]
    app_line = wait_for_log(stack, "app", request_id)[0]
    assert app_line["remote_addr"] == nginx_line["remote_addr"] != "203.0.113.9"


def test_the_app_has_no_tcp_port_to_reach_it_around_nginx(stack):
    """The host reaches every container address; the app used to answer there on :8000, taking
    X-Forwarded-* from whoever asked. Behind Nginx it listens on a Unix socket only."""
    addresses = stack.addresses("app")
    assert addresses
    for address in addresses:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, 8000), timeout=5).close()
        # The metrics port answers (Prometheus scrapes it); it serves metrics, not the app.
        with socket.create_connection((address, 9101), timeout=5):
            pass
    listening = stack.exec("app", "cat", "/proc/net/tcp", "/proc/net/tcp6")
    ports = set()
    for fields in (line.split() for line in listening.splitlines()):
        if len(fields) > 3 and fields[3] == "0A":  # LISTEN
            address, port = fields[1].rsplit(":", 1)
            if not address.endswith("7F"):  # not on 127.x (Docker's DNS listens on 127.0.0.11)
                ports.add(int(port, 16))
    assert ports == {9101}, ports
    assert https(stack, "/api/hello").status_code == 200




MALFORMED = [  # (raw request, acceptable statuses): each found answered in HTML, several with a 500
    (b"get / HTTP/1.1\r\nHost: localhost\r\n", {400}),
    (b"CONNECT localhost:443 HTTP/1.1\r\nHost: localhost\r\n", {400, 405}),
    (b"OPTIONS * HTTP/1.1\r\nHost: localhost\r\n", {400}),
    (b"GET /%00 HTTP/1.1\r\nHost: localhost\r\n", {400}),
    (b"GET / HTTP/1.1\rHost: localhost\r\n", {400}),
    (b"GET https://user@localhost/ HTTP/1.1\r\nHost: localhost\r\n", {400}),
    (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: localhost\r\n", {414}),
    # Within Nginx's 8 KiB but over Gunicorn's default 4094: Gunicorn answered an HTML 414.
    (b"GET /" + b"b" * 6000 + b" HTTP/1.1\r\nHost: localhost\r\n", {404}),
    (b"GET / HTTP/2.5\r\nHost: localhost\r\n", {505}),
    (b"GET / HTTP/1.1\r\n", {400}),  # no Host
    (b"GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n", {501}),
    (b"GET /api/hello HTTP/1.1\r\nHost: evil.example\r\n", {421}),
    (b"GET /static/nope.html HTTP/1.1\r\nHost: localhost\r\n", {404}),
    # Nginx passes these on and Gunicorn refuses them: its HTML 400 and 431, and a 500 from the
    # access log that killed the worker (a repeated Content-Type).
    (b"GET /api/hello HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\x01b\r\n", {400}),
    (b"GET /api/hello HTTP/1.1\r\nHost: localhost\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(120)), {431}),
    (b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n"
     b"Content-Length: 0\r\n", {400}),
]


def answer_parts(answer: bytes) -> tuple[int, dict, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:] if ": " in line)
    return int(head.split(b" ", 2)[1]), headers, body


def assert_logged_once_as_json(stack, request_id: str, status: int) -> dict:
    """Nginx logs the request in exactly one line, valid JSON; every line of the app that names
    the request is valid JSON too, with one access line of the same status when it got there."""
    marker = f'"request_id":"{request_id}"'
    raw = wait_until(lambda: [line for line in stack.logs("nginx").splitlines() if marker in line], 5,
                     f"Nginx's line for {request_id}")
    assert len(raw) == 1, raw
    nginx_line = json.loads(raw[0])
    assert nginx_line["status"] == status
    def app_lines() -> list[dict]:
        return [json.loads(line) for line in stack.logs("app").splitlines() if request_id in line]  # each parses
    if nginx_line.get("upstream_status") not in (None, "", "-") and status < 400:  # the app answered it
        wait_until(app_lines, 5, f"the app's lines for {request_id}")
    access = [line for line in app_lines() if line["logger"] == "gunicorn.access" and line["request_id"] == request_id]
    assert len(access) <= 1 and all(line["status"] == status for line in access), access
    return nginx_line


def assert_json_answer(stack, answer: bytes, statuses: set[int]) -> tuple[int, dict, bytes]:
    """The status expected; for an error a JSON body; always the security headers and a
    well-formed request id, which names one JSON line in Nginx's log."""
    status, headers, body = answer_parts(answer)
    assert status in statuses, answer[:400]
    assert answer.count(b"HTTP/1.1 ") == 1, answer[:600]  # one answer: nothing smuggled behind it
    request_id = headers["X-Request-ID"]
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", request_id)
    assert headers.get("X-Content-Type-Options") == "nosniff" and "Strict-Transport-Security" in headers
    if status >= 400:
        assert headers.get("Content-Type") == "application/json", answer[:400]
        payload = json.loads(body)
        # Gunicorn refuses before it keeps the request's id: null in its body, in the header as always.
        assert payload["status"] == status and payload["request_id"] in (request_id, None)
    assert_logged_once_as_json(stack, request_id, status)
    return status, headers, body


@pytest.mark.parametrize(("request_head", "statuses"), MALFORMED, ids=lambda v: repr(v)[:40])
def test_nginx_answers_malformed_requests_with_json(stack, request_head, statuses):
    answer = wait_until(lambda: not_rate_limited(raw_https(stack, request_head + b"Connection: close\r\n\r\n")),
                        10, "an answer other than 429")
    assert_json_answer(stack, answer, statuses)


# What held in the adversarial run, kept held: (id, whole request, statuses, never in the answer).
# Each request ends with Connection: close; a valid X-Request-ID is the default, to find its lines.
HOSTILE = [
    ("smuggle-cl-te", b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
     b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n"
     b"GET /api/items/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n", {400}, b""),
    ("smuggle-te-te", b"POST /api/items HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
     b"Transfer-Encoding: identity\r\nConnection: close\r\n\r\n0\r\n\r\n"
     b"GET /api/items/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n", {400, 501}, b""),
    ("traversal", b"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
     {400, 404}, b"root:"),
    ("traversal-encoded", b"GET /static/..%2f..%2f..%2f..%2fetc%2fpasswd HTTP/1.1\r\nHost: localhost\r\n"
     b"Connection: close\r\n\r\n", {400, 404}, b"root:"),
    ("traversal-app", b"GET /api/..%2f..%2fetc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
     {400, 404}, b"root:"),
    ("hostile-id-script", b"GET /api/hello HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: <script>x</script>\r\n"
     b"Connection: close\r\n\r\n", {200}, b"<script>"),
    ("hostile-id-quotes", b'GET /api/hello HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: a","level":"CRITICAL\r\n'
     b"Connection: close\r\n\r\n", {200}, b"CRITICAL"),
    ("hostile-item-id", b"GET /api/items/99999999999999999999999 HTTP/1.1\r\nHost: localhost\r\n"
     b"Connection: close\r\n\r\n", {404}, b""),
    ("hostile-negative-id", b"DELETE /api/items/-1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
     {404, 405}, b""),
    ("log-injection-agent", b'GET /api/hello HTTP/1.1\r\nHost: localhost\r\n'
     b'User-Agent: x"}\\n{"level":"CRITICAL","message":"forged \\u0000 \\"\r\nConnection: close\r\n\r\n',
     {200}, b""),
    # Gunicorn refuses the escape character (a JSON 400); Nginx logs the bytes escaped.
    ("log-injection-bytes", b'GET /api/hello HTTP/1.1\r\nHost: localhost\r\n'
     b'User-Agent: "level":"CRITICAL" \x1b[31m \xc3\x28 \xff\r\nConnection: close\r\n\r\n', {200, 400}, b""),
    ("log-injection-query", b"GET /api/hello?q=%0A%7B%22level%22%3A%22CRITICAL%22%7D%0D HTTP/1.1\r\n"
     b"Host: localhost\r\nConnection: close\r\n\r\n", {200}, b""),
]


@pytest.mark.parametrize(("request_bytes", "statuses", "never"), [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_requests_still_hold(stack, request_bytes, statuses, never):
    answer = wait_until(lambda: not_rate_limited(raw_https(stack, request_bytes)), 10, "an answer other than 429")
    _, headers, _ = assert_json_answer(stack, answer, statuses)
    if never:
        assert never not in answer
    if b"smuggled" in request_bytes:  # the request behind it never reaches the app
        after = f"after-{uuid.uuid4().hex}"
        assert wait_until(lambda: not_rate_limited(https(stack, "/api/hello", headers={"X-Request-ID": after})),
                          10, "not a 429").status_code == 200
        wait_for_log(stack, "app", after)  # the app has logged everything before it
        assert not [line for line in stack.json_logs("app", "nginx") if "smuggled" in str(line.get("path", ""))]
    if b"CRITICAL" in request_bytes:  # injected text stays inside one field of one line
        assert not [line for line in stack.json_logs("app", "nginx")
                    if line.get("request_id") == headers["X-Request-ID"] and line.get("level") == "CRITICAL"]


def test_a_slow_client_is_cut_off_and_others_are_served(stack):
    """Slowloris: a header sent a line at a time never holds a connection past
    client_header_timeout (10 s), and the server keeps answering meanwhile."""
    context = ssl.create_default_context(cafile=str(stack.certs))
    started = time.monotonic()
    with socket.create_connection(tls_address(stack), timeout=30) as sock, \
            context.wrap_socket(sock, server_hostname="localhost") as tls:
        tls.sendall(b"GET /api/hello HTTP/1.1\r\nHost: localhost\r\n")
        closed = False
        for n in range(25):
            try:
                tls.sendall(b"X-Slow-%d: a\r\n" % n)
                tls.settimeout(1)
                closed = tls.recv(65536) == b""
            except TimeoutError:  # still open: meanwhile, others are answered
                assert https(stack, "/api/hello").status_code in (200, 429)
                continue
            except (ConnectionError, ssl.SSLError):
                closed = True
            if closed:
                break
    assert closed and time.monotonic() - started < 16


@pytest.fixture(scope="module", params=SERVERS, ids=lambda app: app.server)
def prefixed(request, tmp_path_factory):
    """A plain-HTTP stack serving the app under /shop, and no APP_STATIC_DIR (the app serves its
    static files)."""
    require_images("PYTHON_IMAGE", "DEBIAN_IMAGE", "NGINX_IMAGE")
    app = request.param
    with compose_stack(f"prefix-{app.server}", ["proxy"], tmp_path_factory.mktemp(f"prefix-{app.server}"), TLS="off",
                       APP_URL_PREFIX="/shop", **{**app.env(), "APP_STATIC_DIR": ""}) as running:
        yield running


def test_the_prefixed_app_is_served_and_health_checked(prefixed):
    assert prefixed.health("app") == "healthy"
    assert requests.get(prefixed.url("nginx", 8080) + "/shop/api/hello", timeout=10).status_code == 200


def test_without_app_static_dir_the_app_serves_its_static_files(prefixed):
    request_id = f"static-{uuid.uuid4().hex}"
    response = requests.get(prefixed.url("nginx", 8080) + "/shop/static/style.css",
                            headers={"X-Request-ID": request_id}, timeout=10)
    assert response.status_code == 200 and "text/css" in response.headers["Content-Type"]
    assert wait_for_log(prefixed, "app", request_id)[0]["logger"] == "gunicorn.access"


def test_path_prefix_links_are_correct(prefixed):
    assert_prefixed_links(prefixed.url("nginx", 8080))
