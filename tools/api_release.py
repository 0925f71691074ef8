"""Publish a good or bad version of the order-api handler and start a CodeDeploy canary of it.

The Lambda sibling of ``tools.release``: ``build`` zips the ``api`` package with the
Powertools distributions the stack vendors (and, for a bad variant, ``release_faults.py``
from ``tools/api_faults.py``); ``push`` uploads it with UpdateFunctionCode, sets the
handler for the variant, PublishVersion, then CreateDeployment on the handler's Lambda
deployment group with an AppSpec that moves the ``live`` alias from the version it points
at to the new one and names the pre-traffic hook (CodeDeploy User Guide, "AppSpec
'resources' section for AWS Lambda deployments" and "AppSpec 'hooks' section for an AWS
Lambda deployment"). Names come from the API stack's outputs.

    python -m tools.api_release push --variant bad --function F --application A --group G \
        --pre-traffic-hook H

Variants: ``good``; ``bad`` (POST /orders fails like a real bug: 500 + Http5xx, stopped by
the canary alarm); ``not-proxy`` (POST /orders answers a non-proxy value: refused by the
pre-traffic hook). A release made this way moves the alias outside CloudFormation; the
next stack update points it back at the stack's version.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alarm_rollback_kit.lambda_code import _copy_distribution
from stacks.constructs.lambda_release import ALIAS_NAME
from stacks.constructs.orders_api import VENDORED_DISTRIBUTIONS
from stacks.constructs.pre_traffic_hook import LAMBDAS_DIR
from tools.release import zip_bytes

FAULTS_SOURCE = Path(__file__).resolve().parent / "api_faults.py"
FAULTS_MODULE = "release_faults"
GOOD_HANDLER = "api.handler.lambda_handler"
VARIANT_HANDLERS: Mapping[str, str] = {
    "good": GOOD_HANDLER,
    "bad": f"{FAULTS_MODULE}.post_orders_raises",
    "not-proxy": f"{FAULTS_MODULE}.post_orders_not_proxy",
}


def build_zip(variant: str) -> bytes:
    """The deployment package for ``variant``: deterministic (sorted, fixed times)."""
    if variant not in VARIANT_HANDLERS:
        raise ValueError(f"variant {variant!r}: one of {sorted(VARIANT_HANDLERS)}")
    files: dict[str, bytes] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in VENDORED_DISTRIBUTIONS:
            _copy_distribution(name, Path(tmp))
        for path in Path(tmp).rglob("*"):
            if path.is_file():
                files[path.relative_to(tmp).as_posix()] = path.read_bytes()
    for path in (LAMBDAS_DIR / "api").rglob("*.py"):
        files[path.relative_to(LAMBDAS_DIR).as_posix()] = path.read_bytes()
    if variant != "good":
        files[f"{FAULTS_MODULE}.py"] = FAULTS_SOURCE.read_bytes()
    return zip_bytes(files)


def appspec(function: str, current: str, target: str, hook: str | None) -> str:
    """The Lambda AppSpec (JSON) that moves the ``live`` alias from ``current`` to ``target``."""
    spec: dict[str, Any] = {
        "version": 0.0,
        "Resources": [
            {
                function: {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": function,
                        "Alias": ALIAS_NAME,
                        "CurrentVersion": current,
                        "TargetVersion": target,
                    },
                }
            }
        ],
    }
    if hook:
        spec["Hooks"] = [{"BeforeAllowTraffic": hook}]
    return json.dumps(spec)


@dataclass(frozen=True)
class Pushed:
    variant: str
    version: str
    previous_version: str
    deployment_id: str


def _wait_updated(lambda_client: Any, function: str) -> None:
    # Lambda refuses the next update (and PublishVersion) while one is in progress.
    lambda_client.get_waiter("function_updated_v2").wait(
        FunctionName=function, WaiterConfig={"Delay": 2, "MaxAttempts": 60}
    )


def push(
    lambda_client: Any,
    codedeploy_client: Any,
    *,
    variant: str,
    function: str,
    application: str,
    group: str,
    pre_traffic_hook: str | None,
    package: bytes | None = None,
) -> Pushed:
    """Publish ``variant`` as a new version and start the deployment that canaries it."""
    current = lambda_client.get_alias(FunctionName=function, Name=ALIAS_NAME)["FunctionVersion"]
    lambda_client.update_function_code(
        FunctionName=function, ZipFile=package if package is not None else build_zip(variant)
    )
    _wait_updated(lambda_client, function)
    lambda_client.update_function_configuration(
        FunctionName=function, Handler=VARIANT_HANDLERS[variant]
    )
    _wait_updated(lambda_client, function)
    version = lambda_client.publish_version(
        FunctionName=function, Description=f"order-api {variant} (tools.api_release)"
    )["Version"]
    deployment_id = codedeploy_client.create_deployment(
        applicationName=application,
        deploymentGroupName=group,
        revision={
            "revisionType": "AppSpecContent",
            "appSpecContent": {"content": appspec(function, current, version, pre_traffic_hook)},
        },
        description=f"order-api {variant}: version {current} -> {version}",
    )["deploymentId"]
    return Pushed(variant, version, current, deployment_id)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.api_release", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write the zip for a variant")
    build.add_argument("--variant", choices=sorted(VARIANT_HANDLERS), required=True)
    build.add_argument("--out", type=Path, default=Path("dist"))
    ship = sub.add_parser("push", help="publish a version and start its CodeDeploy canary")
    ship.add_argument("--variant", choices=sorted(VARIANT_HANDLERS), required=True)
    ship.add_argument("--function", required=True, help="the handler function (stack output)")
    ship.add_argument("--application", required=True, help="CodeDeploy application name")
    ship.add_argument("--group", required=True, help="the handler's deployment group")
    ship.add_argument("--pre-traffic-hook", help="the BeforeAllowTraffic hook function")
    ship.add_argument("--region", help="default: the AWS SDK's configured region")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "build":
        args.out.mkdir(parents=True, exist_ok=True)
        path = args.out / f"order-api-lambda-{args.variant}.zip"
        path.write_bytes(build_zip(args.variant))
        print(path)
        return 0
    import boto3  # only when shipping

    pushed = push(
        boto3.client("lambda", region_name=args.region),
        boto3.client("codedeploy", region_name=args.region),
        variant=args.variant,
        function=args.function,
        application=args.application,
        group=args.group,
        pre_traffic_hook=args.pre_traffic_hook,
    )
    print(json.dumps(dataclasses.asdict(pushed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
