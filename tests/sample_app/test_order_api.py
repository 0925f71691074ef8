"""order-api over real HTTP on loopback: the good release, the bad one, and what a checker sees.

The bad release must break ``POST /orders`` where the load balancer, not the target, has
to answer (by default a header block that never ends; as the second mode a 200 whose body
is cut short) while ``/health`` keeps answering 204. ``test_behind_proxy.py`` shows what a
real reverse proxy makes of each mode.
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from sample_app import order_api
from sample_app.order_api import (
    ALB_DEFAULT_IDLE_TIMEOUT_SECONDS,
    BAD_MODE_ENV,
    OrderApiServer,
    ServerConfig,
    build_parser,
    config_from_args,
)
from sample_app.orders import route
from sample_app.release_info import BAD_MODES, Release
from tests.support.order_app import StartServer

ORDER = json.dumps({"product_id": 1, "quantity": 1})
JSON_HEADERS = {"Content-Type": "application/json"}
REPO_ROOT = Path(__file__).resolve().parents[2]


def connect(server: OrderApiServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)


def alb_matcher_accepts(matcher: str, status: int) -> bool:
    """A minimal ALB ``Matcher.HttpCode`` check: ``"200"``, ``"200,204"`` or ``"200-299"``."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False


def answer(
    server: OrderApiServer, method: str, path: str, body: str | None = None
) -> http.client.HTTPResponse:
    """The (fully read) response to one request on a fresh connection."""
    with closing(connect(server)) as conn:
        conn.request(method, path, body=body, headers=JSON_HEADERS if body is not None else {})
        response = conn.getresponse()
        response.read()
        return response


def health_status(server: OrderApiServer) -> int:
    return answer(server, "GET", "/health").status


def test_good_release_creates_order_with_201_location_and_order_id(
    start_server: StartServer,
) -> None:
    server = start_server("good")

    with closing(connect(server)) as conn:
        conn.request("POST", "/orders", body=ORDER, headers=JSON_HEADERS)
        response = conn.getresponse()
        body = json.loads(response.read())

    assert response.status == 201
    assert response.getheader("Location") == f"/orders/{body['orderId']}"


def test_good_release_serves_a_created_order_by_id(start_server: StartServer) -> None:
    server = start_server("good")

    with closing(connect(server)) as conn:
        conn.request("POST", "/orders", body=ORDER, headers=JSON_HEADERS)
        created = conn.getresponse()
        location = created.getheader("Location")
        created.read()
        conn.request("GET", str(location))
        fetched = conn.getresponse()
        order = json.loads(fetched.read())

    assert fetched.status == 200
    assert order["order"] == {"product_id": 1, "quantity": 1}


def test_unknown_order_id_answers_404(start_server: StartServer) -> None:
    assert answer(start_server("good"), "GET", "/orders/" + "0" * 32).status == 404


def test_order_body_that_is_not_json_answers_400(start_server: StartServer) -> None:
    assert answer(start_server("good"), "POST", "/orders", body="not json").status == 400


def test_order_without_content_length_answers_411(start_server: StartServer) -> None:
    server = start_server("good")

    with closing(connect(server)) as conn:
        conn.putrequest("POST", "/orders")
        conn.endheaders()
        response = conn.getresponse()
        response.read()

    assert response.status == 411


def raw_post_order(server: OrderApiServer) -> bytes:
    """Send ``POST /orders`` on a plain socket and return every byte until the server closes."""
    request = (
        f"POST /orders HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(ORDER)}\r\n\r\n{ORDER}"
    ).encode()
    received = b""
    with socket.create_connection(("127.0.0.1", server.server_port), timeout=5) as sock:
        sock.sendall(request)
        # Bounded: the server closes after its answer; 64 reads of 4 KiB are far more
        # than any answer of this app.
        for _ in range(64):
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    return received


def test_bad_release_by_default_closes_in_the_middle_of_its_header_block(
    start_server: StartServer,
) -> None:
    server = start_server("bad")

    received = raw_post_order(server)

    assert received.startswith(b"HTTP/1.1 200 ")
    # A header block ends with an empty line; this one never does.
    assert b"\r\n\r\n" not in received


def test_bad_release_truncated_body_mode_sends_200_headers_then_half_a_body(
    start_server: StartServer,
) -> None:
    server = start_server("bad", bad_mode="truncated-body")

    with closing(connect(server)) as conn:
        conn.request("POST", "/orders", body=ORDER, headers=JSON_HEADERS)
        response = conn.getresponse()
        announced = int(response.getheader("Content-Length", "0"))
        with pytest.raises(http.client.IncompleteRead) as truncated:
            response.read()

    assert response.status == 200
    assert len(truncated.value.partial) < announced


@pytest.mark.parametrize("bad_mode", BAD_MODES)
def test_bad_release_keeps_health_at_204_after_breaking_an_order(
    start_server: StartServer, bad_mode: str
) -> None:
    server = start_server("bad", bad_mode=bad_mode)
    raw_post_order(server)

    assert health_status(server) == 204


@pytest.mark.parametrize("variant", ["good", "bad"])
def test_health_answers_204_with_an_empty_body(start_server: StartServer, variant: str) -> None:
    server = start_server(variant)

    with closing(connect(server)) as conn:
        conn.request("GET", "/health")
        response = conn.getresponse()
        body = response.read()

    assert (response.status, body) == (204, b"")


def test_alb_default_matcher_200_would_mark_the_204_health_check_unhealthy(
    start_server: StartServer,
) -> None:
    server = start_server("good")

    assert not alb_matcher_accepts("200", health_status(server))


def test_matcher_200_204_marks_the_health_check_healthy(start_server: StartServer) -> None:
    server = start_server("bad")

    assert alb_matcher_accepts("200,204", health_status(server))


def test_version_reports_the_running_release(start_server: StartServer) -> None:
    server = start_server("bad", version="2.3.2")

    with closing(connect(server)) as conn:
        conn.request("GET", "/version")
        response = conn.getresponse()
        body = json.loads(response.read())

    assert body == {"version": "2.3.2", "variant": "bad"}


def test_connection_stays_open_across_requests(start_server: StartServer) -> None:
    server = start_server("good")

    with closing(connect(server)) as conn:
        conn.request("GET", "/health")
        conn.getresponse().read()
        first_socket = conn.sock
        conn.request("GET", "/version")
        conn.getresponse().read()

        assert first_socket is not None
        assert conn.sock is first_socket


def test_wrong_method_on_health_answers_405_with_allow(start_server: StartServer) -> None:
    response = answer(start_server("good"), "POST", "/health", body="{}")

    assert (response.status, response.getheader("Allow")) == (405, "GET")


def test_route_ignores_the_query_string() -> None:
    assert route("GET", "/health?probe=alb").name == "health"


def test_config_rejects_keep_alive_not_longer_than_alb_idle_timeout() -> None:
    with pytest.raises(ValueError, match="502"):
        ServerConfig(
            release=Release(version="1.0.0", variant="good"),
            keep_alive_seconds=60,
            alb_idle_timeout_seconds=60,
        )


def test_release_rejects_an_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        Release(version="1.0.0", variant="ugly")


def test_cli_defaults_listen_on_loopback_with_keep_alive_above_alb_default() -> None:
    config = config_from_args(build_parser().parse_args(["--variant", "bad"]))

    assert config.host == "127.0.0.1"
    assert config.keep_alive_seconds > ALB_DEFAULT_IDLE_TIMEOUT_SECONDS


def test_cli_takes_the_variant_from_release_file(tmp_path: Path) -> None:
    release_file = tmp_path / "release.json"
    release_file.write_text(json.dumps({"version": "2.3.2", "variant": "bad"}))

    config = config_from_args(build_parser().parse_args(["--release-file", str(release_file)]))

    assert config.release == Release(version="2.3.2", variant="bad")


def test_cli_variant_flag_overrides_release_file(tmp_path: Path) -> None:
    release_file = tmp_path / "release.json"
    release_file.write_text(json.dumps({"version": "2.3.2", "variant": "bad"}))

    args = build_parser().parse_args(["--release-file", str(release_file), "--variant", "good"])

    assert config_from_args(args).release == Release(version="2.3.2", variant="good")


def test_release_rejects_an_unknown_bad_mode() -> None:
    with pytest.raises(ValueError, match="bad_mode 'slow'"):
        Release(version="1.0.0", variant="bad", bad_mode="slow")


def test_bad_mode_comes_from_release_file_then_environment_then_flag(tmp_path: Path) -> None:
    release_file = tmp_path / "release.json"
    release_file.write_text(
        json.dumps({"version": "2.3.2", "variant": "bad", "bad_mode": "truncated-body"})
    )
    argv = ["--release-file", str(release_file)]

    from_file = config_from_args(build_parser().parse_args(argv), environ={})
    from_env = config_from_args(
        build_parser().parse_args(argv), environ={BAD_MODE_ENV: "broken-headers"}
    )
    from_flag = config_from_args(
        build_parser().parse_args([*argv, "--bad-mode", "truncated-body"]),
        environ={BAD_MODE_ENV: "broken-headers"},
    )

    assert from_file.release.bad_mode == "truncated-body"
    assert from_env.release.bad_mode == "broken-headers"
    assert from_flag.release.bad_mode == "truncated-body"


def test_release_file_without_bad_mode_breaks_the_headers(tmp_path: Path) -> None:
    release_file = tmp_path / "release.json"
    release_file.write_text(json.dumps({"version": "2.3.2", "variant": "bad"}))

    config = config_from_args(
        build_parser().parse_args(["--release-file", str(release_file)]), environ={}
    )

    assert config.release.bad_mode == "broken-headers"


def test_app_source_uses_only_python_39_syntax() -> None:
    # The instances run Amazon Linux 2023's python3 (3.9); the tests run on 3.11+.
    paths = sorted(Path(order_api.__file__).parent.glob("*.py"))
    assert paths
    for path in paths:
        ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=(3, 9))


def test_cli_serves_until_sigterm_and_exits_cleanly() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "sample_app.order_api", "--variant", "bad", "--port", "0"]
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        command, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
    )
    # If the server never prints its first line, kill it rather than hang the suite.
    watchdog = threading.Timer(20, proc.kill)
    watchdog.start()
    try:
        assert proc.stderr is not None
        listening = json.loads(proc.stderr.readline())
        with closing(http.client.HTTPConnection("127.0.0.1", listening["port"], timeout=5)) as c:
            c.request("GET", "/version")
            variant = json.loads(c.getresponse().read())["variant"]
        proc.send_signal(signal.SIGTERM)
        returncode = proc.wait(timeout=10)
    finally:
        watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        if proc.stderr is not None:
            proc.stderr.close()

    assert (variant, returncode) == ("bad", 0)
