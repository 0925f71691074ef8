"""The handler's Lambda release as the pre-traffic hook's tests see it, in moto.

``ReleaseWorld`` holds the clients of a ``mock_aws`` world (built by the ``release_world``
fixture in ``tests/lambdas/pretraffic/conftest.py``) in which function ``order-api`` has
versions 1 and 2 behind ``live`` and a CodeDeploy Lambda application and group deploy it;
``start`` begins a deployment to a version through ``tests.support.codedeploy_lambda_gaps``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support import codedeploy_lambda_gaps as gaps

FUNCTION = "order-api"
APPLICATION = "order-api-releases"
GROUP = "order-api-handler"


@dataclass
class ReleaseWorld:
    lambda_client: Any
    codedeploy: Any
    table_name: str

    def start(self, target_version: str = "2") -> tuple[str, str]:
        return gaps.start_deployment(
            APPLICATION,
            GROUP,
            function_name=FUNCTION,
            alias="live",
            current_version="1",
            target_version=target_version,
        )
