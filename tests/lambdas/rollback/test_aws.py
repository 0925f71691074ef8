"""The AWS gateway: which errors are retried, how long it waits, and that it follows pages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from rollback import aws


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "AnyOperation",
    )


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("ThrottlingException"),
        _client_error("Throttling"),
        _client_error("RequestLimitExceeded"),
        _client_error("ServiceUnavailable", 503),
        _client_error("InternalFailure", 500),
        _client_error("SomethingNew", 502),
        EndpointConnectionError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com"),
    ],
)
def test_transient_errors_are_retryable(exc: Exception) -> None:
    assert aws.is_retryable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        _client_error("AccessDeniedException"),
        _client_error("DeploymentLimitExceededException"),
        _client_error("ValidationException"),
        KeyError("deploymentId"),
    ],
)
def test_permanent_errors_are_not_retryable(exc: Exception) -> None:
    assert not aws.is_retryable(exc)


def test_backoff_never_exceeds_its_cap() -> None:
    policy = aws.RetryPolicy(base_delay=0.5, max_delay=1.0)

    delays = [policy.delay(attempt) for attempt in range(1, 8) for _ in range(20)]

    assert all(0 <= d <= 1.0 for d in delays)


class _PagedCodeDeploy:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def list_deployments(self, **params: Any) -> dict[str, Any]:
        self.requests.append(params)
        if "nextToken" not in params:
            return {"deployments": ["d-1", "d-2"], "nextToken": "page-2"}
        return {"deployments": ["d-3"]}


def test_list_deployments_follows_next_token(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = _PagedCodeDeploy()
    monkeypatch.setattr(aws, "client", lambda service: fake)
    gateway = aws.Gateway()

    ids = gateway.list_deployment_ids("app", "group", datetime(2026, 3, 12, tzinfo=UTC))

    assert ids == ["d-1", "d-2", "d-3"]
    assert fake.requests[1]["nextToken"] == "page-2"
    assert gateway.calls == ["codedeploy:ListDeployments"] * 2


def test_gateway_gives_up_after_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    class Throttled:
        def publish(self, **_: Any) -> dict[str, Any]:
            raise _client_error("Throttling")

    monkeypatch.setattr(aws, "client", lambda service: Throttled())
    pauses: list[float] = []
    gateway = aws.Gateway(aws.RetryPolicy(attempts=3, sleep=pauses.append))

    with pytest.raises(ClientError):
        gateway.publish("arn:aws:sns:us-east-1:1:t", "s", "m")

    assert gateway.calls == ["sns:Publish"] * 3
    assert len(pauses) == 2
