"""The offline drill: every bundled scenario through the synthesized kit under moto.

The app is synthesized once per test process (``tests/support/synthesized.py``) and each
scenario is replayed once (session-scoped cache); the tests assert on those runs. Tests
that need a different template edit a copy of the service template, which is also how they
show the drill reads the kit from cdk.out instead of restating it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alarm_rollback_kit import timing
from drill import runner, scenario
from drill.assembly import load_assembly
from drill.evaluator import OK
from drill.outcome import DrillReport
from drill.runner import DelaySweep
from tests.support.synthesized import resource, synthesize, synthesize_with, variant

REFERENCE = "bad-release-502"
CREATE = "codedeploy:CreateDeployment"
STOP = "codedeploy:StopDeployment"
INVALIDATE = "cloudfront:CreateInvalidation"

Drill = Callable[[str], DrillReport]
Sweep = Callable[[str], DelaySweep]


@pytest.fixture(scope="session")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def sweep(cdk_out: Path) -> Sweep:
    """Replays a bundled scenario at the best, typical and worst delay, once per session."""
    assembly = load_assembly(cdk_out)
    done: dict[str, DelaySweep] = {}

    def run(name: str) -> DelaySweep:
        if name not in done:
            done[name] = runner.run_range(scenario.load(name), assembly)
        return done[name]

    return run


@pytest.fixture(scope="session")
def drill(sweep: Sweep) -> Drill:
    """The run at the worst delay of the range: the one the expectations are held to."""
    return lambda name: sweep(name).worst


def drill_variant(
    cdk_out: Path, target: Path, edit: Callable[[dict[str, Any]], None]
) -> DrillReport:
    return runner.run(scenario.load(REFERENCE), load_assembly(variant(cdk_out, target, edit)))


# --- Every bundled scenario -----------------------------------------------------------------


@pytest.mark.parametrize("name", scenario.bundled_names())
def test_bundled_scenario_meets_its_expect_block_at_every_delay(sweep: Sweep, name: str) -> None:
    result = sweep(name)

    failed = [
        (label, check)
        for label, report in result.runs
        for check in report.checks
        if not check.passed
    ]

    assert failed == []
    assert [label for label, _ in result.runs] == ["best", "typical", "worst"]
    assert {c.name for c in result.worst.checks} >= {"alarm_fires", "decision"}


# --- The reference incident (the 502 incident) ---------------------------------------------


@pytest.mark.parametrize(("case", "delay_s"), [("best", 60), ("typical", 150), ("worst", 240)])
def test_reference_incident_alarm_fires_at_the_first_evaluation_after_the_minute_lands(
    sweep: Sweep, case: str, delay_s: int
) -> None:
    report = dict(sweep(REFERENCE).runs)[case]
    onset = report.scenario.onset
    assert onset is not None
    assert report.options.metric_delay_s == delay_s

    # The 14:45 minute ends 14:46, lands delay_s later and is judged by the next
    # whole-minute evaluation; the rollback starts at that evaluation.
    lands = onset + timedelta(minutes=1, seconds=delay_s)
    evaluated = lands + timedelta(seconds=-lands.second % 60)
    assert report.alarm_time == evaluated
    assert report.rollback is not None
    assert report.rollback.started_at == evaluated


def test_reference_incident_detection_and_errors_served_grow_with_the_delay(
    sweep: Sweep,
) -> None:
    runs = [report for _, report in sweep(REFERENCE).runs]

    rollback = [r.onset_to_rollback for r in runs]
    restored = [r.onset_to_restored for r in runs]
    served = [r.errors_served or 0.0 for r in runs]

    assert rollback == [timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=5)]
    # The same figures as the detection model README and synth rely on.
    assert rollback == [
        timedelta(
            seconds=timing.detection_seconds(
                period_s=60, datapoints_to_alarm=1, delay_s=r.options.metric_delay_s
            )
        )
        for r in runs
    ]
    # Restore is the same model each time, so only detection moves the restored time.
    restore = timedelta(seconds=runs[0].restore.kit.total_s)
    assert restored == [r + restore for r in rollback if r is not None]
    assert served == sorted(served)
    assert served[0] < served[-1]


def test_errors_served_sums_elb_5xx_from_onset_until_recovery(drill: Drill) -> None:
    report = drill(REFERENCE)
    onset, recovery = report.scenario.onset, report.recovery_from
    assert onset is not None
    assert recovery is not None

    expected = sum(row.elb_5xx or 0 for row in report.rows if onset <= row.minute < recovery)

    assert report.errors_served == expected > 0
    assert not report.errors_until_end


def test_reference_incident_redeploys_v2_3_1_through_create_deployment(drill: Drill) -> None:
    first = drill(REFERENCE).invocations[0]

    assert first.action == "redeployed"
    assert CREATE in first.invocation.aws_calls
    assert first.created[0]["revision"]["s3Location"]["key"] == "order-api-v2.3.1.zip"


def test_reference_incident_second_alarm_event_finds_the_rollback_and_skips(drill: Drill) -> None:
    report = drill(REFERENCE)

    second = report.invocations[1]

    assert second.action == "skipped"
    assert "is a rollback" in (second.invocation.result or {})["reason"]
    assert CREATE not in second.invocation.aws_calls


def test_reference_incident_notification_diagnoses_malformed_responses(drill: Drill) -> None:
    diagnosis = drill(REFERENCE).diagnosis

    assert diagnosis is not None
    assert "malformed or truncated responses" in diagnosis


def test_reference_incident_invalidates_the_distribution_of_the_nested_edge_stack(
    drill: Drill,
) -> None:
    report = drill(REFERENCE)
    first = report.invocations[0]

    assert INVALIDATE in first.invocation.aws_calls
    assert (first.invocation.result or {})["invalidationId"]
    assert report.environment["DISTRIBUTION_ID"]


def test_reference_incident_errors_drop_to_baseline_after_the_modelled_restore(
    drill: Drill,
) -> None:
    report = drill(REFERENCE)
    assert report.rollback is not None
    assert report.rollback.restore_end is not None

    modelled = [row for row in report.rows if row.modelled]

    assert modelled[0].minute >= report.rollback.restore_end
    assert all(row.elb_5xx is None for row in modelled)


def test_count_alarm_returns_to_ok_once_the_last_errored_minute_leaves_its_range(
    drill: Drill,
) -> None:
    # The cost of leaving unpublished minutes without a datapoint: after recovery the alarm
    # keeps judging the last real (breaching) minute until it leaves the evaluation range
    # (CloudWatch User Guide, "Evaluating an alarm"), then there is no data: notBreaching.
    report = drill(REFERENCE)
    count = next(a for a in report.alarms if "Elb5xxCount" in a.logical_id)
    last_error = max(row.minute for row in report.rows if row.elb_5xx)
    width = len(report.replays[count.logical_id].steps[0].window)

    back_to_ok = [t for t in report.replays[count.logical_id].transitions if t.new_state == OK]

    assert back_to_ok[-1].at == last_error + timedelta(minutes=width + 1)


def test_reference_incident_restore_is_compared_with_aws_defaults(drill: Drill) -> None:
    restore = drill(REFERENCE).restore

    assert restore.aws_defaults.deregistration_delay_s == 300
    assert restore.aws_defaults.health_check_s == 30 * 5
    assert restore.kit.total_s < restore.aws_defaults.total_s


def test_drill_runs_the_asset_code_from_cdk_out_and_restores_sys_modules(
    drill: Drill, cdk_out: Path
) -> None:
    # The alarm_rollback_kit/functions/ copy the rest of the suite uses (imported by name:
    # mypy reaches that package as alarm_rollback_kit.functions.rollback).
    rollback = importlib.import_module("rollback")

    report = drill("one-minute-blip")

    assert Path(report.source_file).is_relative_to(cdk_out.resolve())
    assert sys.modules["rollback"] is rollback
    assert not list(cdk_out.glob("asset.*/rollback/__pycache__"))


# --- Blip or incident: 1 of 1 against 2 of 3 ------------------------------------------------


@pytest.fixture(scope="module")
def two_of_three(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """The kit synthesized with -c rollback.evaluation_periods=3 -c ...datapoints_to_alarm=2."""
    cdk_out = synthesize_with(
        tmp_path_factory.mktemp("cdk.out-2of3"),
        {"rollback.evaluation_periods": "3", "rollback.datapoints_to_alarm": "2"},
    )
    assembly = load_assembly(cdk_out)
    return lambda name: runner.run_range(scenario.load(name), assembly)


def test_two_of_three_rides_out_the_blip_that_one_of_one_rolls_back(
    sweep: Sweep, two_of_three: Sweep
) -> None:
    one, two = sweep("one-minute-blip"), two_of_three("one-minute-blip")

    assert all(r.decision == "rollback" for _, r in one.runs)
    assert all(r.invocations == [] for _, r in two.runs)
    # The 2/3 expectations of the scenario apply and hold at every delay.
    assert two.passed
    assert all(r.errors_served == 140 for _, r in two.runs)


def test_two_of_three_costs_one_minute_and_a_minute_of_errors_in_the_incident(
    sweep: Sweep, two_of_three: Sweep
) -> None:
    one, two = sweep(REFERENCE), two_of_three(REFERENCE)

    assert two.passed
    for (_, fast), (_, slow) in zip(one.runs, two.runs, strict=True):
        assert fast.onset_to_rollback is not None
        assert slow.onset_to_rollback == fast.onset_to_rollback + timedelta(minutes=1)
        assert (slow.errors_served or 0) - (fast.errors_served or 0) == pytest.approx(369, abs=1)


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
    report = drill("no-registered-targets-503")
    first = report.invocations[0]

    assert first.action == "stopped"
    assert STOP in first.invocation.aws_calls
    assert first.created[0]["creator"] == "codeDeployRollback"


def test_no_registered_targets_503_fires_the_count_alarm_without_a_request_count(
    drill: Drill,
) -> None:
    report = drill("no-registered-targets-503")
    onset = report.scenario.onset
    assert onset is not None
    outage = [row for row in report.rows if row.minute >= onset and not row.modelled]

    fired = {a.label: bool(report.replays[a.logical_id].alarms) for a in report.alarms}

    assert all(row.requests is None for row in outage)
    # The 1-minute rate has no RequestCount to divide by; the count alarm fires. (The
    # 5-minute low-traffic rate may fire too, from windows that still hold routed minutes.)
    assert (fired["Elb5xxCount"], fired["Elb5xxRate"], fired["Target5xxRate"]) == (
        True,
        False,
        False,
    )
    assert report.diagnosis is not None
    assert "no registered targets" in report.diagnosis
    # Once the instances are registered again the ALB counts requests again.
    assert all(row.requests for row in report.rows if row.modelled)


def test_all_unhealthy_targets_fail_open_and_nothing_rolls_back(drill: Drill) -> None:
    report = drill("all-unhealthy-fail-open")
    onset = report.scenario.onset
    assert onset is not None
    after = [row for row in report.rows if row.minute >= onset]

    assert all(row.healthy == 0 for row in after)
    assert all(row.requests and row.elb_5xx is None for row in after)
    assert report.invocations == []
    assert report.errors_served == 0


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


def test_recovery_keeps_requests_and_returns_other_series_to_pre_onset_median() -> None:
    base = scenario.load(REFERENCE)
    onset = base.onset
    assert onset is not None
    restore_end = onset + timedelta(minutes=4, seconds=20)

    after, first = runner.recovered(base, restore_end=restore_end, baseline_until=onset)

    index = base.timestamps().index(first) if first else -1
    assert first == onset + timedelta(minutes=5)
    assert after.series["RequestCount"] == base.series["RequestCount"]
    assert after.series["HTTPCode_ELB_5XX_Count"][index:] == (None,) * (base.minutes - index)
    assert after.series["HTTPCode_ELB_5XX_Count"][index - 1] == 369


def test_pre_traffic_validation_serves_no_error_where_the_alarm_path_serves_thousands(
    sweep: Sweep,
) -> None:
    # The same bad release, validation on (fails its first batch before traffic) and off.
    validated = [report for _, report in sweep("bad-release-502-validated").runs]
    alarm_path = [report for _, report in sweep(REFERENCE).runs]

    assert [r.errors_served or 0 for r in validated] == [0, 0, 0]
    assert all(not r.errors_until_end for r in validated)
    assert all((r.errors_served or 0) > 1000 for r in alarm_path)
