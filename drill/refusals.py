"""CodeDeploy refusing the rollback of a deployment the scenario marks ``rollback_fails``.

A scenario's failing rollback is a revision CodeDeploy cannot find: CreateDeployment raises
``RevisionDoesNotExistException`` (CodeDeploy API Reference, CreateDeployment, Errors).
moto would accept it, so while the rollback function runs (``armed``) the drill refuses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from moto.codedeploy.exceptions import CodeDeployException
from moto.codedeploy.models import CodeDeployBackend

ROLLBACK_REFUSAL = "RevisionDoesNotExistException"


class RevisionDoesNotExist(CodeDeployException):
    code = 400

    def __init__(self, key: str) -> None:
        super().__init__(
            ROLLBACK_REFUSAL,
            f"No application revision found for revision {key} (drill: the scenario marks "
            "this rollback as failing)",
        )


class CreateDeploymentRefusals:
    """Records the function's CreateDeployment requests and refuses the failing ones."""

    def __init__(self, fails: Callable[[str], bool]) -> None:
        self._fails = fails
        self._armed = False
        self.requests: list[dict[str, Any]] = []

    @contextlib.contextmanager
    def armed(self) -> Iterator[None]:
        """Watch CreateDeployment for the duration of one function invocation."""
        self.requests = []
        self._armed = True
        try:
            yield
        finally:
            self._armed = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        current = CodeDeployBackend.create_deployment
        refusals = self

        def create_deployment(backend: CodeDeployBackend, *args: Any, **kwargs: Any) -> str:
            if refusals._armed:
                refusals.requests.append(dict(kwargs))
                if refusals._fails(str(kwargs.get("description") or "")):
                    key = kwargs.get("revision", {}).get("s3Location", {}).get("key", "?")
                    raise RevisionDoesNotExist(str(key))
            result: str = current(backend, *args, **kwargs)
            return result

        with mock.patch.object(CodeDeployBackend, "create_deployment", create_deployment):
            yield
