"""Fixtures for the order-api tests: live servers on loopback ports that always shut down.

Each server binds 127.0.0.1 on a free port (port 0) and runs in a daemon thread; the
fixture stops every server it started, whatever the test did. The keep-alive timeout is
short (with a matching fake ALB idle timeout) so a leaked connection cannot hold a thread
for long.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sample_app.order_api import OrderApiServer, ServerConfig, make_server
from sample_app.release_info import DEFAULT_BAD_MODE, Release
from tests.support.order_app import StartServer


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    running: list[tuple[OrderApiServer, threading.Thread]] = []

    def _start(
        variant: str, version: str = "9.9.9", bad_mode: str = DEFAULT_BAD_MODE
    ) -> OrderApiServer:
        config = ServerConfig(
            release=Release(version=version, variant=variant, bad_mode=bad_mode),
            host="127.0.0.1",
            port=0,
            keep_alive_seconds=5.0,
            alb_idle_timeout_seconds=1.0,
        )
        server = make_server(config)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        running.append((server, thread))
        return server

    yield _start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
