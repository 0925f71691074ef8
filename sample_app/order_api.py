"""order-api: the sample HTTP service the kit deploys, as a good and a bad release of one code base.

The kit's drill needs a release that reproduces the reference incident: the load
balancer answers ``POST /orders`` with a 502 of its own (``HTTPCode_ELB_5XX_Count``) while
``/health`` never touches that code path and keeps passing, and the target never sends a
5xx (``HTTPCode_Target_5XX_Count`` stays 0). The bad release has two ways to break, chosen
by ``bad_mode``:

- ``broken-headers`` (the default): the order is created, then the answer stops in the
  middle of its header block and the connection closes. The ALB documents a 502 for a
  target that closes the connection "while the load balancer had an outstanding request"
  and for a malformed response (ELB User Guide, "Troubleshoot your Application Load
  Balancers", HTTP 502), and every reverse proxy answers an unfinished header block with
  its own 502 (nginx and HAProxy: ``tests/sample_app/test_behind_proxy.py``).
- ``truncated-body``: the incident's double-end bug, a ``200`` status line and headers
  announcing the full body, half a body, then close. A proxy that streams the headers on
  at once (nginx and HAProxy do) has nothing left to replace and forwards a truncated
  200; what the ALB does once headers arrived is not documented. Use it to see that gap.

The mode comes from ``--bad-mode``, else the ``ORDER_API_BAD_MODE`` environment variable
(the systemd unit reads ``/etc/order-api/order-api.env``), else ``release.json``'s
optional ``bad_mode``. The good release answers ``201`` with a ``Location`` and
``{"orderId": ...}``. Which release runs comes from the bundle's ``release.json`` or the
``--variant`` flag. ``GET /health`` answers ``204 No Content`` on purpose: the ALB's
default matcher ``200`` would call it unhealthy, so the kit's target group accepts
``200,204``. Standard library only and Python 3.9 syntax, because the instances run Amazon
Linux 2023's system ``python3``.

Run locally: ``python -m sample_app.order_api --variant bad --port 8080``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socketserver
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, cast

from sample_app.orders import OrderStore, parse_order, route
from sample_app.release_info import (
    BAD_MODES,
    DEFAULT_RELEASE_FILE,
    DEV_RELEASE,
    VARIANTS,
    Release,
    load_release,
)

BAD_MODE_ENV = "ORDER_API_BAD_MODE"
DEFAULT_HOST = "127.0.0.1"
# The target group's port (stacks/config.py ServiceConfig.app_port); above 1024 so the
# service runs as an unprivileged user.
DEFAULT_PORT = 8080
# ALB idle_timeout.timeout_seconds defaults to 60 s, and a backend keep-alive shorter than
# the ALB idle timeout causes intermittent 502s: the ALB reuses a connection the target
# has just closed (ELB API Reference, LoadBalancerAttribute). 75 s keeps a
# margin over the default.
ALB_DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0
DEFAULT_KEEP_ALIVE_SECONDS = 75.0
# ELB API Reference, LoadBalancerAttribute: idle_timeout.timeout_seconds is 1-4000 s.
ALB_IDLE_TIMEOUT_RANGE = (1.0, 4000.0)
MAX_BODY_BYTES = 64 * 1024

# Synthetic-request marker: the bundle's pre-traffic check sends it so a validation POST
# /orders runs the whole handler without keeping the order. Honoured only from loopback,
# where the check runs on the instance itself; the ALB never connects from there, so a
# viewer cannot make orders vanish.
SYNTHETIC_HEADER = "X-Synthetic-Check"
_LOOPBACK = frozenset({"127.0.0.1", "::1"})


@dataclass(frozen=True)
class ServerConfig:
    """Where to listen and how long to keep idle connections, checked against the ALB's."""

    release: Release
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    keep_alive_seconds: float = DEFAULT_KEEP_ALIVE_SECONDS
    alb_idle_timeout_seconds: float = ALB_DEFAULT_IDLE_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port={self.port}: expected 0-65535 (0 picks a free port)")
        low, high = ALB_IDLE_TIMEOUT_RANGE
        if not low <= self.alb_idle_timeout_seconds <= high:
            raise ValueError(
                f"alb_idle_timeout_seconds={self.alb_idle_timeout_seconds}: expected "
                f"{low:g}-{high:g} (ELB API Reference, idle_timeout.timeout_seconds)"
            )
        if self.keep_alive_seconds <= self.alb_idle_timeout_seconds:
            raise ValueError(
                f"keep_alive_seconds={self.keep_alive_seconds}: expected more than "
                f"alb_idle_timeout_seconds={self.alb_idle_timeout_seconds}, or the ALB "
                "reuses connections the app has closed and answers 502"
            )


def log_event(event: str, **fields: Any) -> None:
    """One JSON line on stderr; systemd sends it to the journal."""
    record = {"ts": round(time.time(), 3), "event": event}
    record.update(fields)
    sys.stderr.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
    sys.stderr.flush()


class _BodyError(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class OrderApiServer(ThreadingHTTPServer):
    """A threading HTTP/1.1 server that carries the config and the order store."""

    daemon_threads = True

    def __init__(self, config: ServerConfig, store: OrderStore | None = None) -> None:
        self.config = config
        self.store = store if store is not None else OrderStore()
        super().__init__((config.host, config.port), OrderApiHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, a DNS look-up the app never uses.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class OrderApiHandler(BaseHTTPRequestHandler):
    """Serves the four endpoints; in the bad release ``POST /orders`` breaks its answer."""

    protocol_version = "HTTP/1.1"

    @property
    def app(self) -> OrderApiServer:
        return cast(OrderApiServer, self.server)

    def version_string(self) -> str:
        return f"order-api/{self.app.config.release.version}"

    def setup(self) -> None:
        # handle_one_request closes the connection when reading the next request line
        # times out, so this socket timeout is the keep-alive timeout, and it must
        # outlast the ALB's idle timeout.
        super().setup()
        self.connection.settimeout(self.app.config.keep_alive_seconds)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        target = route(self.command, self.path)
        if target.name == "health":
            self._send_no_content()
        elif target.name == "version":
            self._send_json(HTTPStatus.OK, self.app.config.release.as_dict())
        elif target.name == "get_order":
            order = self.app.store.get(target.order_id)
            if order is None:
                self._send_json(HTTPStatus.NOT_FOUND, {"error": "order not found"})
            else:
                self._send_json(HTTPStatus.OK, order)
        elif target.name == "create_order":
            self._create_order()
        elif target.name == "method_not_allowed":
            self._send_json(
                HTTPStatus.METHOD_NOT_ALLOWED,
                {"error": f"use {target.allow}"},
                headers={"Allow": target.allow},
                close=self._has_unread_body(),
            )
        else:
            self._send_json(
                HTTPStatus.NOT_FOUND, {"error": "no such endpoint"}, close=self._has_unread_body()
            )

    def _create_order(self) -> None:
        try:
            body = self._read_body()
        except _BodyError as exc:
            # The body was not read, so the connection cannot carry another request.
            self._send_json(exc.status, {"error": exc.message}, close=True)
            return
        try:
            payload = parse_order(body)
        except ValueError as exc:
            self._send_json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        order_id = self.app.store.create(payload, keep=not self._is_synthetic())
        release = self.app.config.release
        if release.variant == "bad" and release.bad_mode == "truncated-body":
            self._send_truncated({"orderId": order_id})
        elif release.variant == "bad":
            self._send_broken_headers(order_id)
        else:
            self._send_json(
                HTTPStatus.CREATED,
                {"orderId": order_id},
                headers={"Location": f"/orders/{order_id}"},
            )

    def _is_synthetic(self) -> bool:
        marked = self.headers.get(SYNTHETIC_HEADER, "").strip() == "1"
        return marked and self.client_address[0] in _LOOPBACK

    def _has_unread_body(self) -> bool:
        """Whether the request announced a body this endpoint will not read."""
        if self.headers.get("Transfer-Encoding"):
            return True
        raw = self.headers.get("Content-Length", "0").strip()
        return raw != "0" and raw != ""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            raise _BodyError(HTTPStatus.LENGTH_REQUIRED, "send Content-Length, not chunked")
        raw = self.headers.get("Content-Length")
        if raw is None:
            raise _BodyError(HTTPStatus.LENGTH_REQUIRED, "Content-Length is required")
        try:
            length = int(raw)
        except ValueError:
            raise _BodyError(HTTPStatus.BAD_REQUEST, "Content-Length is not a number") from None
        if length < 0:
            raise _BodyError(HTTPStatus.BAD_REQUEST, "Content-Length is negative")
        if length > MAX_BODY_BYTES:
            raise _BodyError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY_BYTES} bytes"
            )
        return self.rfile.read(length)

    def _keep_alive_headers(self, close: bool) -> None:
        if close:
            # send_header("Connection", "close") also sets self.close_connection.
            self.send_header("Connection", "close")
        else:
            self.send_header("Keep-Alive", f"timeout={int(self.app.config.keep_alive_seconds)}")

    def _send_no_content(self) -> None:
        self.send_response(HTTPStatus.NO_CONTENT)
        self._keep_alive_headers(close=False)
        self.end_headers()

    def _send_json(
        self,
        status: HTTPStatus,
        payload: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        body = (json.dumps(payload, separators=(",", ":")) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._keep_alive_headers(close)
        self.end_headers()
        self.wfile.write(body)

    def _send_truncated(self, payload: dict[str, Any]) -> None:
        """The incident's double-end bug: 200 and a full Content-Length, half a body, then close."""
        body = (json.dumps(payload, separators=(",", ":")) + "\n").encode("utf-8")
        sent = body[: len(body) // 2]
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(sent)
        self.wfile.flush()
        # Returning with close_connection set makes socketserver shut the socket down
        # before the announced body is complete: the peer sees a truncated response.
        self.close_connection = True
        log_event(
            "response_truncated",
            path=self.path,
            orderId=payload.get("orderId"),
            contentLength=len(body),
            bytesSent=len(sent),
            **self.app.config.release.as_dict(),
        )

    def _send_broken_headers(self, order_id: str) -> None:
        """A status line and half a header block, then close: no proxy can forward it."""
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len"
        self.wfile.write(head)
        self.wfile.flush()
        # The header block never ends (no blank line), so the peer is still waiting for
        # headers when socketserver shuts the socket down.
        self.close_connection = True
        log_event(
            "response_headers_broken",
            path=self.path,
            orderId=order_id,
            bytesSent=len(head),
            **self.app.config.release.as_dict(),
        )

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log_event(
            "request",
            method=self.command,
            path=self.path,
            # HTTPStatus prints as "HTTPStatus.OK" on Python 3.9: log the number.
            status=int(code) if isinstance(code, int) else str(code),
            client=self.client_address[0],
            **self.app.config.release.as_dict(),
        )

    def log_message(self, format: str, *args: Any) -> None:
        log_event("server_message", message=format % args, client=self.client_address[0])


def make_server(config: ServerConfig, store: OrderStore | None = None) -> OrderApiServer:
    """Bind the server (port 0 picks a free one; read it from ``server_port``)."""
    return OrderApiServer(config, store)


def serve(config: ServerConfig) -> None:
    """Serve until SIGTERM or SIGINT, then stop accepting and close the listening socket."""
    server = make_server(config)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log_event("stopping", signal=signum)
        # shutdown() waits for serve_forever to return, so it cannot run on this thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log_event(
        "listening",
        host=server.server_name,
        port=server.server_port,
        keepAliveSeconds=config.keep_alive_seconds,
        **config.release.as_dict(),
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sample_app.order_api",
        description="order-api sample service (good or bad release)",
    )
    parser.add_argument("--variant", choices=VARIANTS, help="overrides release.json's variant")
    parser.add_argument("--release-version", help="overrides release.json's version")
    parser.add_argument(
        "--bad-mode",
        choices=BAD_MODES,
        help=f"how the bad release breaks; overrides ${BAD_MODE_ENV} and release.json",
    )
    parser.add_argument(
        "--release-file",
        type=Path,
        help=f"release.json to read (default: {DEFAULT_RELEASE_FILE} if it exists)",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: loopback only")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--keep-alive-timeout",
        type=float,
        default=DEFAULT_KEEP_ALIVE_SECONDS,
        help="seconds an idle connection stays open; must exceed --alb-idle-timeout",
    )
    parser.add_argument(
        "--alb-idle-timeout",
        type=float,
        default=ALB_DEFAULT_IDLE_TIMEOUT_SECONDS,
        help="the ALB's idle_timeout.timeout_seconds (AWS default 60)",
    )
    return parser


def config_from_args(
    args: argparse.Namespace, environ: Mapping[str, str] | None = None
) -> ServerConfig:
    """Combine release.json (explicit, else the bundle's, else a dev release) with
    ``$ORDER_API_BAD_MODE`` from ``environ`` (default ``os.environ``) and the flags."""
    env = os.environ if environ is None else environ
    if args.release_file is not None:
        release = load_release(args.release_file)
    elif DEFAULT_RELEASE_FILE.is_file():
        release = load_release(DEFAULT_RELEASE_FILE)
    else:
        release = DEV_RELEASE
    release = Release(
        version=args.release_version or release.version,
        variant=args.variant or release.variant,
        bad_mode=args.bad_mode or env.get(BAD_MODE_ENV) or release.bad_mode,
    )
    return ServerConfig(
        release=release,
        host=args.host,
        port=args.port,
        keep_alive_seconds=args.keep_alive_timeout,
        alb_idle_timeout_seconds=args.alb_idle_timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    serve(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
