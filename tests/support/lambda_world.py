"""A mocked account where the rollback function watches a CodeDeploy Lambda group.

The function ``order-api`` has versions 1 (good) and 2 (bad) behind the ``live`` alias, in a
CodeDeploy application on the Lambda compute platform; CodeDeploy's traffic shifting,
hooks and AppSpec reads come from ``tests.support.codedeploy_lambda_gaps``. ``release``
lays down a Lambda deployment at chosen times, ``environment`` is what the stack's
``RollbackFunction`` sets for such a group (``TARGET_TYPE=LAMBDA``).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Unpack

from tests.support import codedeploy_gaps
from tests.support import codedeploy_lambda_gaps as gaps

APPLICATION = "order-api-releases"
GROUP = "order-api-handler"
FUNCTION = "order-api"
ALIAS = "live"
LAMBDA_ALARM = "order-api-canary-http5xx"


def environment() -> dict[str, str | None]:
    """Overrides of the EC2 test environment for a Lambda group (None removes a variable)."""
    return {
        "TARGET_TYPE": "LAMBDA",
        "APPLICATION_NAME": APPLICATION,
        "DEPLOYMENT_GROUP_NAME": GROUP,
        "LAMBDA_FUNCTION_NAME": FUNCTION,
        "LAMBDA_ALIAS_NAME": ALIAS,
        "ROLLBACK_ALARM_NAMES": LAMBDA_ALARM,
        "LOAD_BALANCER_FULL_NAME": None,
        "TARGET_GROUP_FULL_NAME": None,
    }


@dataclass
class LambdaWorld:
    now: datetime
    clients: dict[str, Any]

    @property
    def codedeploy(self) -> Any:
        return self.clients["codedeploy"]

    def alias_version(self) -> str:
        alias = self.clients["lambda"].get_alias(FunctionName=FUNCTION, Name=ALIAS)
        return str(alias["FunctionVersion"])

    def release(
        self,
        *,
        created_ago: timedelta,
        completed_ago: timedelta | None,
        current: str = "1",
        target: str = "2",
        status: str = "Succeeded",
        alias: str = ALIAS,
        **revision: Unpack[gaps.Revision],
    ) -> str:
        """A deployment shifting ``alias`` from ``current`` to ``target``; ``completed_ago``
        None leaves it InProgress. ``revision`` (``content``, ``revision_type``) goes to
        ``codedeploy_lambda_gaps.start_deployment`` as it is."""
        deployment_id, execution_id = gaps.start_deployment(
            APPLICATION,
            GROUP,
            function_name=FUNCTION,
            alias=alias,
            current_version=current,
            target_version=target,
            **revision,
        )
        codedeploy_gaps.set_create_time(deployment_id, self.now - created_ago)
        if completed_ago is not None:
            self._end(deployment_id, execution_id, status, at=self.now - completed_ago)
        return deployment_id

    def finish(self, deployment_id: str) -> None:
        """Let CodeDeploy run a deployment the function created to its end, Succeeded."""
        self._end(deployment_id, gaps.track(deployment_id), "Succeeded")

    def end_if_running(
        self, deployment_id: str, status: str, *, at: datetime, created: datetime | None = None
    ) -> None:
        """End ``deployment_id`` ``status`` at ``at`` unless it has ended already (the kit's
        function stopped it); ``created`` first re-dates it (a rollback deployment)."""
        if codedeploy_gaps.get(deployment_id).status not in codedeploy_gaps.RUNNING_STATUSES:
            return
        if created is not None:
            codedeploy_gaps.set_create_time(deployment_id, created)
        self._end(deployment_id, gaps.track(deployment_id), status, at=at)

    def _end(
        self, deployment_id: str, execution_id: str, status: str, *, at: datetime | None = None
    ) -> None:
        """The hook passes, then the deployment ends ``status`` at ``at`` (default now)."""
        self.codedeploy.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id,
            lifecycleEventHookExecutionId=execution_id,
            status="Succeeded",
        )
        gaps.finish_deployment(deployment_id, status, at=at)

    def deployments(self) -> list[dict[str, Any]]:
        return codedeploy_gaps.group_deployments(self.codedeploy, APPLICATION, GROUP)


def build(now: datetime, clients: dict[str, Any]) -> LambdaWorld:
    """Create the function, its versions and alias, and the Lambda application and group
    (inside ``mock_aws`` and ``codedeploy_lambda_gaps.install()``)."""
    role = clients["iam"].create_role(
        RoleName="order-api",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lambda_ = clients["lambda"]
    lambda_.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="api.handler.lambda_handler",
        Code={"ZipFile": gaps_zip("good")},
    )
    lambda_.publish_version(FunctionName=FUNCTION, Description="good")
    lambda_.update_function_code(FunctionName=FUNCTION, ZipFile=gaps_zip("bad"))
    lambda_.publish_version(FunctionName=FUNCTION, Description="bad")
    lambda_.create_alias(FunctionName=FUNCTION, Name=ALIAS, FunctionVersion="1")
    codedeploy = clients["codedeploy"]
    codedeploy.create_application(applicationName=APPLICATION, computePlatform="Lambda")
    codedeploy.create_deployment_group(
        applicationName=APPLICATION,
        deploymentGroupName=GROUP,
        serviceRoleArn=role,
        deploymentConfigName="CodeDeployDefault.LambdaCanary10Percent5Minutes",
    )
    return LambdaWorld(now=now, clients=clients)


def gaps_zip(marker: str) -> bytes:
    """A different archive per version, so PublishVersion publishes a new one (moto never
    runs it)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("api/__init__.py", f"# {marker}\n")
    return buffer.getvalue()
