"""CodeDeploy refusing the rollback away from a deployment the scenario marks ``rollback_fails``.

Its revision is gone, so CreateDeployment raises ``RevisionDoesNotExistException`` (CodeDeploy
API Reference, CreateDeployment, Errors); moto would accept it, so the drill refuses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

from moto.codedeploy.models import CodeDeployBackend

from tests.support.codedeploy_lambda_gaps import RevisionDoesNotExistException


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
        with mock.patch.object(self, "_armed", True):
            yield

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        current = CodeDeployBackend.create_deployment

        def create_deployment(backend: CodeDeployBackend, *args: Any, **kwargs: Any) -> str:
            if self._armed:
                self.requests.append(dict(kwargs))
                if self._fails(str(kwargs.get("description") or "")):
                    key = kwargs["revision"]["s3Location"]["key"]
                    raise RevisionDoesNotExistException(
                        f"No application revision found for revision {key} (drill: the "
                        "scenario marks this rollback as failing)"
                    )
            return str(current(backend, *args, **kwargs))

        with mock.patch.object(CodeDeployBackend, "create_deployment", create_deployment):
            yield
