"""The offline drill: every bundled scenario through the synthesized kit under moto.

The app is synthesized once per test process (``tests/drill/synthesized.py``) and each
scenario is replayed once (session-scoped cache); the tests assert on those runs. Tests
that need a different template edit a copy of the service template, which is also how they
show the drill reads the kit from cdk.out instead of restating it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drill import runner, scenario
from drill.__main__ import main
from drill.evaluator import ALARM, OK, Transition
from drill.runner import DrillReport
from drill.template import load_assembly
from tests.conftest import load_event
from tests.drill.synthesized import resource, synthesize, variant

SEED = "seed-incident"
CREATE = "codedeploy:CreateDeployment"
STOP = "codedeploy:StopDeployment"
INVALIDATE = "cloudfront:CreateInvalidation"

Drill = Callable[[str], DrillReport]


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def drill(cdk_out: Path) -> Drill:
    """Replays a bundled scenario against the synthesized kit, once per session."""
    assembly = load_assembly(cdk_out)
    done: dict[str, DrillReport] = {}

    def run(name: str) -> DrillReport:
        if name not in done:
            done[name] = runner.run(scenario.load(name), assembly)
        return done[name]

    return run


def drill_variant(
    cdk_out: Path, target: Path, edit: Callable[[dict[str, Any]], None]
) -> DrillReport:
    return runner.run(scenario.load(SEED), load_assembly(variant(cdk_out, target, edit)))


# --- Every bundled scenario -----------------------------------------------------------------


@pytest.mark.parametrize("name", scenario.bundled_names())
def test_bundled_scenario_meets_its_expect_block(drill: Drill, name: str) -> None:
    report = drill(name)

    failed = [check for check in report.checks if not check.passed]

    assert failed == []
    assert {c.name for c in report.checks} >= {"alarm_fires", "decision"}


# --- The seed incident ----------------------------------------------------------------------


def test_seed_incident_rollback_starts_within_two_alarm_periods_of_onset(drill: Drill) -> None:
    report = drill(SEED)
    period = timedelta(seconds=report.scenario.period)

    elapsed = report.onset_to_rollback

    assert elapsed is not None
    assert elapsed <= 2 * period


def test_seed_incident_counts_the_metric_delay_before_the_alarm_fires(drill: Drill) -> None:
    report = drill(SEED)
    onset = report.scenario.onset
    assert onset is not None

    # The 14:45 minute closes at 14:46 and lands a minute later.
    assert report.alarm_time == onset + timedelta(minutes=1) + report.metric_delay


def test_seed_incident_redeploys_v2_3_1_through_create_deployment(drill: Drill) -> None:
    first = drill(SEED).invocations[0]

    assert first.action == "redeployed"
    assert CREATE in first.invocation.aws_calls
    assert first.created[0]["revision"]["s3Location"]["key"] == "order-api-v2.3.1.zip"


def test_seed_incident_second_alarm_event_finds_the_rollback_and_skips(drill: Drill) -> None:
    report = drill(SEED)

    second = report.invocations[1]

    assert second.action == "skipped"
    assert "is a rollback" in (second.invocation.result or {})["reason"]
    assert CREATE not in second.invocation.aws_calls


def test_seed_incident_notification_diagnoses_malformed_responses(drill: Drill) -> None:
    diagnosis = drill(SEED).diagnosis

    assert diagnosis is not None
    assert "malformed or truncated responses" in diagnosis


def test_seed_incident_invalidates_the_distribution_of_the_nested_edge_stack(drill: Drill) -> None:
    report = drill(SEED)
    first = report.invocations[0]

    assert INVALIDATE in first.invocation.aws_calls
    assert (first.invocation.result or {})["invalidationId"]
    assert report.environment["DISTRIBUTION_ID"]


def test_seed_incident_errors_drop_to_baseline_after_the_modelled_restore(drill: Drill) -> None:
    report = drill(SEED)
    assert report.rollback is not None
    assert report.rollback.restore_end is not None

    modelled = [row for row in report.rows if row.modelled]

    assert modelled[0].minute >= report.rollback.restore_end
    assert all(row.elb_5xx is None for row in modelled)
    assert report.rows[-1].states == (OK,) * len(report.alarms)


def test_seed_incident_restore_is_compared_with_aws_defaults(drill: Drill) -> None:
    restore = drill(SEED).restore

    assert restore.aws_defaults.deregistration_delay_s == 300
    assert restore.aws_defaults.health_check_s == 30 * 5
    assert restore.kit.total_s < restore.aws_defaults.total_s


def test_drill_runs_the_asset_code_from_cdk_out_and_restores_sys_modules(
    drill: Drill, cdk_out: Path
) -> None:
    import rollback  # the lambdas/ copy the rest of the suite uses

    report = drill("one-minute-blip")

    assert Path(report.source_file).is_relative_to(cdk_out.resolve())
    assert sys.modules["rollback"] is rollback
    assert not list(cdk_out.glob("asset.*/rollback/__pycache__"))


# --- Other scenarios ------------------------------------------------------------------------


def test_rollback_fails_notifies_retries_and_dead_letters_the_event(drill: Drill) -> None:
    report = drill("rollback-fails")
    first = report.invocations[0]

    assert first.action == "failed"
    assert "RevisionDoesNotExistException" in str(first.invocation.error)
    assert "Tried and failed" in first.notifications[0]["Message"]
    assert max(i.attempt for i in report.invocations) == 3
    assert report.dead_letters >= 1


def test_running_deployment_is_stopped_and_codedeploy_rolls_back(drill: Drill) -> None:
    report = drill("no-healthy-targets-503")
    first = report.invocations[0]

    assert first.action == "stopped"
    assert STOP in first.invocation.aws_calls
    assert first.created[0]["creator"] == "codeDeployRollback"


def test_target_5xx_alarm_fires_but_the_rule_does_not_invoke_the_function(drill: Drill) -> None:
    report = drill("target-500s")

    assert report.invocations == []
    assert any(e.kind == "no-match" and "not a rollback alarm" in e.text for e in report.events)


# --- The drill follows the template ---------------------------------------------------------


def test_raised_count_threshold_in_the_template_keeps_the_count_alarm_quiet(
    cdk_out: Path, tmp_path: Path
) -> None:
    def raise_threshold(template: dict[str, Any]) -> None:
        resource(template, "AWS::CloudWatch::Alarm", "Elb5xxCount")["Properties"]["Threshold"] = 400

    report = drill_variant(cdk_out, tmp_path / "cdk.out", raise_threshold)

    checks = {c.name: c for c in report.checks}
    assert checks["alarms.Elb5xxCount"].actual is False
    assert report.decision == "rollback"


def test_restore_model_reads_instances_config_and_target_group_from_the_template(
    cdk_out: Path, tmp_path: Path
) -> None:
    def slower_fleet(template: dict[str, Any]) -> None:
        resource(template, "AWS::AutoScaling::AutoScalingGroup")["Properties"]["MinSize"] = "4"
        group = resource(template, "AWS::CodeDeploy::DeploymentGroup")["Properties"]
        group["DeploymentConfigName"] = "CodeDeployDefault.OneAtATime"
        target_group = resource(template, "AWS::ElasticLoadBalancingV2::TargetGroup")["Properties"]
        target_group["TargetGroupAttributes"] = [
            {"Key": "deregistration_delay.timeout_seconds", "Value": "120"}
        ]
        target_group["HealthCheckIntervalSeconds"] = 15
        target_group["HealthyThresholdCount"] = 3

    report = drill_variant(cdk_out, tmp_path / "cdk.out", slower_fleet)

    lifecycle = report.restore.lifecycle_s
    assert report.restore.kit.total_s == 4 * (120 + lifecycle + 15 * 3)


def test_drill_without_an_edge_distribution_makes_no_invalidation(
    cdk_out: Path, tmp_path: Path
) -> None:
    def no_edge(template: dict[str, Any]) -> None:
        resources = template["Resources"]
        for logical_id in [
            k for k, v in resources.items() if v["Type"] == "AWS::CloudFormation::Stack"
        ]:
            del resources[logical_id]
        function = resource(template, "AWS::Lambda::Function", "AutoRollbackFunction")
        function["Properties"]["Environment"]["Variables"]["DISTRIBUTION_ID"] = ""

    report = drill_variant(cdk_out, tmp_path / "cdk.out", no_edge)

    first = report.invocations[0]
    assert first.action == "redeployed"
    assert INVALIDATE not in first.invocation.aws_calls


# --- Pieces ---------------------------------------------------------------------------------


def test_alarm_event_has_the_documented_shape_and_the_function_parses_it() -> None:
    from rollback.alarm_event import parse_alarm_event

    documented = load_event("cloudwatch-alarm-state-change-metric-math.json")
    at = datetime(2026, 11, 24, 14, 47, tzinfo=UTC)
    transition = Transition(at, at - timedelta(minutes=1), OK, ALARM, "Threshold Crossed", {})

    event = runner.alarm_event(
        name="alarm-a",
        arn="arn:aws:cloudwatch:us-east-1:123456789012:alarm:alarm-a",
        properties={"Metrics": [{"Id": "e", "Expression": "m", "ReturnData": True}]},
        transition=transition,
        previous=None,
        at=at,
    )

    assert set(event) == set(documented)
    assert set(event["detail"]) == set(documented["detail"])
    assert parse_alarm_event(event).timestamp == at


def test_recovery_keeps_requests_and_returns_other_series_to_pre_onset_median() -> None:
    base = scenario.load(SEED)
    onset = base.onset
    assert onset is not None
    restore_end = onset + timedelta(minutes=4, seconds=20)

    after, first = runner.recovered(base, restore_end=restore_end, baseline_until=onset)

    index = base.timestamps().index(first) if first else -1
    assert first == onset + timedelta(minutes=5)
    assert after.series["RequestCount"] == base.series["RequestCount"]
    assert after.series["HTTPCode_ELB_5XX_Count"][index:] == (None,) * (base.minutes - index)
    assert after.series["HTTPCode_ELB_5XX_Count"][index - 1] == 369


# --- Command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(cdk_out: Path, capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str]]:
    def run(*args: str) -> tuple[int, str]:
        code = main(["--cdk-out", str(cdk_out), *args])
        return code, capsys.readouterr().out

    return run


def test_cli_json_report_carries_onset_decision_ids_restore_and_expectations(
    cli: Callable[..., tuple[int, str]],
) -> None:
    code, out = cli("--json", "--no-png")

    report = json.loads(out)
    assert code == 0
    assert report["onset"] == "2026-11-24T14:45:00+00:00"
    assert report["decision"] == "rollback"
    assert report["ids"]["rollbackDeploymentId"]
    assert report["restore"]["ratio"] > 1
    assert all(check["passed"] for check in report["expectations"])


def test_cli_exits_non_zero_when_the_expectation_is_not_met(
    cli: Callable[..., tuple[int, str]], tmp_path: Path
) -> None:
    data = json.loads((scenario.SCENARIOS_DIR / f"{SEED}.json").read_text(encoding="utf-8"))
    data["expect"]["rollback_target"] = "v2.3.2"
    path = tmp_path / "wrong-target.json"
    path.write_text(json.dumps(data), encoding="utf-8")

    code, out = cli("--scenario", str(path), "--no-png")

    assert code == 1
    assert "FAIL  rollback_target" in out


def test_cli_prints_the_timeline_and_writes_a_png(
    cli: Callable[..., tuple[int, str]], tmp_path: Path
) -> None:
    png = tmp_path / "seed.png"

    code, out = cli("--png", str(png))

    assert code == 0
    assert "14:47:00  EventBridge: rule" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_without_a_synthesized_app_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["--cdk-out", str(tmp_path), "--no-png"])

    assert code == 2
    assert "make synth" in capsys.readouterr().err
