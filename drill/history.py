"""The scenario's CodeDeploy history on the drill's clock, under moto with the gap-filler.

``DeploymentHistory`` creates and completes the scenario's deployments at their
``createTime``/``completeTime`` (unless the kit stopped one first), completes rollbacks at
their modelled restore time, stamps what the rollback function created with the drill's
time (moto stamps real time), and knows which scenario version each deployment and
revision is. The scenario's failing rollbacks are refused by ``drill.refusals``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from drill.refusals import CreateDeploymentRefusals
from drill.scenario import Deployment, Scenario
from tests.support import codedeploy_gaps


class DeploymentHistory:
    """One deployment group's history; ``run_due`` applies what is due by a given time."""

    def __init__(self, scenario: Scenario, notes: list[str]) -> None:
        self.scenario = scenario
        self.notes = notes
        self.deployment_ids: dict[str, str] = {}  # scenario version -> deployment id
        self.versions = {d.s3_key: d.version for d in scenario.deployments}  # s3 key -> version
        self.refusals = CreateDeploymentRefusals(self.rollback_fails)
        self._due: list[tuple[datetime, int, Callable[[], None]]] = []
        self._known: set[str] = set()

    def bind(self, codedeploy: Any, application: str, group: str, bucket: str) -> None:
        """The moto group the history lives in; schedules the scenario's deployments."""
        self._codedeploy, self._group = codedeploy, (application, group)
        self.bucket = bucket
        for deployment in self.scenario.deployments:
            self._at(deployment.create_time, functools.partial(self._create, deployment))
            if deployment.complete_time is not None:
                self._at(deployment.complete_time, functools.partial(self._complete, deployment))

    def _at(self, when: datetime, run: Callable[[], None]) -> None:
        self._due.append((when, len(self._due), run))

    def run_due(self, when: datetime) -> None:
        """Apply everything scheduled up to ``when``, in time order."""
        due = sorted(item for item in self._due if item[0] <= when)
        self._due = [item for item in self._due if item[0] > when]
        for _, _, run in due:
            run()

    def revision(self, s3_key: str) -> dict[str, Any]:
        location = {"bucket": self.bucket, "key": s3_key, "bundleType": "zip"}
        return {"revisionType": "S3", "s3Location": location}

    def _create(self, deployment: Deployment) -> None:
        try:
            created = self._codedeploy.create_deployment(
                applicationName=self._group[0],
                deploymentGroupName=self._group[1],
                revision=self.revision(deployment.s3_key),
                description=deployment.description or f"release {deployment.version}",
            )
        except ClientError as err:
            self.notes.append(
                f"{deployment.version} could not be created at "
                f"{deployment.create_time:%H:%M:%S}: {err}"
            )
            return
        deployment_id = str(created["deploymentId"])
        self.deployment_ids[deployment.version] = deployment_id
        self._known.add(deployment_id)
        codedeploy_gaps.set_create_time(deployment_id, deployment.create_time)
        codedeploy_gaps.set_status(deployment_id, "InProgress", at=deployment.create_time)

    def _complete(self, deployment: Deployment) -> None:
        deployment_id = self.deployment_ids.get(deployment.version)
        # Not created, or the kit stopped it first.
        if deployment_id is not None and self._running(deployment_id):
            codedeploy_gaps.complete_deployment(
                deployment_id, deployment.status, at=deployment.complete_time
            )

    @staticmethod
    def _running(deployment_id: str) -> bool:
        return codedeploy_gaps.get(deployment_id).status in codedeploy_gaps.RUNNING_STATUSES

    def complete_rollback_at(self, deployment_id: str, at: datetime, status: str) -> None:
        def complete() -> None:
            if self._running(deployment_id):
                codedeploy_gaps.complete_deployment(deployment_id, status, at=at)

        self._at(at, complete)

    def rollback_fails(self, description: str) -> bool:
        """True if a CreateDeployment with ``description`` undoes a deployment whose
        rollback the scenario marks as failing (the kit names the deployment it undoes)."""
        return any(
            self.scenario.deployment(version).rollback_fails and deployment_id in description
            for version, deployment_id in self.deployment_ids.items()
        )

    def new_since_last_call(self, at: datetime) -> list[dict[str, Any]]:
        """Deployments the function created since the last call, stamped ``at``."""
        created = []
        for info in self.deployments():
            deployment_id = str(info["deploymentId"])
            if deployment_id not in self._known:
                self._known.add(deployment_id)
                codedeploy_gaps.set_create_time(deployment_id, at)
                created.append(self.deployment_info(deployment_id))
        return created

    def scenario_deployment(self, deployment_id: str | None) -> Deployment | None:
        for version, known in self.deployment_ids.items():
            if known == deployment_id:
                return self.scenario.deployment(version)
        return None

    def version_of(self, info: Mapping[str, Any]) -> str | None:
        key = info.get("revision", {}).get("s3Location", {}).get("key")
        return self.versions.get(str(key)) if key else None

    def deployment_info(self, deployment_id: str) -> dict[str, Any]:
        info: dict[str, Any] = self._codedeploy.get_deployment(deploymentId=deployment_id)
        return dict(info["deploymentInfo"])

    def deployments(self) -> list[dict[str, Any]]:
        application, group = self._group
        ids = self._codedeploy.list_deployments(
            applicationName=application, deploymentGroupName=group
        )["deployments"]
        if not ids:
            return []
        infos = self._codedeploy.batch_get_deployments(deploymentIds=ids)["deploymentsInfo"]
        return sorted(infos, key=lambda d: d["createTime"])
