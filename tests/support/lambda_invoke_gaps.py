"""Lambda ``Invoke`` without Docker, for moto 5.2.5 (whose Invoke runs the code in Docker).

``register_version`` binds a Python callable to a function version; an invocation of that
version (or of an alias pointing at it) runs the callable on the JSON payload. An exception
becomes what Lambda returns for an unhandled error: status 200, header
``X-Amz-Function-Error: Unhandled`` and a payload with ``errorMessage``, ``errorType`` and
``stackTrace`` (Lambda API Reference, Invoke). Installed by ``codedeploy_lambda_gaps``.
"""

from __future__ import annotations

import json
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock
from urllib.parse import unquote

from moto.awslambda import responses as lambda_responses
from moto.awslambda.models import LambdaBackend

from tests.support.lambda_context import FakeLambdaContext

Handler = Callable[[Any, Any], Any]

# (function, version) -> callable.
_VERSIONS: dict[tuple[str, str], Handler] = {}

_original_lambda_invoke = LambdaBackend.invoke


def _invoke(
    self: LambdaBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> str | bytes | None:
    fn = self.get_function(function_name, qualifier)
    handler = _VERSIONS.get((fn.function_name, str(fn.version)))
    if handler is None:
        return _original_lambda_invoke(
            self, function_name, qualifier, body, headers, response_headers
        )
    event = json.loads(body) if body else {}
    context = FakeLambdaContext(
        function_name=fn.function_name,
        function_version=str(fn.version),
        aws_request_id=str(uuid.uuid4()),
    )
    try:
        result = handler(event, context)
        payload = json.dumps(result).encode()
    except Exception as error:  # an unhandled error, as Lambda reports it
        response_headers["x-amz-function-error"] = "Unhandled"
        payload = json.dumps(
            {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
        ).encode()
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _invoke_response(self: Any) -> tuple[int, dict[str, str], str | bytes]:
    # moto reads the qualifier as "qualifier" while boto3 sends "Qualifier" in the query
    # string, so every invocation of a version would hit $LATEST. RequestResponse only.
    response_headers: dict[str, str] = {}
    function_name = unquote(self.path.rsplit("/", 2)[-2])
    qualifier = (self.querystring.get("Qualifier") or [None])[0] or self._get_param("qualifier")
    payload = self.backend.invoke(
        function_name, qualifier, self.body, self.headers, response_headers
    )
    response_headers["content-type"] = "application/json"
    return 200, response_headers, payload or b""


def register_version(function_name: str, version: str, handler: Handler) -> None:
    """Make invocations of ``function_name`` version ``version`` run ``handler(event, ctx)``."""
    _VERSIONS[(function_name, str(version))] = handler


@contextmanager
def install() -> Iterator[None]:
    """Patch moto's Lambda Invoke as above, for the block's length."""
    _VERSIONS.clear()
    with ExitStack() as stack:
        stack.enter_context(mock.patch.object(LambdaBackend, "invoke", _invoke))
        stack.enter_context(
            mock.patch.object(lambda_responses.LambdaResponse, "invoke", _invoke_response)
        )
        yield
    _VERSIONS.clear()
