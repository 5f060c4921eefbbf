"""Render the gateway for nginx run as a local process (`make run`, the gateway and e2e tests).

    IDENTITY_UPSTREAM=127.0.0.1:8001 ... python gateway/render.py --out DIR
    nginx -p DIR/ -c DIR/nginx.conf

writes `DIR/conf.d/gateway.conf` (`templates/gateway.conf.template` rendered the way the
official nginx image renders it: envsubst of the listed variables only, every other `$name`
left to nginx), `DIR/conf.d/gateway-real-ip.conf` (what the image's
`docker-entrypoint.d/19-gateway-settings.sh` writes from GATEWAY_REAL_IP_FROM and
GATEWAY_REAL_IP_HEADER) and a top-level `DIR/nginx.conf` that plays the image's part: `daemon
off`, pid and temporary files under DIR, error log to stderr, access log to stdout (set by the
template), and `conf.d/*.conf` included inside `http {}`. Standard library only.
"""

import argparse
import ipaddress
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

TEMPLATE: Final = Path(__file__).resolve().parent / "templates" / "gateway.conf.template"

_HOST_PORT: Final = r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):[0-9]{1,5}"


@dataclass(frozen=True, slots=True)
class Variable:
    """A template variable: its native-mode default and the shape nginx accepts."""

    default: str
    pattern: str
    example: str


VARIABLES: Final[Mapping[str, Variable]] = {
    "IDENTITY_UPSTREAM": Variable("127.0.0.1:8001", _HOST_PORT, "identity:8000"),
    "ITEMS_UPSTREAM": Variable("127.0.0.1:8002", _HOST_PORT, "items:8000"),
    "GATEWAY_LISTEN": Variable("127.0.0.1:8080", rf"(?:{_HOST_PORT}|[0-9]{{1,5}})", "8080"),
    "GATEWAY_AUTH_RATE": Variable("5r/s", r"[1-9][0-9]*r/[sm]", "5r/s"),
    "GATEWAY_AUTH_BURST": Variable("10", r"[0-9]{1,6}", "10"),
    "GATEWAY_PASSWORD_CONCURRENCY": Variable("4", r"[1-9][0-9]{0,3}", "4"),
    # Empty: no header. The same grammar 19-gateway-settings.sh checks in the container.
    "GATEWAY_HSTS": Variable(
        "",
        r"(?i:(?:max-age=[0-9]+(?: *; *(?:includeSubDomains|preload))*)?)",
        "max-age=31536000; includeSubDomains",
    ),
}

_ADDRESSES: Final = frozenset({"IDENTITY_UPSTREAM", "ITEMS_UPSTREAM", "GATEWAY_LISTEN"})

REAL_IP_CONF: Final = "gateway-real-ip.conf"
"""Written beside gateway.conf; not a template: one set_real_ip_from per trusted proxy."""
REAL_IP_VARIABLES: Final = ("GATEWAY_REAL_IP_FROM", "GATEWAY_REAL_IP_HEADER")
DEFAULT_REAL_IP_HEADER: Final = "X-Forwarded-For"
# The shapes 19-gateway-settings.sh accepts (no leading zeros, no zone, no embedded IPv4);
# ipaddress then checks the values and that no host bit is set.
_TRUSTED_PROXY: Final = re.compile(
    r"(?:0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,2})){3}(?:/(?:0|[1-9][0-9]?))?"
    r"|[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(?:/(?:0|[1-9][0-9]{0,2}))?"
)
_LIST_SEPARATOR: Final = re.compile(r"[ \t\n,]+")
_HEADER_NAME: Final = re.compile(r"[A-Za-z0-9-]{1,64}")

# envsubst's syntax: `$NAME` (the longest identifier) or `${NAME}`.
_REFERENCE: Final = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
# The prefix goes into nginx.conf unquoted: no whitespace, quotes, `$`, `;`, braces or `#`.
_UNSAFE_PATH: Final = re.compile(r"[\s\"'\\$;{}#]")


class RenderError(ValueError):
    """A variable or the output directory cannot make a valid configuration."""


def gateway_values(environ: Mapping[str, str]) -> dict[str, str]:
    """Each template variable from `environ` (an empty value counts as unset), else its default.

    Raises:
        RenderError: a value nginx would reject or misread.
    """
    values: dict[str, str] = {}
    for name, variable in VARIABLES.items():
        value = environ.get(name) or variable.default
        if not re.fullmatch(variable.pattern, value):
            raise RenderError(f"{name}={value!r} is invalid (example: {variable.example!r})")
        if name in _ADDRESSES and not 0 < int(value.rsplit(":", 1)[-1]) < 65536:
            raise RenderError(f"{name}={value!r}: the port must be 1-65535")
        values[name] = value
    return values


def substitute(template: str, values: Mapping[str, str]) -> str:
    """Replace `$NAME` and `${NAME}` for the names in `values` only, as `envsubst '$NAME ...'`
    does; every other `$...` (nginx's variables) is left as it is."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        return values.get(name, match.group(0))

    return _REFERENCE.sub(replace, template)


def render_gateway_conf(values: Mapping[str, str]) -> str:
    """The template rendered with `values` (the file the image writes to conf.d/)."""
    return substitute(TEMPLATE.read_text(encoding="utf-8"), values)


def trusted_proxies(environ: Mapping[str, str]) -> list[str]:
    """The entries of GATEWAY_REAL_IP_FROM, as written (empty: no proxy is trusted).

    Raises:
        RenderError: an entry that is not an IPv4/IPv6 address or CIDR with zero host bits.
    """
    listed = _LIST_SEPARATOR.split(environ.get("GATEWAY_REAL_IP_FROM", ""))
    proxies = [entry for entry in listed if entry]
    for entry in proxies:
        if not _is_network(entry):
            raise RenderError(
                f"GATEWAY_REAL_IP_FROM: {entry!r} is not an IPv4/IPv6 address or CIDR with zero"
                " host bits (example: '10.0.0.0/8')"
            )
    return proxies


def _is_network(entry: str) -> bool:
    if not _TRUSTED_PROXY.fullmatch(entry):
        return False
    try:
        ipaddress.ip_network(entry, strict=True)
    except ValueError:
        return False
    return True


def render_real_ip_conf(environ: Mapping[str, str]) -> str:
    """The http-level include that sets the client address from trusted proxies' header; the
    same text 19-gateway-settings.sh writes in the container.

    Raises:
        RenderError: an invalid GATEWAY_REAL_IP_FROM entry or GATEWAY_REAL_IP_HEADER.
    """
    header = environ.get("GATEWAY_REAL_IP_HEADER") or DEFAULT_REAL_IP_HEADER
    if not _HEADER_NAME.fullmatch(header):
        raise RenderError(
            f"GATEWAY_REAL_IP_HEADER={header!r} is not a header name (example: 'X-Forwarded-For')"
        )
    lines = [
        "# Client address behind trusted proxies (GATEWAY_REAL_IP_FROM, GATEWAY_REAL_IP_HEADER).",
        "# Written when the gateway starts; change the variables, not this file.",
    ]
    proxies = trusted_proxies(environ)
    lines += [f"set_real_ip_from {proxy};" for proxy in proxies]
    if proxies:
        lines += [f"real_ip_header {header};", "real_ip_recursive on;"]
    else:
        lines.append("# No trusted proxy: the client address is the connection's peer.")
    return "\n".join(lines) + "\n"


def render_nginx_conf(prefix: Path, *, run_as_root: bool) -> str:
    """The top-level nginx.conf for `nginx -p PREFIX/ -c PREFIX/nginx.conf`."""
    # Worker processes of a root master switch to `nobody`, who cannot reach a prefix under a
    # private directory (pytest's tmp_path is 0700); a local gateway gains nothing from it.
    user = "user root;\n" if run_as_root else ""
    temp = prefix / "temp"
    return f"""\
# Generated by gateway/render.py; edit gateway/templates/gateway.conf.template instead.
# Run: nginx -p {prefix}/ -c {prefix}/nginx.conf
{user}worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log stderr warn;

events {{
    worker_connections 1024;
}}

http {{
    # As in the image's nginx.conf: types by extension (include mime.types), else octet-stream.
    types {{
        text/html html htm;
        text/css css;
        application/javascript js;
        application/json json;
        image/svg+xml svg;
        image/png png;
    }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 65s;

    client_body_temp_path {temp}/client_body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;

    include {prefix}/conf.d/*.conf;
}}
"""


def render(out: Path, environ: Mapping[str, str]) -> Path:
    """Write `out/nginx.conf`, `out/conf.d/gateway.conf` and `out/conf.d/gateway-real-ip.conf`;
    return the nginx.conf path.

    Raises:
        RenderError: an invalid variable, or an output path nginx.conf cannot hold.
    """
    prefix = out.resolve()
    if _UNSAFE_PATH.search(str(prefix)):
        raise RenderError(f"output directory {str(prefix)!r} has characters nginx.conf cannot hold")
    values = gateway_values(environ)
    real_ip_conf = render_real_ip_conf(environ)
    (prefix / "conf.d").mkdir(parents=True, exist_ok=True)
    (prefix / "temp").mkdir(exist_ok=True)
    (prefix / "conf.d" / "gateway.conf").write_text(render_gateway_conf(values), encoding="utf-8")
    (prefix / "conf.d" / REAL_IP_CONF).write_text(real_ip_conf, encoding="utf-8")
    nginx_conf = prefix / "nginx.conf"
    nginx_conf.write_text(
        render_nginx_conf(prefix, run_as_root=hasattr(os, "geteuid") and os.geteuid() == 0),
        encoding="utf-8",
    )
    return nginx_conf


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: render into --out from the environment; print the nginx.conf path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", required=True, type=Path, help="directory to write into")
    args = parser.parse_args(argv)
    try:
        nginx_conf = render(args.out, os.environ)
    except RenderError as exc:
        print(f"gateway/render.py: {exc}", file=sys.stderr)
        return 2
    print(nginx_conf)
    return 0


if __name__ == "__main__":
    sys.exit(main())
