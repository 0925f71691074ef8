"""A Lambda context object for handler tests, typed as the one Lambda passes.

Handlers are annotated with Powertools' ``LambdaContext``; this subclass fills the
attributes that handlers and Powertools read (names, version, request id, log group). The
``lambda_context`` fixture takes the defaults, fixed values, so a test's log lines and
responses are reproducible; ``lambda_invoke_gaps`` builds one per invocation, for the
invoked function and version with a fresh request id, as Lambda does.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

ACCOUNT = "123456789012"
REGION = "us-east-1"


class FakeLambdaContext(LambdaContext):
    """The context of ``function_name`` ``function_version`` (default ``test-function``
    ``$LATEST``) with 30 s left on every call."""

    def __init__(
        self,
        *,
        function_name: str = "test-function",
        function_version: str = "$LATEST",
        aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e812345678",
    ) -> None:
        self._function_name = function_name
        self._function_version = function_version
        self._memory_limit_in_mb = 256
        self._invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}"
        self._aws_request_id = aws_request_id
        self._log_group_name = f"/aws/lambda/{function_name}"
        self._log_stream_name = f"2026/11/24/[{function_version}]abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000
