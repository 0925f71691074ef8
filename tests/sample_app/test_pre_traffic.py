"""The bundle's pre-traffic checks (checks/pre_traffic.py) against real sockets on loopback.

The good and the bad order-api release are started as in the other sample-app tests; the
faults an ALB answers with a 5xx of its own (reset or close before any byte, a broken header
block, a short body, undefined framing, a stall) come from a one-shot raw server that
writes canned bytes, so each framing rule is shown failing on the wire, not on a mock.
Finally the unpacked bundle's own ValidateService scripts run against each release.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from sample_app import order_api
from sample_app.order_api import SYNTHETIC_HEADER
from tests.support.order_app import StartServer, unpacked_app
from tools.release import BUNDLE_DIR, VALIDATE_FILE, BundleSpec, bundle_files

CHECKS_FILE = BUNDLE_DIR / VALIDATE_FILE


def _load_checker() -> ModuleType:
    # The checker ships inside the bundle, not as a package: load it from its file, the way
    # the hook script runs it.
    spec = importlib.util.spec_from_file_location(
        "pre_traffic", BUNDLE_DIR / "checks" / "pre_traffic.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["pre_traffic"] = module
    spec.loader.exec_module(module)
    return module


pre_traffic = _load_checker()
GET = pre_traffic.Check(name="get", method="GET", path="/x", statuses=(200,))


def bundled_checks() -> list[Any]:
    enabled, _, checks = pre_traffic.load_checks(CHECKS_FILE)
    assert enabled
    return list(checks)


def failures(outcomes: list[Any]) -> dict[str, str]:
    return {o.check: o.detail for o in outcomes if not o.passed}


# --- the sample releases -----------------------------------------------------------------


def test_good_release_passes_every_bundled_check(start_server: StartServer) -> None:
    server = start_server("good")

    outcomes = pre_traffic.run_checks(bundled_checks(), server.server_port)

    assert failures(outcomes) == {}
    assert len(outcomes) == len(bundled_checks())


@pytest.mark.parametrize(
    ("bad_mode", "why"),
    [
        ("broken-headers", "incomplete headers"),
        ("truncated-body", "body shorter than Content-Length"),
    ],
)
def test_bad_release_fails_the_create_order_check_in_either_bad_mode(
    start_server: StartServer, bad_mode: str, why: str
) -> None:
    server = start_server("bad", bad_mode=bad_mode)

    failed = failures(pre_traffic.run_checks(bundled_checks(), server.server_port))

    assert list(failed) == ["create order through the real handler (synthetic, not kept)"]
    assert why in next(iter(failed.values()))


def test_bundled_checks_post_orders_with_the_synthetic_marker() -> None:
    posts = [c for c in bundled_checks() if c.method == "POST"]

    assert [(c.path, c.headers.get(SYNTHETIC_HEADER)) for c in posts] == [("/orders", "1")]
    assert json.loads(posts[0].body)


# --- the synthetic marker ----------------------------------------------------------------


def _post_order(port: int, headers: dict[str, str]) -> str:
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) as conn:
        conn.request("POST", "/orders", body=json.dumps({"product_id": 1}), headers=headers)
        response = conn.getresponse()
        assert response.status == 201
        return str(json.loads(response.read())["orderId"])


def _get_status(port: int, order_id: str) -> int:
    with closing(http.client.HTTPConnection("127.0.0.1", port, timeout=5)) as conn:
        conn.request("GET", f"/orders/{order_id}")
        response = conn.getresponse()
        response.read()
        return response.status


def test_synthetic_order_runs_the_handler_but_is_not_kept(start_server: StartServer) -> None:
    server = start_server("good")

    synthetic = _post_order(server.server_port, {SYNTHETIC_HEADER: "1"})
    real = _post_order(server.server_port, {})

    assert _get_status(server.server_port, synthetic) == 404
    assert _get_status(server.server_port, real) == 200


def test_synthetic_marker_is_ignored_unless_the_client_is_loopback(
    start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ALB connects from its own address, never loopback: a viewer's marker is ignored.
    server = start_server("good")
    handler = order_api.OrderApiHandler
    real_setup = handler.setup

    def from_the_alb(self: order_api.OrderApiHandler) -> None:
        real_setup(self)
        self.client_address = ("10.0.1.17", 40000)

    monkeypatch.setattr(handler, "setup", from_the_alb)

    order_id = _post_order(server.server_port, {SYNTHETIC_HEADER: "1"})

    assert _get_status(server.server_port, order_id) == 200


# --- framing faults on the wire ----------------------------------------------------------

Behaviour = Callable[[socket.socket], None]


@pytest.fixture
def raw_server() -> Iterator[Callable[[Behaviour], int]]:
    """A one-connection server on 127.0.0.1 that reads the request, then does ``behaviour``."""
    listeners: list[tuple[socket.socket, threading.Thread]] = []

    def _start(behaviour: Behaviour) -> int:
        listener = socket.create_server(("127.0.0.1", 0))

        def serve() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                behaviour(conn)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        listeners.append((listener, thread))
        return int(listener.getsockname()[1])

    yield _start
    for listener, thread in listeners:
        listener.close()
        thread.join(timeout=5)


def send(data: bytes) -> Behaviour:
    return lambda conn: conn.sendall(data)


def reset(conn: socket.socket) -> None:
    # SO_LINGER with a zero timeout makes close() send a TCP RST instead of a FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def stall(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
    conn.recv(1)  # until the checker gives up and closes


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (send(b""), "connection closed before any byte"),
        (reset, "reset"),
        (send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"), "inside the header block"),
        (send(OK_HEAD + b"Content-Length 2\r\n\r\n{}"), "malformed header line"),
        (send(OK_HEAD + b" folded\r\nContent-Length: 2\r\n\r\n{}"), "malformed header line"),
        (send(b"HTTP/1.1 OK\r\nContent-Length: 2\r\n\r\n{}"), "malformed status line"),
        (send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}"), "body shorter"),
        (send(OK_HEAD + b"\r\n{}"), "no Content-Length"),
        (send(OK_HEAD + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"), "conflicting"),
        (send(OK_HEAD + b"Content-Length: 1\r\n\r\n{}"), "beyond the framed body"),
        (send(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\n{}"), "inside a chunk"),
        (stall, "no complete response within"),
    ],
    ids=[
        "closed-before-any-byte",
        "reset-before-any-byte",
        "incomplete-header-block",
        "header-without-colon",
        "obsolete-line-folding",
        "status-line-without-code",
        "body-shorter-than-content-length",
        "no-framing",
        "conflicting-content-length",
        "body-longer-than-content-length",
        "truncated-chunk",
        "stalled-body",
    ],
)
def test_framing_fault_fails_the_check(
    raw_server: Callable[[Behaviour], int], behaviour: Behaviour, expected: str
) -> None:
    port = raw_server(behaviour)

    with pytest.raises(pre_traffic.ResponseError, match=expected):
        pre_traffic.exchange(GET, port, timeout=1.0)


def test_chunked_body_is_decoded(raw_server: Callable[[Behaviour], int]) -> None:
    port = raw_server(send(OK_HEAD + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"))

    response = pre_traffic.exchange(GET, port, timeout=1.0)

    assert (response.status, response.body) == (200, b"{}")


# --- expectations and the config file ---------------------------------------------------


def _response(status: int = 200, body: bytes = b"{}", headers: dict[str, str] | None = None) -> Any:
    merged = {
        "content-type": "application/json",
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    return pre_traffic.Response(status=status, headers=merged, body=body)


@pytest.mark.parametrize(
    ("check", "response", "expected"),
    [
        (pre_traffic.Check("c", "GET", "/", statuses=(201,)), _response(200), "status 200"),
        (
            pre_traffic.Check("c", "GET", "/", required_headers={"Location": "/orders/.+"}),
            _response(),
            "header Location missing",
        ),
        (
            pre_traffic.Check("c", "GET", "/", required_headers={"Location": "/orders/.+"}),
            _response(headers={"Location": "/elsewhere"}),
            "does not match",
        ),
        (pre_traffic.Check("c", "GET", "/", json_body=True), _response(body=b"{"), "not JSON"),
        (
            pre_traffic.Check("c", "GET", "/", json_body=True),
            _response(headers={"content-type": "text/html"}),
            "expected JSON",
        ),
        (
            pre_traffic.Check("c", "GET", "/", json_body=True, json_keys=("orderId",)),
            _response(body=b'{"id": 1}'),
            "lacks orderId",
        ),
        (
            pre_traffic.Check("c", "GET", "/", json_keys=("orderId",)),
            _response(body=b"<html>"),
            "not JSON",
        ),
    ],
    ids=[
        "status",
        "header-missing",
        "header-value",
        "not-json",
        "content-type",
        "json-key",
        "json-keys-imply-json",
    ],
)
def test_judge_names_the_unmet_expectation(check: Any, response: Any, expected: str) -> None:
    problem = pre_traffic.judge(check, response)

    assert problem is not None
    assert expected in problem


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"checks": []}, "checks=[]"),
        ({"checks": [{"name": "x", "method": "FETCH", "path": "/"}]}, "checks[0].method='FETCH'"),
        ({"checks": [{"name": "x", "method": "GET", "path": "health"}]}, "checks[0].path='health'"),
        (
            {"checks": [{"name": "x", "method": "GET", "path": "/", "expect": {"status": 99}}]},
            "checks[0].expect.status=99: allowed a code or a list of codes, 100..599",
        ),
        ({"timeout_seconds": 0, "checks": [{}]}, "timeout_seconds=0: allowed 0.1..60"),
        ({"enabled": "yes", "checks": [{}]}, "enabled='yes'"),
    ],
)
def test_bad_checks_file_names_field_value_and_allowed(
    tmp_path: Path, document: dict[str, object], expected: str
) -> None:
    path = tmp_path / "validate.json"
    path.write_text(json.dumps(document))

    with pytest.raises(pre_traffic.ConfigError) as raised:
        pre_traffic.load_checks(path)

    assert expected in str(raised.value)


# --- the bundle's own hook scripts -------------------------------------------------------


def run_hook(
    script: str, root: Path, port: int, tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    env_file = tmp_path / "order-api.env"
    env_file.write_text(f"ORDER_API_PORT={port}\n")
    return subprocess.run(  # noqa: S603 - fixed argv
        ["bash", str(root / "scripts" / script)],  # noqa: S607 - bash from PATH
        env={"PATH": "/usr/bin:/bin", "ORDER_API_ENV_FILE": str(env_file)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("variant", "returncode"), [("good", 0), ("bad", 1)])
def test_unpacked_bundle_validate_release_hook_passes_good_and_fails_bad(
    tmp_path: Path, variant: str, returncode: int
) -> None:
    # Given the revision unpacked as the agent leaves it, the app started as the unit does
    with unpacked_app(tmp_path, variant) as (root, port):
        # When ValidateService's second script runs with the instance's python3
        result = run_hook("validate_release.sh", root, port, tmp_path)

    # Then the bad release fails this instance's deployment before it takes traffic
    assert result.returncode == returncode, result.stdout + result.stderr
    assert ("FAIL create order" in result.stdout) is (variant == "bad")


def test_validate_service_waits_for_the_release_then_checks_its_routes() -> None:
    spec = yaml.safe_load((BUNDLE_DIR / "appspec.yml").read_text())

    scripts = [s["location"] for s in spec["hooks"]["ValidateService"]]

    # Scripts of one lifecycle event run in the listed order.
    assert scripts == ["scripts/validate_service.sh", "scripts/validate_release.sh"]


@pytest.mark.parametrize(("checks_on", "enabled"), [(True, True), (False, False)])
def test_release_tool_ships_the_checks_on_unless_told_otherwise(
    tmp_path: Path, checks_on: bool, enabled: bool
) -> None:
    files = bundle_files(BundleSpec(variant="bad", pre_traffic_checks=checks_on))
    path = tmp_path / "validate.json"
    path.write_bytes(files[VALIDATE_FILE])

    shipped, _, checks = pre_traffic.load_checks(path)

    assert shipped is enabled
    assert [c.name for c in checks] == [c.name for c in bundled_checks()]
    # Off, the checker sends nothing: port 9 on loopback is closed and would fail a request.
    assert (pre_traffic.main(["--config", str(path), "--port", "9"]) == 0) is not enabled
