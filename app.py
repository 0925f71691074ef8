"""CDK entry point: the only place that reads CDK context or the environment.

``main()`` turns context (``cdk.json`` plus ``cdk synth -c key=value``) into a validated
``StageConfig`` and hands it to ``build_app``, which composes the stacks and registers
the cdk-nag checks. Tests call ``build_app`` with a config of their own. Stacks are
environment-agnostic unless ``account`` and ``region`` are configured, so synth never
looks anything up in an AWS account.
"""

from __future__ import annotations

import sys

import aws_cdk as cdk

from stacks import compliance
from stacks.api_stack import ApiStack
from stacks.config import ConfigError, StageConfig, load_config
from stacks.service_stack import ServiceStack


def build_app(config: StageConfig, *, app: cdk.App | None = None, nag: bool = True) -> cdk.App:
    """Compose every stack of one stage into ``app`` (a new one if not given)."""
    app = app or cdk.App()
    env = (
        cdk.Environment(account=config.account, region=config.region)
        if config.account and config.region
        else None
    )
    prefix = f"{config.service.service_name}-{config.stage}"
    ServiceStack(
        app,
        f"{prefix}-service",
        config=config,
        env=env,
        description=f"{prefix}: ALB service with CodeDeploy auto-rollback",
    )
    if config.api.enabled:
        ApiStack(
            app,
            f"{prefix}-api",
            config=config,
            env=env,
            description=f"{prefix}: order-api on API Gateway (REST) + Lambda",
        )
    cdk.Tags.of(app).add("kit", "alarm-rollback-kit")
    cdk.Tags.of(app).add("stage", config.stage)
    compliance.acknowledge_findings(app)
    if nag:
        compliance.register(app)
    return app


def main() -> None:
    app = cdk.App()
    try:
        config = load_config(app.node.get_all_context())
    except ConfigError as err:
        sys.exit(f"cdk.json / -c: {err}")
    build_app(config, app=app)
    app.synth()


if __name__ == "__main__":
    main()
