"""The gateway: its rendered configuration, and a real nginx in front of stand-in services.

The stand-ins are stdlib HTTP servers on 127.0.0.1 that answer with what they received (path,
headers, body size), so each test sees exactly what nginx passed on. Rate-limit tests send from
their own loopback addresses (127.0.0.2, ...), which Linux routes to lo, so the per-IP budget
of the other tests is never touched.
"""

import http.client
import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pytest

from service_kit_testing.required import skip_unless_required

GATEWAY_DIR = Path(__file__).resolve().parents[1]
RENDER_PY = GATEWAY_DIR / "render.py"
TEMPLATE = GATEWAY_DIR / "templates" / "gateway.conf.template"
SETTINGS_SCRIPT = GATEWAY_DIR / "docker-entrypoint.d" / "19-gateway-settings.sh"

AUTH_BURST = 3  # the live gateway's limit: 1r/m with this burst, so a test exhausts it at once
UPSTREAM_PROBLEM = (
    b'{"type": "urn:problem-type:user_not_found", "title": "User not found", "status": %d, '
    b'"detail": "from the service", "instance": "/x", "code": "user_not_found", '
    b'"request_id": "from-the-service"}'
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "code", "request_id"}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
SERVICE_CACHE_CONTROL = "private, max-age=5"
NGINX_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


def _load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gateway_render", RENDER_PY)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


render = _load_render()


def _nginx_binary() -> str:
    """nginx from PATH; missing, it fails the run in CI and skips it elsewhere."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    skip_unless_required("nginx not found: apt-get install nginx", variable="REQUIRE_NGINX")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- stand-in services --------------------------------------------------------------------


_HELD: list[str] = []
_HELD_LOCK = threading.Lock()
_RELEASE = threading.Event()


class _EchoHandler(BaseHTTPRequestHandler):
    """Answers 200 JSON describing the request; `.../_reply/NNN` answers its own problem."""

    protocol_version = "HTTP/1.1"  # keep-alive, as gunicorn does
    service: ClassVar[str] = "?"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_OPTIONS(self) -> None:
        self._answer()

    def do_PUT(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def do_PROPFIND(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/_hold"):  # stays in flight until the test releases it
            with _HELD_LOCK:
                _HELD.append(self.path)
            _RELEASE.wait(timeout=20)
        reply = re.search(r"/_reply/(\d{3})$", self.path)
        if reply:
            status = int(reply.group(1))
            self._send(status, "application/problem+json", UPSTREAM_PROBLEM % status)
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name.lower(), []).append(value)
        echo = {
            "service": self.service,
            "method": self.command,
            "path": self.path,
            "version": self.request_version,
            "headers": headers,
            "body_bytes": len(body),
        }
        self._send(200, "application/json", json.dumps(echo).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # Copies the gateway must replace with its own, so the client sees exactly one.
        self.send_header("X-Request-ID", "from-the-service")
        self.send_header("X-Frame-Options", "SAMEORIGIN")
        self.send_header("Content-Security-Policy", "default-src *")
        self.send_header("Strict-Transport-Security", "max-age=1")
        if "/_cached" in self.path:  # a service's own policy, which the gateway keeps
            self.send_header("Cache-Control", SERVICE_CACHE_CONTROL)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows stderr of failing tests, and these lines would be noise."""


@dataclass(frozen=True)
class StandIn:
    name: str
    address: str
    server: ThreadingHTTPServer
    thread: threading.Thread


def _start_stand_in(name: str) -> StandIn:
    handler = type(f"{name.title()}Handler", (_EchoHandler,), {"service": name})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=f"stand-in-{name}", daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    return StandIn(name=name, address=f"{host!s}:{port}", server=server, thread=thread)


def _stop_stand_in(stand_in: StandIn) -> None:
    stand_in.server.shutdown()
    stand_in.server.server_close()
    stand_in.thread.join(timeout=5)


@pytest.fixture(scope="module")
def identity_service() -> Iterator[StandIn]:
    stand_in = _start_stand_in("identity")
    yield stand_in
    _stop_stand_in(stand_in)


@pytest.fixture(scope="module")
def items_service() -> Iterator[StandIn]:
    stand_in = _start_stand_in("items")
    yield stand_in
    _stop_stand_in(stand_in)


# -- a real nginx ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def only(self, name: str) -> str:
        """The value of a header that must appear exactly once."""
        values = self.headers.get_all(name) or []
        assert len(values) == 1, f"{name}: {values}"
        return values[0]


@dataclass(frozen=True)
class Gateway:
    port: int
    access_log: Path

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        source: str = "127.0.0.1",
    ) -> Reply:
        """One request on a fresh connection from the loopback address `source`."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=10, source_address=(source, 0)
        )
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            return Reply(response.status, response.msg, response.read())
        finally:
            connection.close()

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def raw(self, head: bytes, *, method: str = "GET", source: str = "127.0.0.1") -> Reply:
        """Send `head` (request line and headers, no blank line) as it is, on a socket of its
        own: for what http.client refuses to send (CONNECT, malformed or oversized requests).
        `method` tells the parser whether a body follows (not for HEAD)."""
        with socket.create_connection(
            ("127.0.0.1", self.port), timeout=10, source_address=(source, 0)
        ) as sock:
            sock.sendall(head + b"\r\nConnection: close\r\n\r\n")
            response = http.client.HTTPResponse(sock, method=method)
            response.begin()
            return Reply(response.status, response.msg, response.read())

    def access_log_entry(self, request_id: str) -> dict[str, Any]:
        """The access-log line of a request (nginx writes it just after the response)."""
        deadline = time.monotonic() + 5
        while True:
            for line in self.access_log.read_text(encoding="utf-8").splitlines():
                entry: dict[str, Any] = json.loads(line)
                if entry.get("request_id") == request_id:
                    return entry
            assert time.monotonic() < deadline, f"no access-log line for {request_id}"
            time.sleep(0.05)


def _render(prefix: Path, **variables: str) -> Path:
    nginx_conf: Path = render.render(prefix, variables)
    return nginx_conf


@contextmanager
def _running_nginx(prefix: Path, **variables: str) -> Iterator[Gateway]:
    nginx = _nginx_binary()
    port = _free_port()
    nginx_conf = _render(prefix, GATEWAY_LISTEN=f"127.0.0.1:{port}", **variables)
    access_log, error_log = prefix / "stdout.log", prefix / "stderr.log"
    with access_log.open("wb") as stdout, error_log.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603 - our own binary and arguments
            [nginx, "-p", f"{prefix}/", "-c", str(nginx_conf)], stdout=stdout, stderr=stderr
        )
    gateway = Gateway(port=port, access_log=access_log)
    try:
        _wait_until_up(gateway, process, error_log)
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_until_up(gateway: Gateway, process: subprocess.Popen[bytes], error_log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited: {error_log.read_text(encoding='utf-8')}")
        try:
            if gateway.get("/health").status == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)
    pytest.fail("nginx did not answer /health within 10 s")


@pytest.fixture(scope="module")
def gateway(
    tmp_path_factory: pytest.TempPathFactory, identity_service: StandIn, items_service: StandIn
) -> Iterator[Gateway]:
    with _running_nginx(
        tmp_path_factory.mktemp("gateway"),
        IDENTITY_UPSTREAM=identity_service.address,
        ITEMS_UPSTREAM=items_service.address,
        GATEWAY_AUTH_RATE="1r/m",
        GATEWAY_AUTH_BURST=str(AUTH_BURST),
    ) as running:
        yield running


TRUSTED_PROXIES = "127.0.2.0/24"  # loopback addresses the proxy tests send from


@pytest.fixture(scope="module")
def gateway_behind_proxy(
    tmp_path_factory: pytest.TempPathFactory, identity_service: StandIn, items_service: StandIn
) -> Iterator[Gateway]:
    """The gateway behind a trusted proxy (requests from 127.0.2.x carry the client address),
    which terminates TLS: GATEWAY_HSTS is set."""
    with _running_nginx(
        tmp_path_factory.mktemp("gateway-behind-proxy"),
        IDENTITY_UPSTREAM=identity_service.address,
        ITEMS_UPSTREAM=items_service.address,
        GATEWAY_AUTH_RATE="1r/m",
        GATEWAY_AUTH_BURST=str(AUTH_BURST),
        GATEWAY_REAL_IP_FROM=f"::1, {TRUSTED_PROXIES}",
        GATEWAY_HSTS=HSTS,
    ) as running:
        yield running


@pytest.fixture(scope="module")
def gateway_without_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    nobody = f"127.0.0.1:{_free_port()}"  # bound and released: nothing listens there
    with _running_nginx(
        tmp_path_factory.mktemp("gateway-down"), IDENTITY_UPSTREAM=nobody, ITEMS_UPSTREAM=nobody
    ) as running:
        yield running


@contextmanager
def _unanswered_listener() -> Iterator[str]:
    """An address whose connections never complete: a listener that accepts nothing, its
    backlog full, so the kernel drops new SYNs (like a stopped container's stale address)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        address = listener.getsockname()
        fillers: list[socket.socket] = []
        try:
            for _ in range(8):  # queue connections until the kernel stops completing them
                try:
                    fillers.append(socket.create_connection(address, timeout=0.5))
                except TimeoutError:
                    break
            yield f"{address[0]}:{address[1]}"
        finally:
            for filler in fillers:
                filler.close()


@pytest.fixture(scope="module")
def gateway_with_silent_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with (
        _unanswered_listener() as silent,
        _running_nginx(
            tmp_path_factory.mktemp("gateway-silent"),
            IDENTITY_UPSTREAM=silent,
            ITEMS_UPSTREAM=silent,
        ) as running,
    ):
        yield running


def _assert_problem(reply: Reply, *, status: int, code: str, instance: str) -> None:
    assert reply.status == status
    assert reply.only("Content-Type") == "application/problem+json"
    problem = reply.json()
    assert set(problem) == PROBLEM_KEYS
    assert problem["type"] == f"urn:problem-type:{code}"
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["instance"] == instance
    assert problem["title"]
    assert problem["detail"]
    assert problem["request_id"] == reply.only("X-Request-ID")


# -- rendering -------------------------------------------------------------------------------


def test_substitute_replaces_only_the_listed_names_like_envsubst() -> None:
    text = "$IDENTITY_UPSTREAM ${IDENTITY_UPSTREAM} $IDENTITY_UPSTREAMS ${OTHER} $request_id $uri"

    rendered = render.substitute(text, {"IDENTITY_UPSTREAM": "a:1"})

    assert rendered == "a:1 a:1 $IDENTITY_UPSTREAMS ${OTHER} $request_id $uri"


def test_template_uses_no_variable_the_renderer_does_not_define() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")

    braced = set(re.findall(r"\$\{(\w+)\}", text))
    upper_case = set(re.findall(r"\$([A-Z][A-Z0-9_]*)", text))

    assert braced == set(render.VARIABLES)
    assert upper_case <= set(render.VARIABLES)


def test_render_defaults_to_the_native_addresses_and_limits(tmp_path: Path) -> None:
    render.render(tmp_path, {})

    conf = (tmp_path / "conf.d" / "gateway.conf").read_text(encoding="utf-8")
    assert "listen 127.0.0.1:8080;" in conf
    assert "server 127.0.0.1:8001;" in conf
    assert "server 127.0.0.1:8002;" in conf
    assert "rate=5r/s;" in conf
    assert "burst=10 nodelay;" in conf
    assert "${" not in conf


def test_render_writes_a_top_level_config_with_everything_under_the_prefix(
    tmp_path: Path,
) -> None:
    nginx_conf = render.render(tmp_path, {})

    text = nginx_conf.read_text(encoding="utf-8")
    assert "daemon off;" in text
    assert f"pid {tmp_path}/nginx.pid;" in text
    assert "error_log stderr" in text
    assert f"include {tmp_path}/conf.d/*.conf;" in text
    assert all(f"{kind}_temp_path {tmp_path}/temp/" in text for kind in ("client_body", "proxy"))


def test_render_matches_envsubst_as_the_nginx_image_runs_it(tmp_path: Path) -> None:
    envsubst = shutil.which("envsubst")
    if envsubst is None:
        skip_unless_required("envsubst not found (apt-get install gettext-base)")
    values = {
        "IDENTITY_UPSTREAM": "identity:8000",
        "ITEMS_UPSTREAM": "items:8000",
        "GATEWAY_LISTEN": "8080",
        "GATEWAY_AUTH_RATE": "30r/m",
        "GATEWAY_AUTH_BURST": "4",
        "GATEWAY_HSTS": "max-age=31536000; includeSubDomains",
    }
    shell_format = " ".join(f"${{{name}}}" for name in values)

    by_envsubst = subprocess.run(  # noqa: S603 - our own binary and arguments
        [envsubst, shell_format],
        input=TEMPLATE.read_text(encoding="utf-8"),
        env={**os.environ, **values},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert render.render_gateway_conf(values) == by_envsubst


def test_render_trusts_no_proxy_when_gateway_real_ip_from_is_unset(tmp_path: Path) -> None:
    render.render(tmp_path, {"GATEWAY_REAL_IP_HEADER": "X-Real-IP"})

    conf = (tmp_path / "conf.d" / "gateway-real-ip.conf").read_text(encoding="utf-8")
    assert [line for line in conf.splitlines() if not line.startswith("#")] == []


def test_render_trusts_each_listed_proxy_when_gateway_real_ip_from_is_set(tmp_path: Path) -> None:
    render.render(tmp_path, {"GATEWAY_REAL_IP_FROM": "10.0.0.0/8, 192.168.1.7 fd00::/8"})

    conf = (tmp_path / "conf.d" / "gateway-real-ip.conf").read_text(encoding="utf-8")
    assert [line for line in conf.splitlines() if not line.startswith("#")] == [
        "set_real_ip_from 10.0.0.0/8;",
        "set_real_ip_from 192.168.1.7;",
        "set_real_ip_from fd00::/8;",
        "real_ip_header X-Forwarded-For;",
        "real_ip_recursive on;",
    ]


def _awk_implementations() -> list[str]:
    """The awks the settings script must work with: mawk is the nginx images' awk."""
    return [name for name in ("mawk", "gawk") if shutil.which(name)] or ["awk"]


def _run_settings_script(
    tmp_path: Path, awk: str, environ: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    """19-gateway-settings.sh as the image's entrypoint runs it, with `awk` first on PATH."""
    awk_path = shutil.which(awk)
    assert awk_path is not None
    bin_dir, out = tmp_path / "bin", tmp_path / "conf.d"
    bin_dir.mkdir()
    out.mkdir()
    (bin_dir / "awk").symlink_to(awk_path)
    environment = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "NGINX_ENVSUBST_OUTPUT_DIR": str(out)}
    return subprocess.run(  # noqa: S603 - our own script
        ["sh", str(SETTINGS_SCRIPT)],  # noqa: S607 - the image runs it with its own sh
        env={**environment, **environ},
        capture_output=True,
        text=True,
        check=False,
    )


SETTINGS_THAT_RENDER = [
    {},
    {"GATEWAY_REAL_IP_FROM": ""},
    {"GATEWAY_REAL_IP_FROM": "10.0.0.0/8"},
    {"GATEWAY_REAL_IP_FROM": " 10.0.0.0/8,192.168.1.0/24  fd00::/8 ,\t2001:db8::1 \n"},
    {"GATEWAY_REAL_IP_FROM": "0.0.0.0/0 ::/0 :: ::1 1:2:3:4:5:6:7:8 FFFF::/16 255.255.255.255"},
    {"GATEWAY_REAL_IP_FROM": "1::/16 ::8:0/109 fe80::/10 100.64.0.0/10 10.1.2.3/32"},
    {"GATEWAY_REAL_IP_FROM": "10.0.0.0/8", "GATEWAY_REAL_IP_HEADER": "X-Real-IP"},
    {"GATEWAY_REAL_IP_FROM": "", "GATEWAY_REAL_IP_HEADER": "CF-Connecting-IP"},
    {"GATEWAY_HSTS": "max-age=63072000; includeSubDomains; preload"},
    {"GATEWAY_HSTS": "MAX-AGE=0;includesubdomains"},
    {"GATEWAY_HSTS": ""},
]
SETTINGS_THAT_FAIL = (
    [
        {"GATEWAY_REAL_IP_FROM": value}
        for value in (
            "10.0.0.1/8",
            "256.1.1.1",
            "10.0.0",
            "010.0.0.0",
            "10.0.0.0/33",
            "10.0.0.0/08",
            "10.0.0.0/",
            "/8",
            "10.0.0.0/8/8",
            "fd00::1/8",
            "::8:0/108",
            "1::2::3",
            ":::1",
            ":1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8::",
            "12345::",
            "::ffff:10.0.0.1",
            "fe80::1%eth0",
            "example.com",
            "unix:",
            "10.0.0.0/8;",
            "10.0.0.0/8 evil;",
        )
    ]
    + [
        {"GATEWAY_REAL_IP_FROM": "10.0.0.0/8", "GATEWAY_REAL_IP_HEADER": value}
        for value in (
            "X Forwarded",
            "X_Forwarded_For",
            "proxy_protocol",
            "X-Forwarded-For;",
            "X" * 65,
        )
    ]
    + [
        {"GATEWAY_HSTS": value}
        for value in (
            "includeSubDomains",
            "max-age=",
            "max-age=-1",
            "max-age=1;",
            "max-age=1; includeSubDomains; evil",
            'max-age=1" always; add_header X-Evil "1',
            "max-age=1\nX-Evil: 1",
            "max-age=1; preload\n",
        )
    ]
)


@pytest.mark.parametrize("awk", _awk_implementations())
@pytest.mark.parametrize("environ", SETTINGS_THAT_RENDER)
def test_settings_script_writes_what_render_writes(
    tmp_path: Path, awk: str, environ: dict[str, str]
) -> None:
    result = _run_settings_script(tmp_path, awk, environ)

    assert result.returncode == 0, result.stderr
    written = (tmp_path / "conf.d" / "gateway-real-ip.conf").read_text(encoding="utf-8")
    assert written == render.render_real_ip_conf(environ)


@pytest.mark.parametrize("awk", _awk_implementations())
@pytest.mark.parametrize("environ", SETTINGS_THAT_FAIL)
def test_settings_script_and_render_refuse_the_same_values(
    tmp_path: Path, awk: str, environ: dict[str, str]
) -> None:
    result = _run_settings_script(tmp_path, awk, environ)

    assert result.returncode != 0
    assert not (tmp_path / "conf.d" / "gateway-real-ip.conf").exists()
    assert any(name in result.stderr for name in environ)
    with pytest.raises(render.RenderError):
        render.render(tmp_path / "native", environ)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IDENTITY_UPSTREAM", "identity"),
        ("ITEMS_UPSTREAM", "http://items:8000"),
        ("ITEMS_UPSTREAM", "items:99999"),
        ("GATEWAY_LISTEN", "127.0.0.1:8080; evil"),
        ("GATEWAY_AUTH_RATE", "5"),
        ("GATEWAY_AUTH_RATE", "5r/h"),
        ("GATEWAY_AUTH_BURST", "-1"),
        ("GATEWAY_PASSWORD_CONCURRENCY", "0"),
        ("GATEWAY_PASSWORD_CONCURRENCY", "10000"),
        ("GATEWAY_REAL_IP_FROM", "10.0.0.1/8"),
        ("GATEWAY_REAL_IP_FROM", "proxy.example.com"),
        ("GATEWAY_REAL_IP_HEADER", "X-Forwarded-For; evil"),
        ("GATEWAY_HSTS", 'max-age=31536000; includeSubDomains" always; add_header X "y'),
    ],
)
def test_render_cli_refuses_an_invalid_variable(tmp_path: Path, name: str, value: str) -> None:
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(RENDER_PY), "--out", str(tmp_path)],
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 2
    assert name in result.stderr
    assert not (tmp_path / "nginx.conf").exists()


def test_render_cli_output_passes_nginx_t(tmp_path: Path) -> None:
    nginx = _nginx_binary()
    rendered = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(RENDER_PY), "--out", str(tmp_path)],
        env={**os.environ, "GATEWAY_LISTEN": f"127.0.0.1:{_free_port()}"},
        capture_output=True,
        text=True,
        check=True,
    )
    nginx_conf = rendered.stdout.strip()

    check = subprocess.run(  # noqa: S603 - our own binary and arguments
        [nginx, "-t", "-p", f"{tmp_path}/", "-c", nginx_conf],
        capture_output=True,
        text=True,
        check=False,
    )

    assert check.returncode == 0, check.stderr
    assert "test is successful" in check.stderr


# -- routing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "service"),
    [
        ("POST", "/api/v1/auth/login", "identity"),
        ("POST", "/api/v1/auth/logout", "identity"),
        ("GET", "/api/v1/auth/sessions", "identity"),
        ("GET", "/api/v1/users", "identity"),
        ("GET", "/api/v1/users?limit=5&cursor=abc", "identity"),
        ("GET", "/api/v1/audit-events?type=login.failed&limit=5", "identity"),
        ("PATCH", "/api/v1/users/me", "identity"),
        ("GET", "/.well-known/jwks.json", "identity"),
        ("GET", "/.well-known/oauth-authorization-server", "identity"),
        ("GET", "/api/v1/items", "items"),
        ("POST", "/api/v1/items", "items"),
        ("GET", "/api/v1/items/0b7c5b8e-4c2a-4d43-9d1e-2f1f3f4a5b6c?x=1", "items"),
        ("POST", "/api/v1/items/0b7c5b8e-4c2a-4d43-9d1e-2f1f3f4a5b6c/restore", "items"),
        # Sub-resources of an item ride on the items prefix: no location of their own.
        ("GET", "/api/v1/items/0b7c5b8e-4c2a-4d43-9d1e-2f1f3f4a5b6c/tags", "items"),
        ("PUT", "/api/v1/items/0b7c5b8e-4c2a-4d43-9d1e-2f1f3f4a5b6c/tags/urgent", "items"),
        ("DELETE", "/api/v1/items/0b7c5b8e-4c2a-4d43-9d1e-2f1f3f4a5b6c/tags/urgent", "items"),
    ],
)
def test_request_reaches_its_service_unchanged(
    gateway: Gateway, method: str, path: str, service: str
) -> None:
    reply = gateway.request(method, path, body=b"{}" if method != "GET" else None)

    assert reply.status == 200
    echo = reply.json()
    assert echo["service"] == service
    assert echo["method"] == method
    assert echo["path"] == path


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/nope",
        "/metrics",
        "/health/live",
        "/health/ready",
        "/openapi.json",
        "/docs",
        "/api/v1/usersx",
        "/api/v1/itemsx",
        "/api/v2/items",
        "/docs/identity/metrics",
        "/docs/items/api/v1/items",
    ],
)
def test_unknown_path_is_a_problem_404_from_the_gateway(gateway: Gateway, path: str) -> None:
    reply = gateway.get(path)

    _assert_problem(reply, status=404, code="not_found", instance=path)


def test_problem_instance_stays_valid_json_when_the_path_has_quotes(gateway: Gateway) -> None:
    reply = gateway.get("/no%22such%5Cpath")

    _assert_problem(reply, status=404, code="not_found", instance="/no")


def test_health_answers_200_json(gateway: Gateway) -> None:
    reply = gateway.get("/health")

    assert reply.status == 200
    assert reply.only("Content-Type") == "application/json"
    assert reply.json() == {"status": "ok"}


def test_services_get_http_1_1_with_keepalive(gateway: Gateway) -> None:
    echo = gateway.get("/api/v1/items").json()

    assert echo["version"] == "HTTP/1.1"
    assert "connection" not in echo["headers"]  # no "close": nginx keeps the connection


# -- request ids -----------------------------------------------------------------------------


def test_request_id_is_generated_when_the_client_sends_none(gateway: Gateway) -> None:
    reply = gateway.get("/api/v1/items")

    request_id = reply.only("X-Request-ID")
    assert NGINX_REQUEST_ID.fullmatch(request_id)
    assert reply.json()["headers"]["x-request-id"] == [request_id]


def test_request_id_is_kept_when_safe(gateway: Gateway) -> None:
    client_id = "client-Id_1.2:3"

    reply = gateway.get("/api/v1/items", headers={"X-Request-ID": client_id})

    assert reply.only("X-Request-ID") == client_id
    assert reply.json()["headers"]["x-request-id"] == [client_id]


@pytest.mark.parametrize(
    "unsafe", ["short", "with spaces in it", "x" * 129, 'quote"inside', "semi;colon;id"]
)
def test_request_id_is_replaced_when_unsafe(gateway: Gateway, unsafe: str) -> None:
    reply = gateway.get("/api/v1/items", headers={"X-Request-ID": unsafe})

    request_id = reply.only("X-Request-ID")
    assert NGINX_REQUEST_ID.fullmatch(request_id)
    assert reply.json()["headers"]["x-request-id"] == [request_id]


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/nope", "/health"])
def test_every_response_carries_exactly_one_request_id(gateway: Gateway, path: str) -> None:
    reply = gateway.get(path)

    assert reply.only("X-Request-ID") != "from-the-service"


def test_access_log_has_one_json_line_per_request(gateway: Gateway) -> None:
    reply = gateway.get("/api/v1/items?q=a", headers={"X-Request-ID": "log-line-test-1"})

    entry = gateway.access_log_entry(reply.only("X-Request-ID"))

    assert entry["status"] == 200
    assert entry["method"] == "GET"
    assert entry["uri"] == "/api/v1/items?q=a"
    assert entry["upstream_addr"].startswith("127.0.0.1:")
    assert isinstance(entry["request_time"], float)
    assert float(entry["upstream_response_time"]) >= 0


# -- trace context --------------------------------------------------------------------------

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")


def _passed_traceparent(reply: Reply) -> tuple[str, str, str]:
    (value,) = reply.json()["headers"]["traceparent"]
    match = TRACEPARENT.fullmatch(value)
    assert match, value
    trace_id, span_id, flags = match.groups()
    return trace_id, span_id, flags


def test_a_request_without_a_traceparent_starts_a_sampled_trace_at_the_gateway(
    gateway: Gateway,
) -> None:
    reply = gateway.get("/api/v1/items")

    trace_id, span_id, flags = _passed_traceparent(reply)
    entry = gateway.access_log_entry(reply.only("X-Request-ID"))
    assert flags == "01"
    assert trace_id == reply.only("X-Request-ID")  # nginx's own request id starts the trace
    assert (entry["trace_id"], entry["span_id"], entry["parent_span_id"]) == (
        trace_id,
        span_id,
        "",
    )


@pytest.mark.parametrize("flags", ["01", "00"])
def test_a_valid_traceparent_is_continued_with_the_gateway_as_parent_and_the_services_sampling(
    gateway: Gateway, flags: str
) -> None:
    reply = gateway.get(
        "/api/v1/users/me",
        headers={
            "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-{flags}",
            "tracestate": "a=b",
            "baggage": "user=x",
        },
    )

    trace_id, span_id, passed_flags = _passed_traceparent(reply)
    entry = gateway.access_log_entry(reply.only("X-Request-ID"))
    # "Sampled" whatever the client said: the services keep a share of traces by trace id.
    assert (trace_id, passed_flags) == (CALLER_TRACE, "01")
    assert span_id != CALLER_SPAN
    assert (entry["trace_id"], entry["span_id"], entry["parent_span_id"]) == (
        CALLER_TRACE,
        span_id,
        CALLER_SPAN,
    )
    headers = reply.json()["headers"]
    assert headers["tracestate"] == ["a=b"]
    assert "baggage" not in headers


@pytest.mark.parametrize(
    "invalid",
    [
        f"00-{'0' * 32}-{CALLER_SPAN}-01",  # all-zero trace id
        f"00-{CALLER_TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{CALLER_TRACE.upper()}-{CALLER_SPAN}-01",  # upper case
        f"ff-{CALLER_TRACE}-{CALLER_SPAN}-01",  # version ff is invalid
        f"00-{CALLER_TRACE}-{CALLER_SPAN}-01-extra",  # version 00 has exactly four fields
        "garbage",
    ],
)
def test_an_invalid_traceparent_is_replaced_by_a_new_trace(gateway: Gateway, invalid: str) -> None:
    reply = gateway.get("/api/v1/items", headers={"traceparent": invalid, "tracestate": "a=b"})

    trace_id, _span_id, flags = _passed_traceparent(reply)
    assert (trace_id, flags) == (reply.only("X-Request-ID"), "01")
    assert gateway.access_log_entry(trace_id)["parent_span_id"] == ""
    assert "tracestate" not in reply.json()["headers"]  # it belonged to the replaced trace


# -- what the services learn about the client ------------------------------------------------


def test_services_see_the_client_address_scheme_and_host(gateway: Gateway) -> None:
    reply = gateway.get("/api/v1/items", headers={"X-Forwarded-For": "203.0.113.9"})

    headers = reply.json()["headers"]
    assert headers["x-forwarded-for"] == ["203.0.113.9, 127.0.0.1"]  # the last hop is real
    assert headers["x-real-ip"] == ["127.0.0.1"]
    assert headers["x-forwarded-proto"] == ["http"]
    assert headers["x-forwarded-host"] == [f"127.0.0.1:{gateway.port}"]


def _login_flood_with_forged_addresses(gateway: Gateway, source: str) -> list[int]:
    """Logins from `source`, each claiming another client address in X-Forwarded-For."""
    return [
        gateway.request(
            "POST",
            "/api/v1/auth/login",
            body=b"{}",
            headers={"X-Forwarded-For": f"198.51.100.{index}", "X-Real-IP": f"198.51.100.{index}"},
            source=source,
        ).status
        for index in range(AUTH_BURST + 2)
    ]


def test_forged_forwarded_for_does_not_change_the_limit_key_when_no_proxy_is_trusted(
    gateway: Gateway,
) -> None:
    statuses = _login_flood_with_forged_addresses(gateway, source="127.0.0.11")

    assert statuses == [200] * (AUTH_BURST + 1) + [429]


def test_forged_forwarded_for_does_not_change_the_limit_key_when_the_peer_is_not_trusted(
    gateway_behind_proxy: Gateway,
) -> None:
    statuses = _login_flood_with_forged_addresses(gateway_behind_proxy, source="127.0.3.1")

    assert statuses == [200] * (AUTH_BURST + 1) + [429]


def test_forwarded_for_from_a_trusted_proxy_is_the_limit_key(
    gateway_behind_proxy: Gateway,
) -> None:
    def login(client: str) -> int:
        return gateway_behind_proxy.request(
            "POST",
            "/api/v1/auth/login",
            body=b"{}",
            headers={"X-Forwarded-For": client},
            source="127.0.2.1",
        ).status

    first_client = [login("203.0.113.1") for _ in range(AUTH_BURST + 2)]
    second_client = login("203.0.113.2")

    assert first_client == [200] * (AUTH_BURST + 1) + [429]
    assert second_client == 200


def test_services_see_the_client_address_a_trusted_proxy_reports(
    gateway_behind_proxy: Gateway,
) -> None:
    # The client, then a second trusted proxy: recursion skips trusted hops from the right.
    forwarded = "192.0.2.99, 198.51.100.7, 127.0.2.9"

    reply = gateway_behind_proxy.get(
        "/api/v1/items", headers={"X-Forwarded-For": forwarded}, source="127.0.2.2"
    )

    headers = reply.json()["headers"]
    assert headers["x-real-ip"] == ["198.51.100.7"]
    assert headers["x-forwarded-for"][0].split(", ")[-1] == "198.51.100.7"  # what ProxyFix reads


def test_client_forwarded_prefix_never_reaches_an_api_call(gateway: Gateway) -> None:
    reply = gateway.get("/api/v1/items", headers={"X-Forwarded-Prefix": "/evil"})

    assert "x-forwarded-prefix" not in reply.json()["headers"]


# -- docs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "service", "upstream_path"),
    [
        ("/docs/identity", "identity", "/docs"),
        ("/docs/identity/", "identity", "/docs"),
        ("/docs/identity/docs", "identity", "/docs"),
        ("/docs/identity/openapi.json", "identity", "/openapi.json"),
        (
            "/docs/identity/docs/assets/js/swagger-ui-bundle.js",
            "identity",
            "/docs/assets/js/swagger-ui-bundle.js",
        ),
        ("/docs/items", "items", "/docs"),
        ("/docs/items/openapi.json", "items", "/openapi.json"),
        ("/docs/items/docs/assets/css/swagger-ui.css", "items", "/docs/assets/css/swagger-ui.css"),
    ],
)
def test_docs_are_proxied_to_the_service_with_its_prefix(
    gateway: Gateway, path: str, service: str, upstream_path: str
) -> None:
    reply = gateway.get(path, headers={"X-Forwarded-Prefix": "/evil"})

    assert reply.status == 200
    echo = reply.json()
    assert echo["service"] == service
    assert echo["path"] == upstream_path
    assert echo["headers"]["x-forwarded-prefix"] == [f"/docs/{service}"]


# -- limits ----------------------------------------------------------------------------------


def _exhaust_auth_limit(gateway: Gateway, source: str) -> list[Reply]:
    return [
        gateway.request("POST", "/api/v1/auth/login", body=b"{}", source=source)
        for _ in range(AUTH_BURST + 2)
    ]


def test_login_burst_is_a_problem_429_with_retry_after(gateway: Gateway) -> None:
    replies = _exhaust_auth_limit(gateway, source="127.0.0.2")

    assert [reply.status for reply in replies] == [200] * (AUTH_BURST + 1) + [429]
    _assert_problem(
        replies[-1], status=429, code="too_many_requests", instance="/api/v1/auth/login"
    )
    assert replies[-1].only("Retry-After") == "60"  # one interval of 1r/m
    assert replies[0].headers.get_all("Retry-After") is None


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("/api/v1/auth/register", "127.0.0.3"),
        ("/api/v1/auth/refresh", "127.0.0.4"),
        ("/api/v1/auth/verify-email", "127.0.4.1"),
        ("/api/v1/auth/verify-email/resend", "127.0.4.2"),
        ("/api/v1/auth/password-reset", "127.0.4.3"),
        ("/api/v1/auth/password-reset/confirm", "127.0.4.4"),
        ("/api/v1/auth/mfa/verify", "127.0.4.5"),
    ],
)
def test_register_refresh_the_account_mails_and_the_second_factor_share_the_login_limit(
    gateway: Gateway, path: str, source: str
) -> None:
    _exhaust_auth_limit(gateway, source=source)

    reply = gateway.request("POST", path, body=b"{}", source=source)

    _assert_problem(reply, status=429, code="too_many_requests", instance=path)


def test_password_change_burst_is_a_problem_429_after_reaching_identity(gateway: Gateway) -> None:
    path = "/api/v1/users/me/password"
    replies = [
        gateway.request("POST", path, body=b"{}", source="127.0.0.9") for _ in range(AUTH_BURST + 2)
    ]

    assert [reply.status for reply in replies] == [200] * (AUTH_BURST + 1) + [429]
    assert (replies[0].json()["service"], replies[0].json()["path"]) == ("identity", path)
    _assert_problem(replies[-1], status=429, code="too_many_requests", instance=path)
    assert replies[-1].only("Retry-After") == "60"


def test_password_change_shares_the_login_limit(gateway: Gateway) -> None:
    _exhaust_auth_limit(gateway, source="127.0.0.10")

    reply = gateway.request("POST", "/api/v1/users/me/password", body=b"{}", source="127.0.0.10")

    _assert_problem(
        reply, status=429, code="too_many_requests", instance="/api/v1/users/me/password"
    )


# Every other spelling of a credential path that reaches identity. nginx routes on the
# normalised path ($uri) but forwards the raw one, which identity answers 404 (only the
# canonical spelling reaches its view); either way, each one spends the canonical budget.
CREDENTIAL_PATH_SPELLINGS = [
    "/api/v1/auth/login/",
    "/api/v1/auth/login%2F",
    "/api/v1/auth/login%2f",
    "//api/v1/auth/login",
    "/api/v1/auth//login",
    "/api/v1/auth/%6Cogin",
    "/api/v1/auth/%6c%6f%67%69%6e",
    "/api/v1/auth/./login",
    "/api/v1/auth/%2e/login",
    "/x/../api/v1/auth/login",
    "/api/v1/auth/x/..%2Flogin",
    "/api/v1/auth/login/.",
    "/api/v1/auth/login;jsessionid=1",
    "/api/v1/auth/login%3B",
    "/api/v1/auth/login.json",
    "/api/v1/auth/LOGIN",
    "/api/v1/auth/Login/",
    "/api/v1/auth/login#fragment",
    "/api/v1/auth/login?x=1",
    "http://evil.example/api/v1/auth/login/",
    "/api/v1/auth/register/",
    "/api/v1/auth/refresh%2F",
    "/api/v1/users/me/password/",
    "/api/v1/users//me/password",
    "/api/v1/users/me/./password/",
]
# Spellings the gateway itself answers 404 (no location matches): nothing reaches identity.
GATEWAY_404_SPELLINGS = ["/API/v1/auth/login", "/api/V1/auth/login/", "/Api/v1/users/me/password"]


def _spelling_source(spelling: str) -> str:
    """A loopback address of its own per spelling, so each one starts with a full budget."""
    spellings = CREDENTIAL_PATH_SPELLINGS + GATEWAY_404_SPELLINGS
    return f"127.0.1.{spellings.index(spelling) + 1}"


@pytest.mark.parametrize("spelling", CREDENTIAL_PATH_SPELLINGS)
def test_credential_path_spelling_spends_the_canonical_budget(
    gateway: Gateway, spelling: str
) -> None:
    source = _spelling_source(spelling)

    flood = [
        gateway.request("POST", spelling, body=b"{}", source=source) for _ in range(AUTH_BURST + 1)
    ]
    canonical = gateway.request("POST", "/api/v1/auth/login", body=b"{}", source=source)
    again = gateway.request("POST", spelling, body=b"{}", source=source)

    assert [reply.status for reply in flood] == [200] * (AUTH_BURST + 1)
    assert {reply.json()["service"] for reply in flood} == {"identity"}
    assert (canonical.status, again.status) == (429, 429)
    assert again.only("Content-Type") == "application/problem+json"


@pytest.mark.parametrize("spelling", GATEWAY_404_SPELLINGS)
def test_credential_path_spelling_is_a_gateway_404_when_no_location_matches(
    gateway: Gateway, spelling: str
) -> None:
    source = _spelling_source(spelling)

    flood = [
        gateway.request("POST", spelling, body=b"{}", source=source) for _ in range(AUTH_BURST + 2)
    ]
    canonical = gateway.request("POST", "/api/v1/auth/login", body=b"{}", source=source)

    for reply in flood:
        _assert_problem(reply, status=404, code="not_found", instance=spelling)
    assert canonical.status == 200  # the 404s spent nothing


def test_auth_limit_is_per_client_address(gateway: Gateway) -> None:
    _exhaust_auth_limit(gateway, source="127.0.0.5")

    reply = gateway.request("POST", "/api/v1/auth/login", body=b"{}", source="127.0.0.6")

    assert reply.status == 200


def test_cors_preflights_are_not_rate_limited(gateway: Gateway) -> None:
    _exhaust_auth_limit(gateway, source="127.0.0.8")

    reply = gateway.request("OPTIONS", "/api/v1/auth/login", source="127.0.0.8")

    assert reply.status == 200
    assert reply.json()["method"] == "OPTIONS"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        "/api/v1/auth/sessions",
        "/api/v1/users/me",
        "/api/v1/items",
        "/.well-known/jwks.json",
    ],
)
def test_other_endpoints_are_not_rate_limited(gateway: Gateway, path: str) -> None:
    _exhaust_auth_limit(gateway, source="127.0.0.7")

    reply = gateway.request("POST", path, body=b"{}", source="127.0.0.7")

    assert reply.status == 200


def test_body_over_1_mib_is_a_problem_413(gateway: Gateway) -> None:
    reply = gateway.request("POST", "/api/v1/items", body=b"x" * (2 * 1024 * 1024))

    _assert_problem(reply, status=413, code="payload_too_large", instance="/api/v1/items")


def test_body_up_to_1_mib_reaches_the_service(gateway: Gateway) -> None:
    reply = gateway.request("POST", "/api/v1/items", body=b"x" * (1024 * 1024))

    assert reply.status == 200
    assert reply.json()["body_bytes"] == 1024 * 1024


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/users/_reply/404", 404), ("/api/v1/items/_reply/503", 503)],
)
def test_service_errors_pass_through_untouched(gateway: Gateway, path: str, status: int) -> None:
    reply = gateway.get(path)

    assert reply.status == status
    assert reply.only("Content-Type") == "application/problem+json"
    assert reply.body == UPSTREAM_PROBLEM % status


@pytest.mark.parametrize(
    "path", ["/api/v1/items", "/api/v1/auth/login", "/docs/identity", "/.well-known/jwks.json"]
)
def test_unreachable_service_is_a_problem_502(gateway_without_services: Gateway, path: str) -> None:
    reply = gateway_without_services.get(path)

    _assert_problem(reply, status=502, code="bad_gateway", instance=path)


def test_service_that_never_accepts_the_connection_is_a_problem_503(
    gateway_with_silent_services: Gateway,
) -> None:
    reply = gateway_with_silent_services.get("/.well-known/jwks.json")

    _assert_problem(
        reply, status=503, code="service_unavailable", instance="/.well-known/jwks.json"
    )


# -- what the gateway answers itself ----------------------------------------------------------

RFC_9110_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE"]
ROUTES = {  # a path of each route, and the Allow of the gateway's own 405 on it
    "/api/v1/auth/sessions": "GET, HEAD, POST, PATCH, DELETE, OPTIONS",
    "/api/v1/users/me": "GET, HEAD, POST, PATCH, DELETE, OPTIONS",
    "/api/v1/audit-events": "GET, HEAD, POST, PATCH, DELETE, OPTIONS",
    "/api/v1/items": "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
    "/api/v1/items/0b7c5b8e-4c2a-4d43-9d1e-2f1f3f4a5b6c/tags/urgent": (
        "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    ),
    "/.well-known/jwks.json": "GET, HEAD, OPTIONS",
    "/docs/identity": "GET, HEAD, OPTIONS",
    "/docs/items": "GET, HEAD, OPTIONS",
    "/health": "GET, HEAD",
    "/no/such/path": "",
}


def _expected_status(method: str, path: str) -> int:
    """What the gateway does with `method` on `path` in front of services that answer all."""
    if not ROUTES[path]:
        return 404
    if path == "/health":
        return 200 if method in {"GET", "HEAD"} else 405
    return 405 if method in {"TRACE", "CONNECT"} else 200  # nginx refuses these two itself


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("method", [*RFC_9110_METHODS, "PROPFIND"])
def test_every_method_on_every_route_is_answered_without_html_or_a_5xx(
    gateway: Gateway, method: str, path: str
) -> None:
    reply = gateway.raw(
        f"{method} {path} HTTP/1.1\r\nHost: gateway\r\nContent-Length: 0".encode(),
        method=method,
        source="127.0.0.12",
    )

    assert reply.status == _expected_status(method, path)
    if reply.status >= 400:
        assert reply.only("Content-Type") == "application/problem+json"
    if reply.status >= 400 and method != "HEAD":
        code = "method_not_allowed" if reply.status == 405 else "not_found"
        _assert_problem(reply, status=reply.status, code=code, instance=path)
    if reply.status == 405:
        assert reply.only("Allow") == ROUTES[path]
    else:
        assert reply.headers.get_all("Allow") is None


def test_a_405_from_a_service_keeps_the_services_allow_only(gateway: Gateway) -> None:
    reply = gateway.get("/api/v1/items/_reply/405")

    assert reply.status == 405
    assert reply.headers.get_all("Allow") is None  # the stand-in sends none, nor may the gateway


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"GARBAGE", id="no-uri"),
        pytest.param(b"get /api/v1/items HTTP/1.1\r\nHost: gateway", id="lower-case-method"),
        pytest.param(b"GET api/v1/items HTTP/1.1\r\nHost: gateway", id="relative-path"),
        pytest.param(b"GET /api/v1/items HTTP/1.1", id="no-host"),
        pytest.param(b"GET /api/v1/items HTTP/1.1\r\nHost: a\r\nHost: b", id="two-hosts"),
        pytest.param(b"GET /api/v1/items%00 HTTP/1.1\r\nHost: gateway", id="nul-in-path"),
        pytest.param(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443", id="connect"),
        pytest.param(b"GET /api/v1/items HTTP/1.1\r\nHost: gateway\r\n: no-name", id="header"),
    ],
)
def test_malformed_request_is_a_problem_400(gateway: Gateway, head: bytes) -> None:
    reply = gateway.raw(head)

    assert reply.status == 400
    assert reply.only("Content-Type") == "application/problem+json"
    problem = reply.json()
    assert set(problem) == PROBLEM_KEYS
    assert (problem["status"], problem["code"]) == (400, "bad_request")


def test_request_line_longer_than_the_limit_is_a_problem_414(gateway: Gateway) -> None:
    reply = gateway.raw(b"GET /api/v1/items?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: gateway")

    _assert_problem(reply, status=414, code="uri_too_long", instance="")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(b"X-Big: " + b"x" * 9000, id="one-large-header"),
        pytest.param(
            b"\r\n".join(b"X-Many-%d: %s" % (i, b"x" * 7000) for i in range(6)), id="all-headers"
        ),
    ],
)
def test_headers_larger_than_the_limit_are_a_problem_431(gateway: Gateway, headers: bytes) -> None:
    reply = gateway.raw(b"GET /api/v1/items HTTP/1.1\r\nHost: gateway\r\n" + headers)

    _assert_problem(
        reply, status=431, code="request_header_fields_too_large", instance="/api/v1/items"
    )


def test_unknown_transfer_coding_is_a_problem_501(gateway: Gateway) -> None:
    reply = gateway.raw(b"POST /api/v1/items HTTP/1.1\r\nHost: gateway\r\nTransfer-Encoding: gzip")

    _assert_problem(reply, status=501, code="not_implemented", instance="/api/v1/items")


def test_unsupported_http_version_is_a_problem_505(gateway: Gateway) -> None:
    reply = gateway.raw(b"GET /api/v1/items HTTP/2.0\r\nHost: gateway")

    _assert_problem(reply, status=505, code="http_version_not_supported", instance="")


# -- headers ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/items", "/api/v1/users/_reply/404", "/nope", "/health", "/docs/items"]
)
def test_every_response_has_the_security_headers_once(gateway: Gateway, path: str) -> None:
    reply = gateway.get(path)

    for name, value in SECURITY_HEADERS.items():
        assert reply.only(name) == value


def test_server_header_does_not_reveal_the_nginx_version(gateway: Gateway) -> None:
    reply = gateway.get("/api/v1/items")

    assert reply.only("Server") == "nginx"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/items",
        "/api/v1/users/_reply/404",
        "/nope",
        "/health",
        "/.well-known/jwks.json",
        "/docs/identity/openapi.json",
        "/docs/items/docs/assets/js/swagger-ui-bundle.js",
        "/docs/identity/metrics",
    ],
)
def test_every_non_docs_response_has_the_restrictive_content_security_policy_once(
    gateway: Gateway, path: str
) -> None:
    reply = gateway.get(path)

    assert reply.only("Content-Security-Policy") == API_CSP


@pytest.mark.parametrize(
    "path", ["/docs/identity", "/docs/identity/", "/docs/identity/docs", "/docs/items"]
)
def test_docs_pages_have_the_self_only_content_security_policy_once(
    gateway: Gateway, path: str
) -> None:
    reply = gateway.get(path)

    assert reply.only("Content-Security-Policy") == DOCS_CSP


@pytest.mark.parametrize("path", ["/api/v1/items", "/nope", "/health", "/docs/items"])
def test_no_response_has_strict_transport_security_when_gateway_hsts_is_unset(
    gateway: Gateway, path: str
) -> None:
    reply = gateway.get(path)

    assert reply.headers.get_all("Strict-Transport-Security") is None


@pytest.mark.parametrize("path", ["/api/v1/items", "/nope", "/health", "/docs/items"])
def test_every_response_has_strict_transport_security_once_when_gateway_hsts_is_set(
    gateway_behind_proxy: Gateway, path: str
) -> None:
    reply = gateway_behind_proxy.get(path)

    assert reply.only("Strict-Transport-Security") == HSTS


@pytest.mark.parametrize("path", ["/nope", "/health", "/api/v1/items"])
def test_response_is_no_store_when_no_cache_policy_came_from_a_service(
    gateway: Gateway, path: str
) -> None:
    reply = gateway.get(path, headers={"Authorization": "Bearer x"})

    assert reply.only("Cache-Control") == "no-store"


def test_services_cache_policy_passes_through_unchanged(gateway: Gateway) -> None:
    reply = gateway.get("/api/v1/items/_cached")

    assert reply.only("Cache-Control") == SERVICE_CACHE_CONTROL


def test_rate_limited_response_is_no_store(gateway: Gateway) -> None:
    replies = _exhaust_auth_limit(gateway, source="127.0.0.13")

    assert replies[-1].status == 429
    assert replies[-1].only("Cache-Control") == "no-store"


# -- the password bulkhead -------------------------------------------------------------------


PASSWORD_CONCURRENCY = 2


@pytest.fixture(scope="module")
def gateway_with_password_bulkhead(
    tmp_path_factory: pytest.TempPathFactory, identity_service: StandIn, items_service: StandIn
) -> Iterator[Gateway]:
    """Rate limits lifted (a flood from many addresses), the password bulkhead at 2."""
    with _running_nginx(
        tmp_path_factory.mktemp("gateway-bulkhead"),
        IDENTITY_UPSTREAM=identity_service.address,
        ITEMS_UPSTREAM=items_service.address,
        GATEWAY_AUTH_RATE="10000r/s",
        GATEWAY_AUTH_BURST="10000",
        GATEWAY_PASSWORD_CONCURRENCY=str(PASSWORD_CONCURRENCY),
    ) as running:
        yield running


@contextmanager
def _logins_in_flight(gateway: Gateway, count: int) -> Iterator[None]:
    """`count` logins that reach identity and stay there until the block ends."""
    _RELEASE.clear()
    with _HELD_LOCK:
        _HELD.clear()
    threads = [
        threading.Thread(
            target=gateway.request, args=("POST", "/api/v1/auth/login/_hold"), daemon=True
        )
        for _ in range(count)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(_HELD) < count:
        assert time.monotonic() < deadline, f"only {len(_HELD)} of {count} logins arrived"
        time.sleep(0.01)
    try:
        yield
    finally:
        _RELEASE.set()
        for thread in threads:
            thread.join(timeout=10)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/auth/login",
        "/api/v1/auth/register",
        "/api/v1/users/me/password",
        "/api/v1/auth/password-reset/confirm",
    ],
)
def test_password_request_is_a_problem_503_overloaded_when_the_bulkhead_is_full(
    gateway_with_password_bulkhead: Gateway, path: str
) -> None:
    gateway = gateway_with_password_bulkhead
    with _logins_in_flight(gateway, PASSWORD_CONCURRENCY):
        started = time.monotonic()
        reply = gateway.request("POST", path, body=b"{}")
        elapsed = time.monotonic() - started

    _assert_problem(reply, status=503, code="overloaded", instance=path)
    assert reply.only("Retry-After") == "1"
    assert elapsed < 1  # answered at once, not queued behind the logins in flight


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/auth/refresh"),
        ("POST", "/api/v1/auth/password-reset"),
        ("GET", "/api/v1/users/me"),
        ("GET", "/api/v1/items"),
        ("OPTIONS", "/api/v1/auth/login"),
    ],
)
def test_other_requests_pass_when_the_password_bulkhead_is_full(
    gateway_with_password_bulkhead: Gateway, method: str, path: str
) -> None:
    gateway = gateway_with_password_bulkhead
    with _logins_in_flight(gateway, PASSWORD_CONCURRENCY):
        reply = gateway.request(method, path, body=b"{}")

    assert reply.status == 200
    assert reply.headers.get_all("Retry-After") is None


def test_password_request_passes_again_when_a_login_in_flight_ends(
    gateway_with_password_bulkhead: Gateway,
) -> None:
    gateway = gateway_with_password_bulkhead
    with _logins_in_flight(gateway, PASSWORD_CONCURRENCY):
        pass

    reply = gateway.request("POST", "/api/v1/auth/login", body=b"{}")

    assert reply.status == 200
    assert reply.json()["path"] == "/api/v1/auth/login"


def test_password_requests_below_the_bulkhead_pass_while_others_are_in_flight(
    gateway_with_password_bulkhead: Gateway,
) -> None:
    gateway = gateway_with_password_bulkhead
    with _logins_in_flight(gateway, PASSWORD_CONCURRENCY - 1):
        reply = gateway.request("POST", "/api/v1/auth/login", body=b"{}")

    assert reply.status == 200
