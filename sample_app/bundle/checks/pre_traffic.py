"""Pre-traffic checks: send a release's critical requests to the local service, judge the bytes.

CodeDeploy runs this from the ValidateService hook (``scripts/validate_release.sh``), which
comes after ApplicationStart and before the instance is registered with the target group
again (CodeDeploy User Guide, AppSpec 'hooks' section, lifecycle event order for an in-place
deployment with a load balancer). A non-zero exit fails the instance's deployment, so a
release that answers a critical route with a broken response never gets traffic back.

What to send and what to expect comes from ``config/validate.json`` (see
``load_checks``), so a user adapts the checks to their own service without editing shell.
The client speaks HTTP/1.1 over a raw socket and judges the framing itself, because a
forgiving client hides exactly the faults an ALB answers with a 502 or 504 of its own (ELB
User Guide, "Troubleshoot your Application Load Balancers", HTTP 502 and HTTP 504): a
connection closed or reset before any byte, an incomplete or malformed header block, a body
shorter than its ``Content-Length``, a body whose end cannot be told from a dropped
connection. Then the expectations: status, required headers, a JSON body with given keys.

Standard library only and Python 3.9 syntax: it runs with the instance's system ``python3``
(Amazon Linux 2023), like the app itself.

    python3 checks/pre_traffic.py --config config/validate.json --port 8080
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 1024 * 1024
DEFAULT_TIMEOUT_SECONDS = 5.0
# After a complete body, how long to listen for bytes the framing did not announce.
TRAILING_BYTES_WAIT_SECONDS = 0.2
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# RFC 9112 section 4 (status line) and RFC 9110 section 5.1/5.5 (field name is a token,
# field value has no control characters but tab). obs-fold (a continuation line) is
# obsolete and rejected here, as a strict proxy may reject it.
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [\x09\x20-\x7e\x80-\xff]*)?")
_FIELD_LINE = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x09\x20-\x7e\x80-\xff]*?)[ \t]*")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,8})(?:;[^\r\n]*)?")
# RFC 9110 section 6.4.1: these answers carry no body whatever their headers say.
_NO_BODY_STATUSES = frozenset({204, 304})


class ConfigError(ValueError):
    """validate.json names a field with a value outside what the checker accepts."""


class ResponseError(Exception):
    """The response is incomplete, malformed or wrongly framed: what an ALB turns into 5xx."""


@dataclass(frozen=True)
class Check:
    """One request and what its answer must look like."""

    name: str
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    statuses: tuple[int, ...] = (200,)
    # Header name -> regular expression the value must match in full.
    required_headers: dict[str, str] = field(default_factory=dict)
    json_body: bool = False
    # Top-level keys the body must have; naming any also makes the body required to be JSON.
    json_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    check: str
    passed: bool
    detail: str


def load_checks(path: Path) -> tuple[bool, float, list[Check]]:
    """Read validate.json: ``{"enabled", "timeout_seconds", "checks": [...]}``.

    Each check: ``name``, ``method``, ``path``, optional ``headers`` (object of strings),
    ``body`` (any JSON value, sent as compact JSON with ``Content-Type: application/json``),
    and ``expect``: ``status`` (a code or a list), ``headers`` (name -> regular expression),
    ``json`` (true: the body must be a JSON document), ``json_keys`` (top-level keys).
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read a JSON document ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object at the top")
    enabled = data.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ConfigError(f"enabled={enabled!r}: allowed true or false")
    timeout = data.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS)
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0.1 <= timeout <= 60
    ):
        raise ConfigError(f"timeout_seconds={timeout!r}: allowed 0.1..60")
    raw_checks = data.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        raise ConfigError(f"checks={raw_checks!r}: expected a non-empty list of checks")
    checks = [_check(i, raw) for i, raw in enumerate(raw_checks)]
    return enabled, float(timeout), checks


def _check(index: int, raw: Any) -> Check:
    where = f"checks[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}={raw!r}: expected an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}.name={name!r}: expected a non-empty string")
    method = raw.get("method")
    if method not in METHODS:
        raise ConfigError(f"{where}.method={method!r}: allowed {', '.join(METHODS)}")
    path = _path(raw.get("path"), where)
    headers = _string_map(raw.get("headers", {}), f"{where}.headers")
    body = b""
    if "body" in raw:
        body = json.dumps(raw["body"], separators=(",", ":")).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    expect = raw.get("expect", {})
    if not isinstance(expect, dict):
        raise ConfigError(f"{where}.expect={expect!r}: expected an object")
    return Check(
        name=name,
        method=method,
        path=path,
        headers=headers,
        body=body,
        statuses=_statuses(expect.get("status", 200), where),
        required_headers=_required_headers(expect.get("headers", {}), where),
        json_body=_flag(expect.get("json", False), f"{where}.expect.json"),
        json_keys=_json_keys(expect.get("json_keys", []), where),
    )


def _path(path: Any, where: str) -> str:
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or not path.isprintable()
        or " " in path
    ):
        raise ConfigError(f"{where}.path={path!r}: expected an origin-form path starting with '/'")
    return path


def _statuses(status: Any, where: str) -> tuple[int, ...]:
    statuses = tuple(status) if isinstance(status, list) else (status,)
    if not statuses or any(
        isinstance(s, bool) or not isinstance(s, int) or not 100 <= s <= 599 for s in statuses
    ):
        raise ConfigError(
            f"{where}.expect.status={status!r}: allowed a code or a list of codes, 100..599"
        )
    return statuses


def _required_headers(raw: Any, where: str) -> dict[str, str]:
    required = _string_map(raw, f"{where}.expect.headers")
    for header, pattern in required.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(
                f"{where}.expect.headers.{header}={pattern!r}: not a regular expression ({exc})"
            ) from exc
    return required


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where}={value!r}: allowed true or false")
    return value


def _json_keys(keys: Any, where: str) -> tuple[str, ...]:
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{where}.expect.json_keys={keys!r}: expected a list of strings")
    return tuple(keys)


def _string_map(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ConfigError(f"{where}={raw!r}: expected an object of strings")
    for name, value in raw.items():
        if not _FIELD_LINE.fullmatch(f"{name}: {value}".encode()):
            raise ConfigError(f"{where}.{name}={value!r}: not a valid HTTP header")
    return dict(raw)


def request_bytes(check: Check, host: str, port: int) -> bytes:
    """The request as an ALB would send it: HTTP/1.1, keep-alive, explicit Content-Length."""
    lines = [f"{check.method} {check.path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in check.headers.items()]
    if check.body or check.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(check.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + check.body


def exchange(
    check: Check, port: int, *, host: str = HOST, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> Response:
    """Send one request and read one response, strictly framed, or raise ``ResponseError``."""
    deadline = time.monotonic() + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ResponseError(f"cannot connect to {host}:{port} ({exc})") from exc
    with sock:
        try:
            sock.sendall(request_bytes(check, host, port))
            return _read_response(_Reader(sock, deadline), head=check.method == "HEAD")
        except socket.timeout:
            raise ResponseError(
                f"no complete response within {timeout:g} s (an ALB answers 504)"
            ) from None
        except ConnectionResetError:
            raise ResponseError("connection reset by the service") from None
        except OSError as exc:  # a broken pipe while sending, an aborted connection
            raise ResponseError(f"connection failed mid-exchange ({exc})") from None


class _Reader:
    """Buffered reads from a socket against one deadline; records how many bytes arrived."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buffer = b""
        self.received = 0
        self.closed = False

    def _fill(self) -> bool:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self._sock.settimeout(remaining)
        data = self._sock.recv(65536)
        if not data:
            self.closed = True
            return False
        self.received += len(data)
        self._buffer += data
        return True

    def until(self, marker: bytes, limit: int) -> bytes | None:
        """Bytes up to and including ``marker``; None if the peer closed first."""
        while marker not in self._buffer:
            if len(self._buffer) > limit:
                raise ResponseError(f"no end of line/header block within {limit} bytes")
            if not self._fill():
                return None
        end = self._buffer.index(marker) + len(marker)
        data, self._buffer = self._buffer[:end], self._buffer[end:]
        return data

    def exactly(self, count: int) -> bytes | None:
        while len(self._buffer) < count:
            if not self._fill():
                return None
        data, self._buffer = self._buffer[:count], self._buffer[count:]
        return data

    def pending(self) -> bytes:
        return self._buffer

    def trailing(self, wait: float) -> bytes:
        """Bytes already buffered or arriving within ``wait`` seconds; never waits past it."""
        if self._buffer or self.closed:
            return self._buffer
        self._sock.settimeout(wait)
        try:
            return self._sock.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return b""


def _read_response(reader: _Reader, *, head: bool) -> Response:
    block = reader.until(b"\r\n\r\n", MAX_HEADER_BYTES)
    if block is None:
        if reader.received == 0:
            raise ResponseError("connection closed before any byte of a response")
        raise ResponseError(
            f"connection closed inside the header block after {reader.received} bytes: "
            "incomplete headers"
        )
    status, headers = _parse_head(block[:-4])
    framing = headers.get("transfer-encoding")
    length = headers.get("content-length")
    if head or status in _NO_BODY_STATUSES or 100 <= status < 200:
        if status in _NO_BODY_STATUSES and not head and length not in (None, "0"):
            raise ResponseError(f"{status} announces Content-Length {length}; it has no body")
        body = b""
    elif framing is not None:
        if length is not None:
            raise ResponseError("both Transfer-Encoding and Content-Length: ambiguous framing")
        if framing.lower() != "chunked":
            raise ResponseError(f"Transfer-Encoding {framing!r}: only chunked is framed")
        body = _read_chunked(reader)
    elif length is not None:
        body = _read_length(reader, length)
    else:
        # Legal HTTP, but a body that ends only when the connection closes cannot be told
        # apart from one cut short: exactly the fault this check is for.
        raise ResponseError(
            "no Content-Length or chunked Transfer-Encoding: the body's end is undefined"
        )
    extra = reader.trailing(TRAILING_BYTES_WAIT_SECONDS)
    if extra:
        raise ResponseError(
            f"{len(extra)} bytes beyond the framed body: Content-Length too small or a second answer"
        )
    return Response(status=status, headers=headers, body=body)


def _parse_head(block: bytes) -> tuple[int, dict[str, str]]:
    lines = block.split(b"\r\n")
    status_match = _STATUS_LINE.fullmatch(lines[0])
    if status_match is None:
        raise ResponseError(f"malformed status line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        match = _FIELD_LINE.fullmatch(line)
        if match is None:
            raise ResponseError(f"malformed header line {line[:80]!r}")
        name = match.group(1).decode("ascii").lower()
        value = match.group(2).decode("latin-1")
        if (
            name in headers
            and name in ("content-length", "transfer-encoding")
            and headers[name] != value
        ):
            raise ResponseError(f"conflicting {name} headers: {headers[name]!r} and {value!r}")
        headers[name] = value if name not in headers else f"{headers[name]}, {value}"
    if "content-length" in headers and "," in headers["content-length"]:
        # Repeated identical values were joined above; keep one (RFC 9110 section 8.6).
        headers["content-length"] = headers["content-length"].split(",")[0].strip()
    return int(status_match.group(1)), headers


def _read_length(reader: _Reader, raw: str) -> bytes:
    if not raw.isdigit():
        raise ResponseError(f"Content-Length {raw!r} is not a number")
    length = int(raw)
    if length > MAX_BODY_BYTES:
        raise ResponseError(f"Content-Length {length} over the checker's {MAX_BODY_BYTES} bytes")
    body = reader.exactly(length)
    if body is None:
        got = len(reader.pending())
        raise ResponseError(
            f"body shorter than Content-Length: {got} of {length} bytes, then the connection "
            "closed (truncated response)"
        )
    return body


def _read_chunked(reader: _Reader) -> bytes:
    body = b""
    while True:
        line = reader.until(b"\r\n", 1024)
        if line is None:
            raise ResponseError("connection closed inside a chunked body (truncated response)")
        size_match = _CHUNK_SIZE.fullmatch(line[:-2])
        if size_match is None:
            raise ResponseError(f"malformed chunk size line {line[:40]!r}")
        size = int(size_match.group(1), 16)
        if size == 0:
            while True:  # trailer fields, up to the empty line
                trailer = reader.until(b"\r\n", MAX_HEADER_BYTES)
                if trailer is None:
                    raise ResponseError("connection closed before the end of a chunked body")
                if trailer == b"\r\n":
                    return body
        if len(body) + size > MAX_BODY_BYTES:
            raise ResponseError(f"chunked body over the checker's {MAX_BODY_BYTES} bytes")
        chunk = reader.exactly(size + 2)
        if chunk is None:
            raise ResponseError("connection closed inside a chunk (truncated response)")
        if not chunk.endswith(b"\r\n"):
            raise ResponseError("chunk longer than its announced size")
        body += chunk[:-2]


def judge(check: Check, response: Response) -> str | None:
    """Why ``response`` does not meet ``check``'s expectations, or None when it does."""
    if response.status not in check.statuses:
        return f"status {response.status}, expected {' or '.join(map(str, check.statuses))}"
    for name, pattern in check.required_headers.items():
        value = response.headers.get(name.lower())
        if value is None:
            return f"header {name} missing"
        if not re.fullmatch(pattern, value):
            return f"header {name}={value!r} does not match {pattern!r}"
    if check.json_body or check.json_keys:
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return f"Content-Type {media or '(none)'!r}, expected JSON"
        try:
            document = json.loads(response.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return f"body is not JSON ({exc})"
        missing = [
            k for k in check.json_keys if not isinstance(document, dict) or k not in document
        ]
        if missing:
            return f"JSON body lacks {', '.join(missing)}"
    return None


def run_checks(
    checks: Sequence[Check],
    port: int,
    *,
    host: str = HOST,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[Outcome]:
    """Every check, in order; one that fails does not stop the others (the log shows all)."""
    outcomes = []
    for check in checks:
        try:
            response = exchange(check, port, host=host, timeout=timeout)
        except ResponseError as exc:
            outcomes.append(Outcome(check.name, False, str(exc)))
            continue
        problem = judge(check, response)
        detail = problem or f"{response.status}, {len(response.body)} body bytes"
        outcomes.append(Outcome(check.name, problem is None, detail))
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="validate.json")
    parser.add_argument("--port", type=int, required=True, help="the service's local port")
    args = parser.parse_args(argv)
    try:
        enabled, timeout, checks = load_checks(args.config)
    except ConfigError as exc:
        print(f"invalid pre-traffic checks: {exc}", file=sys.stderr)
        return 2
    if not enabled:
        print(f"pre-traffic checks disabled in {args.config}")
        return 0
    outcomes = run_checks(checks, args.port, timeout=timeout)
    for outcome in outcomes:
        print(f"{'PASS' if outcome.passed else 'FAIL'} {outcome.check}: {outcome.detail}")
    failed = [o.check for o in outcomes if not o.passed]
    if failed:
        print(
            f"pre-traffic checks failed: {', '.join(failed)}; the instance gets no traffic",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
