"""order-api behind real reverse proxies (nginx, HAProxy) on loopback: what each release becomes.

The kit's alarm counts 5xx the load balancer generates itself. A bad release is only a
fair rehearsal if a proxy in front of it has to answer with its own 502, whichever proxy
it is. Each test starts the sample app (in a thread) and one proxy binary from the system
packages (a subprocess with a temporary config, listening on 127.0.0.1 only), sends one
request through the proxy and stops both. Where a binary is absent its tests are skipped
and say which package to install; ``.ci/run`` installs both.

What they show: the good release's ``POST /orders`` comes through as 201; the default
bad mode (a header block that never ends) is answered 502 by the proxy; the
``truncated-body`` mode comes through as a truncated 200, because the proxy has already
sent the target's status and headers on when the body falls short.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from sample_app.order_api import OrderApiServer
from tests.support.order_app import StartServer
from tests.support.processes import stop

ORDER = json.dumps({"product_id": 1, "quantity": 1})
JSON_HEADERS = {"Content-Type": "application/json"}
LOOPBACK = "127.0.0.1"
# Startup waits are bounded: 100 tries of 50 ms.
READY_TRIES = 100
READY_PAUSE_SECONDS = 0.05


def _nginx_config(workdir: Path, listen: int, upstream: int) -> tuple[Path, list[str]]:
    # Every path nginx writes is under workdir; as root its workers drop to nobody, so the
    # temp directories must be reachable for them.
    workdir.chmod(0o755)
    conf = workdir / "nginx.conf"
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    conf.write_text(
        f"""
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    server {{
        listen {LOOPBACK}:{listen};
        location / {{
            proxy_pass http://{LOOPBACK}:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 2s;
            proxy_read_timeout 5s;
        }}
    }}
}}
""",
        encoding="utf-8",
    )
    return conf, ["-p", str(workdir), "-c", str(conf), "-g", "daemon off;"]


def _haproxy_config(workdir: Path, listen: int, upstream: int) -> tuple[Path, list[str]]:
    conf = workdir / "haproxy.cfg"
    conf.write_text(
        f"""
global
    maxconn 64
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend orders
    bind {LOOPBACK}:{listen}
    default_backend app
backend app
    server app {LOOPBACK}:{upstream}
""",
        encoding="utf-8",
    )
    # -db: stay in the foreground, so terminating the process stops the proxy.
    return conf, ["-f", str(conf), "-db"]


@dataclass(frozen=True)
class Proxy:
    name: str
    package: str
    configure: Callable[[Path, int, int], tuple[Path, list[str]]]


PROXIES = [
    Proxy("nginx", "nginx", _nginx_config),
    Proxy("haproxy", "haproxy", _haproxy_config),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    for _ in range(READY_TRIES):
        if proc.poll() is not None:
            pytest.fail(f"proxy exited with {proc.returncode}: {log.read_text(errors='replace')}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=0.5):
                return
        except OSError:
            time.sleep(READY_PAUSE_SECONDS)
    pytest.fail(f"proxy did not listen on {LOOPBACK}:{port}: {log.read_text(errors='replace')}")


StartProxy = Callable[[OrderApiServer], int]


@pytest.fixture(params=PROXIES, ids=[p.name for p in PROXIES])
def start_proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartProxy]:
    """Start the parametrized proxy in front of a server; yields a function returning its port."""
    proxy: Proxy = request.param
    binary = shutil.which(proxy.name) or shutil.which(proxy.name, path="/usr/sbin:/usr/bin")
    if binary is None:
        pytest.skip(
            f"{proxy.name} is not installed; `apt-get install {proxy.package}` runs this test"
        )
    started: list[subprocess.Popen[bytes]] = []

    def _start(server: OrderApiServer) -> int:
        port = _free_port()
        _, args = proxy.configure(tmp_path, port, server.server_port)
        log = tmp_path / f"{proxy.name}.out"
        with log.open("wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv from the test, no shell
                [binary, *args], stdout=out, stderr=subprocess.STDOUT
            )
        started.append(proc)
        _wait_until_listening(port, proc, log)
        return port

    yield _start
    for proc in started:
        stop(proc)


Answer = tuple[http.client.HTTPResponse, bytes | http.client.IncompleteRead]
PostThroughProxy = Callable[..., Answer]


def post_order(port: int) -> Answer:
    """POST /orders to the proxy; the body, or the IncompleteRead a truncated body raises."""
    with closing(http.client.HTTPConnection(LOOPBACK, port, timeout=10)) as conn:
        conn.request("POST", "/orders", body=ORDER, headers=JSON_HEADERS)
        response = conn.getresponse()
        try:
            return response, response.read()
        except http.client.IncompleteRead as truncated:
            return response, truncated


@pytest.fixture
def post_through_proxy(start_server: StartServer, start_proxy: StartProxy) -> PostThroughProxy:
    """POST /orders through the proxy to a server running ``variant`` (and ``bad_mode``)."""

    def _post(variant: str, **server_options: str) -> Answer:
        return post_order(start_proxy(start_server(variant, **server_options)))

    return _post


def test_good_release_through_the_proxy_answers_201_with_location(
    post_through_proxy: PostThroughProxy,
) -> None:
    response, body = post_through_proxy("good")

    assert response.status == 201
    assert isinstance(body, bytes)
    assert response.getheader("Location") == f"/orders/{json.loads(body)['orderId']}"


def test_bad_release_broken_headers_is_answered_502_by_the_proxy(
    post_through_proxy: PostThroughProxy,
) -> None:
    response, body = post_through_proxy("bad", bad_mode="broken-headers")

    assert response.status == 502
    # The 502 is the proxy's own page, not anything the app sent.
    assert isinstance(body, bytes)
    assert b"orderId" not in body


def test_bad_release_truncated_body_passes_the_proxy_as_a_truncated_200(
    post_through_proxy: PostThroughProxy,
) -> None:
    response, body = post_through_proxy("bad", bad_mode="truncated-body")

    assert response.status == 200
    assert isinstance(body, http.client.IncompleteRead)
    assert len(body.partial) < int(response.getheader("Content-Length", "0"))
