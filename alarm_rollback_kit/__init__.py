"""alarm-rollback-kit: CDK v2 constructs that roll a CodeDeploy release back on ALB 5xx.

One import root for everything a user's stack needs: the constructs, the props they
take (each checks its own fields when built and raises ``ConfigError``), and
``acknowledge_findings`` for the kit's reviewed cdk-nag findings. The repository's own
sample stacks (``stacks/``) are composed from this package exactly as a user's stack
would be.
"""

from alarm_rollback_kit.alarms import RollbackAlarms
from alarm_rollback_kit.auto_rollback import AutoRollback
from alarm_rollback_kit.compliance import KitConstruct, acknowledge_findings
from alarm_rollback_kit.config import (
    ConfigError,
    EdgeConfig,
    HealthCheckConfig,
    RollbackConfig,
    ServiceConfig,
    SeverityAlarmsConfig,
)
from alarm_rollback_kit.dashboard import ServiceDashboard
from alarm_rollback_kit.deployment import InPlaceDeployment
from alarm_rollback_kit.edge import Edge
from alarm_rollback_kit.health_checked_service import HealthCheckedService
from alarm_rollback_kit.rollback_function import RollbackFunction
from alarm_rollback_kit.severity_alarms import SeverityAlarms
from alarm_rollback_kit.topics import AlarmTopic

__all__ = [
    "AlarmTopic",
    "AutoRollback",
    "ConfigError",
    "Edge",
    "EdgeConfig",
    "HealthCheckConfig",
    "HealthCheckedService",
    "InPlaceDeployment",
    "KitConstruct",
    "RollbackAlarms",
    "RollbackConfig",
    "RollbackFunction",
    "ServiceConfig",
    "ServiceDashboard",
    "SeverityAlarms",
    "SeverityAlarmsConfig",
    "acknowledge_findings",
]
