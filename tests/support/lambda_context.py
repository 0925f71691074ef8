"""A Lambda context object for handler tests, typed as the one Lambda passes.

Handlers are annotated with Powertools' ``LambdaContext``; this subclass fills the
attributes that handlers and Powertools read (names, version, request id, log group) with
fixed values, so a test's log lines and responses are reproducible.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext


class FakeLambdaContext(LambdaContext):
    """The context of ``test-function`` ``$LATEST`` with 30 s left on every call."""

    def __init__(self) -> None:
        self._function_name = "test-function"
        self._function_version = "$LATEST"
        self._memory_limit_in_mb = 256
        self._invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
        self._aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"
        self._log_group_name = "/aws/lambda/test-function"
        self._log_stream_name = "2026/11/24/[$LATEST]abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000
