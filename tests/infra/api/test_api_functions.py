"""ApiStack's functions, table, queues and keys: timeouts, runtimes, log groups, encryption,
redrive, and the function code importing with only what is vendored."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from stacks.api_stack import ApiStack
from stacks.config import APIGW_INTEGRATION_TIMEOUT_S, ConfigError, load_config
from stacks.constructs import orders_api
from tests.support.api_template import (
    HANDLER,
    STACK_ID,
    WORKER,
    Resources,
    function_id,
    of_type,
)
from tests.support.templates import new_app

# --- functions -------------------------------------------------------------------------


def test_handler_times_out_per_config_before_the_integration_timeout(
    resources: Resources,
) -> None:
    timeout = resources[function_id(resources, HANDLER)]["Properties"]["Timeout"]
    assert timeout == 12
    assert timeout < APIGW_INTEGRATION_TIMEOUT_S


@pytest.mark.parametrize("handler", [HANDLER, WORKER])
def test_function_runs_python_3_14_on_arm64_with_active_tracing(
    resources: Resources,
    handler: str,
) -> None:
    props = resources[function_id(resources, handler)]["Properties"]
    assert props["Runtime"] == "python3.14"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["MemorySize"] == 512


def test_handler_environment_names_table_queue_and_powertools_settings(
    resources: Resources,
) -> None:
    env = resources[function_id(resources, HANDLER)]["Properties"]["Environment"]["Variables"]
    (table,) = of_type(resources, "AWS::DynamoDB::Table")
    (queue,) = [
        k for k in of_type(resources, "AWS::SQS::Queue") if k.startswith("OrdersApiExportQueue")
    ]
    assert env == {
        "TABLE_NAME": {"Ref": table},
        "EXPORT_QUEUE_URL": {"Ref": queue},
        "POWERTOOLS_SERVICE_NAME": "order-api",
        "POWERTOOLS_METRICS_NAMESPACE": "OrderApi",
    }


@pytest.mark.parametrize("handler", [HANDLER, WORKER])
def test_function_logs_to_its_own_log_group_with_config_retention(
    resources: Resources,
    handler: str,
) -> None:
    props = resources[function_id(resources, handler)]["Properties"]
    log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
    assert resources[log_group]["Properties"]["RetentionInDays"] == 14


def test_function_roles_carry_no_managed_policies(resources: Resources) -> None:
    for handler in (HANDLER, WORKER):
        role = resources[function_id(resources, handler)]["Properties"]["Role"]
        assert "ManagedPolicyArns" not in resources[role["Fn::GetAtt"][0]]["Properties"]


def test_function_code_imports_with_only_the_vendored_distributions_and_the_runtime_sdk(
    app_and_stack: tuple[cdk.App, ApiStack],
    tmp_path: Path,
) -> None:
    # Given the synthesized asset, and a stand-in for what the Lambda Python runtime
    # provides (boto3 and its dependencies; jmespath left out, the asset must carry it)
    app, stack = app_and_stack
    assembly = app.synth()
    manifest = json.loads(
        (Path(assembly.directory) / f"{stack.artifact_id}.assets.json").read_text()
    )
    zips = {
        Path(assembly.directory) / f["source"]["path"]
        for f in manifest["files"].values()
        if f["source"].get("packaging") == "zip"
    }
    # The API's asset (handler and worker) and the pre-traffic hook's.
    (asset,) = [z for z in zips if (z / "api" / "handler.py").is_file()]
    (hook_asset,) = [z for z in zips if (z / "pretraffic" / "handler.py").is_file()]
    assert (hook_asset / "pretraffic" / "events" / "apigw-rest-post-orders.json").is_file()
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    for dist, top in (
        ("boto3", "boto3"),
        ("botocore", "botocore"),
        ("s3transfer", "s3transfer"),
        ("python-dateutil", "dateutil"),
        ("six", "six.py"),
        ("urllib3", "urllib3"),
    ):
        (runtime / top).symlink_to(Path(str(metadata.distribution(dist).locate_file(top))))
    # When both entry points are imported with no site-packages at all
    code = "import sys; sys.path[:0] = sys.argv[1:]\nimport api.handler, api.worker\n"
    result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "-S", "-c", code, str(asset), str(runtime)],
        capture_output=True,
        text=True,
        check=False,
    )
    # The hook vendors nothing: boto3 with its jmespath is all it needs from the runtime.
    with_jmespath = tmp_path / "runtime-full"
    with_jmespath.mkdir()
    (with_jmespath / "jmespath").symlink_to(
        Path(str(metadata.distribution("jmespath").locate_file("jmespath")))
    )
    hook_code = "import sys; sys.path[:0] = sys.argv[1:]\nimport pretraffic.handler\n"
    hook_result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [
            sys.executable,
            "-S",
            "-c",
            hook_code,
            str(hook_asset),
            str(runtime),
            str(with_jmespath),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    # Then nothing is missing
    assert result.returncode == 0, result.stderr
    assert hook_result.returncode == 0, hook_result.stderr


# --- table and queues ------------------------------------------------------------------


def test_table_is_on_demand_with_point_in_time_recovery_and_encryption(
    resources: Resources,
) -> None:
    (table,) = of_type(resources, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_table_survives_stack_deletion(resources: Resources) -> None:
    (table,) = of_type(resources, "AWS::DynamoDB::Table").values()
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_worker_reports_batch_item_failures(resources: Resources) -> None:
    (mapping,) = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    # The worker's live alias ("<name>:live"); tests/infra/test_lambda_release.py pins it.
    assert props["FunctionName"]["Fn::Join"][1][1] == ":live"
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_worker_concurrency_is_capped_by_config(resources: Resources) -> None:
    (mapping,) = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 7}


@pytest.mark.parametrize("value", ["1", "1001"])
def test_worker_max_concurrency_outside_2_to_1000_fails_at_synth(value: str) -> None:
    with pytest.raises(
        ConfigError, match=rf"api\.worker_max_concurrency={value}: allowed 2\.\.1000"
    ):
        load_config({"api.worker_max_concurrency": value})


def test_only_the_export_queue_may_redrive_into_its_dead_letter_queue(
    resources: Resources,
) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    (queue,) = [r["Properties"] for k, r in queues.items() if k.startswith("OrdersApiExportQueue")]
    (dlq,) = [
        r["Properties"] for k, r in queues.items() if k.startswith("OrdersApiExportDeadLetters")
    ]
    allow = dlq["RedriveAllowPolicy"]
    assert allow["redrivePermission"] == "byQueue"
    (source_arn,) = allow["sourceQueueArns"]
    # The ARN is built from the queue's name, not a reference to it (that would be a cycle).
    assert json.dumps(source_arn).endswith(f':{queue["QueueName"]}"]]}}')
    assert "OrdersApiExportQueue" not in json.dumps(source_arn)


def test_every_api_log_group_is_encrypted_with_the_logs_key(
    resources: Resources,
) -> None:
    (key_id,) = [k for k in of_type(resources, "AWS::KMS::Key") if k.startswith("OrdersApiLogsKey")]
    groups = of_type(resources, "AWS::Logs::LogGroup")
    assert {k.split("Logs")[0] for k in groups} >= {"OrdersApiAccess", "OrdersApiExecution"}
    for group in groups.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_logs_key_lets_only_regional_cloudwatch_logs_use_it_for_this_accounts_groups(
    resources: Resources,
) -> None:
    (key,) = [
        r
        for k, r in of_type(resources, "AWS::KMS::Key").items()
        if k.startswith("OrdersApiLogsKey")
    ]
    (statement,) = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if s.get("Sid") == "CloudWatchLogsOfThisAccountAndRegion"
    ]
    assert statement["Principal"] == {
        "Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    }
    condition = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert condition == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":log-group:*",
            ],
        ]
    }


def test_every_kms_key_denies_grants_not_for_aws_resources(
    stack_resources: Resources,
) -> None:
    keys = of_type(stack_resources, "AWS::KMS::Key")
    assert len(keys) == 2, "the alarm topic's key and the logs key"
    for key in keys.values():
        assert {
            "Sid": "DenyGrantsExceptForAwsServices",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:CreateGrant",
            "Resource": "*",
            "Condition": {
                "BoolIfExists": {
                    "kms:GrantIsForAWSResource": "false",
                    "aws:PrincipalIsAWSService": "false",
                }
            },
        } in key["Properties"]["KeyPolicy"]["Statement"]


def test_account_logging_role_can_be_turned_off_by_config() -> None:
    app = new_app({"api.manage_account_cloudwatch_role": "false"})
    stack = ApiStack(app, STACK_ID, config=load_config(app.node.get_all_context()))
    found = Template.from_stack(stack).find_resources("AWS::ApiGateway::Account")
    assert found == {}


def test_export_queue_is_encrypted_and_redrives_to_an_encrypted_dead_letter_queue(
    resources: Resources,
) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    (queue,) = [r["Properties"] for k, r in queues.items() if k.startswith("OrdersApiExportQueue")]
    (dlq_id,) = [k for k in queues if k.startswith("OrdersApiExportDeadLetters")]
    assert queue["SqsManagedSseEnabled"] is True
    assert queues[dlq_id]["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": orders_api.MAX_RECEIVE_COUNT,
    }


def test_both_queues_refuse_requests_without_tls(resources: Resources) -> None:
    guarded: set[str] = set()
    for policy in of_type(resources, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                guarded.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert guarded == set(of_type(resources, "AWS::SQS::Queue"))


def test_visibility_timeout_is_at_least_six_worker_timeouts(
    resources: Resources,
) -> None:
    worker_timeout = resources[function_id(resources, WORKER)]["Properties"]["Timeout"]
    (queue,) = [
        r["Properties"]
        for k, r in of_type(resources, "AWS::SQS::Queue").items()
        if k.startswith("OrdersApiExportQueue")
    ]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout
