"""The scenario format: bundled files, the loader's validation, and what the alarms see."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from drill import scenario
from drill.alarm_spec import AlarmSpec
from drill.assembly import ALB_NAMESPACE
from drill.evaluator import replay
from drill.scenario import ScenarioError, parse
from drill.template import all_alarms
from tests.support.codedeploy_gaps import FINAL_STATUSES, RUNNING_STATUSES
from tests.support.synthesized import service_template, synthesize

ONSET_502 = datetime(2026, 11, 24, 14, 45, tzinfo=UTC)


def minimal(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "tiny",
        "description": "Two quiet minutes.",
        "start": "2026-11-24T14:30:00Z",
        "series": {"RequestCount": [4400, 4410]},
        "deployments": [],
        "expect": {"alarm_fires": False, "decision": None},
    }
    doc.update(overrides)
    return doc


def error_of(doc: dict[str, Any]) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        parse(doc, source="tiny.json")
    return caught.value


# --- Bundled scenarios ----------------------------------------------------------------------


@pytest.mark.parametrize("name", scenario.bundled_names())
def test_bundled_scenario_loads_under_its_file_name(name: str) -> None:
    assert scenario.load(name).name == name


def test_reference_incident_reproduces_its_dashboard_figures() -> None:
    incident = scenario.load("bad-release-502")
    i = incident.timestamps().index(ONSET_502)
    five = slice(i, i + 5)

    assert sum(v or 0 for v in incident.series["HTTPCode_ELB_5XX_Count"][five]) == 1847
    assert sum(v or 0 for v in incident.series["RequestCount"][five]) == 22104
    assert set(incident.series["HealthyHostCount"]) == {6.0}


def test_reference_incident_publishes_no_target_5xx_datapoints() -> None:
    source = scenario.load("bad-release-502").metric_source()

    assert source.get((ALB_NAMESPACE, "HTTPCode_Target_5XX_Count", "Sum")) == {}


@pytest.fixture(scope="module")
def kit_alarms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The rollback and notify-only alarms exactly as ``cdk synth`` writes them."""
    template = service_template(synthesize(tmp_path_factory.mktemp("cdk.out")))
    return {logical_id: props for logical_id, props in all_alarms(template)}


def _kit_alarm(alarms: dict[str, dict[str, Any]], fragment: str) -> AlarmSpec:
    (logical_id,) = [k for k in alarms if k.startswith(f"AutoRollback{fragment}")]
    return AlarmSpec.from_properties(alarms[logical_id], name=fragment)


def test_post_mortem_alarm_fires_when_the_first_bad_minute_lands_without_delay(
    kit_alarms: dict[str, dict[str, Any]],
) -> None:
    incident = scenario.load("bad-release-502")
    alarm = _kit_alarm(kit_alarms, "Elb5xxCount")

    result = replay(alarm, incident.metric_source(), start=incident.start, end=incident.end)

    assert result.first_alarm is not None
    assert result.first_alarm.at == ONSET_502 + timedelta(minutes=1)


def _expected_alarm_cases() -> list[Any]:
    return [
        pytest.param(name, fragment, fires, id=f"{name}-{fragment}")
        for name in scenario.bundled_names()
        for fragment, fires in (scenario.load(name).expect.alarms or {}).items()
    ]


@pytest.mark.parametrize(("name", "fragment", "fires"), _expected_alarm_cases())
def test_scenario_alarm_expectation_matches_the_synthesized_alarm(
    kit_alarms: dict[str, dict[str, Any]], name: str, fragment: str, fires: bool
) -> None:
    loaded = scenario.load(name)
    alarm = _kit_alarm(kit_alarms, fragment)

    result = replay(
        alarm,
        loaded.metric_source(),
        start=loaded.start,
        end=loaded.end,
        source_period=loaded.period,
    )

    assert bool(result.alarms) is fires


def test_load_accepts_a_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(minimal()))

    assert scenario.load(path).minutes == 2


def test_unknown_scenario_name_lists_the_bundled_ones() -> None:
    with pytest.raises(ScenarioError, match=r"bundled: .*bad-release-502"):
        scenario.load("bad-relase-502")


# --- Series -----------------------------------------------------------------------------


def test_repeat_segment_expands_to_equal_minutes() -> None:
    doc = minimal(series={"RequestCount": [1, {"repeat": 3, "value": 7}, None]})

    assert parse(doc).series["RequestCount"] == (1.0, 7.0, 7.0, 7.0, None)


def test_zero_count_is_served_as_no_datapoint() -> None:
    doc = minimal(series={"HTTPCode_ELB_5XX_Count": [0, 12], "HealthyHostCount": [0, 6]})

    source = parse(doc).metric_source()

    assert list(source.get((ALB_NAMESPACE, "HTTPCode_ELB_5XX_Count", "Sum")).values()) == [12.0]
    assert list(source.get((ALB_NAMESPACE, "HealthyHostCount", "Minimum")).values()) == [0.0, 6.0]


def test_zero_counts_can_be_published_on_request() -> None:
    doc = minimal(series={"HTTPCode_ELB_5XX_Count": [0, 12]}, zero_counts_published=True)

    source = parse(doc).metric_source()

    assert list(source.get((ALB_NAMESPACE, "HTTPCode_ELB_5XX_Count", "Sum")).values()) == [
        0.0,
        12.0,
    ]


def test_percentile_key_answers_only_that_statistic() -> None:
    doc = minimal(series={"TargetResponseTime:p99": [0.2, 0.3]})

    source = parse(doc).metric_source()

    assert source.keys() == [(ALB_NAMESPACE, "TargetResponseTime", "p99")]


def test_elb_5xx_total_is_derived_from_its_splits() -> None:
    doc = minimal(series={"HTTPCode_ELB_502_Count": [None, 300], "HTTPCode_ELB_504_Count": [2, 5]})

    assert parse(doc).series["HTTPCode_ELB_5XX_Count"] == (2.0, 305.0)


def test_elb_5xx_total_below_its_splits_is_rejected_at_that_minute() -> None:
    doc = minimal(series={"HTTPCode_ELB_5XX_Count": [10, 10], "HTTPCode_ELB_502_Count": [5, 12]})

    err = error_of(doc)

    assert (err.field, err.value) == ("series.HTTPCode_ELB_5XX_Count[1]", 10.0)


# --- Validation messages name the field and the value ------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "value"),
    [
        (
            {"series": {"HTTPCode_ELB_5xx_Count": [1, 2]}},
            "series.HTTPCode_ELB_5xx_Count",
            "HTTPCode_ELB_5xx_Count",
        ),
        ({"series": {"RequestCount": [1, -2]}}, "series.RequestCount[1]", -2),
        (
            {"series": {"RequestCount": [{"repeat": 0, "value": 1}]}},
            "series.RequestCount[0].repeat",
            0,
        ),
        (
            {"series": {"RequestCount": [1, 2], "HealthyHostCount": [6]}},
            "series",
            {"RequestCount": 2, "HealthyHostCount": 1},
        ),
        ({"start": "2026-11-24 14:30"}, "start", "2026-11-24 14:30"),
        ({"start": "2026-11-24T14:30:00+01:00"}, "start", "2026-11-24T14:30:00+01:00"),
        ({"period": 300}, "period", 300),
        ({"onset": "2026-11-24T15:00:00Z"}, "onset", "2026-11-24T15:00:00Z"),
        ({"colour": "red"}, "colour", "red"),
        ({"name": "Bad Release"}, "name", "Bad Release"),
    ],
)
def test_invalid_field_is_named_with_its_value(
    change: dict[str, Any], field: str, value: Any
) -> None:
    err = error_of(minimal(**change))

    assert (err.field, err.value) == (field, value)
    assert str(err).startswith(f"tiny.json: {field}=")


DEPLOYMENT = {
    "version": "v2.3.1",
    "s3_key": "order-api-v2.3.1.zip",
    "createTime": "2026-11-20T10:12:00Z",
    "completeTime": "2026-11-20T10:19:40Z",
    "status": "Succeeded",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "Done"}, "deployments[0].status"),
        ({"completeTime": "2026-11-20T10:00:00Z"}, "deployments[0].completeTime"),
        ({"completeTime": None}, "deployments[0].completeTime"),
        ({"status": "InProgress"}, "deployments[0].completeTime"),
        (
            {"createTime": "2026-11-24T15:00:00Z", "completeTime": "2026-11-24T15:05:00Z"},
            "deployments[0].createTime",
        ),
        ({"rollback_fails": "yes"}, "deployments[0].rollback_fails"),
        ({"s3_key": ""}, "deployments[0].s3_key"),
    ],
)
def test_invalid_deployment_field_is_named(change: dict[str, Any], field: str) -> None:
    deployment = {**DEPLOYMENT, **change}

    assert error_of(minimal(deployments=[deployment])).field == field


def test_deployments_must_be_listed_oldest_first() -> None:
    newer = {
        **DEPLOYMENT,
        "version": "v2.3.2",
        "createTime": "2026-11-24T14:00:00Z",
        "completeTime": "2026-11-24T14:03:00Z",
    }

    assert error_of(minimal(deployments=[newer, DEPLOYMENT])).field == "deployments[1].createTime"


def test_schema_splits_statuses_as_the_codedeploy_gaps_do() -> None:
    schema = json.loads((Path(scenario.__file__).parent / "scenario_schema.json").read_text())

    assert set(schema["$defs"]["running"]["enum"]) == RUNNING_STATUSES
    assert set(schema["$defs"]["finished"]["enum"]) == FINAL_STATUSES


def test_running_deployment_has_no_complete_time() -> None:
    running = {**DEPLOYMENT, "status": "InProgress", "completeTime": None}

    assert parse(minimal(deployments=[running])).deployments[0].complete_time is None


@pytest.mark.parametrize(
    ("expect", "field"),
    [
        ({"alarm_fires": True, "decision": None}, "expect.decision"),
        ({"alarm_fires": False, "decision": "skip"}, "expect.decision"),
        ({"alarm_fires": True, "decision": "rollback"}, "expect.rollback_target"),
        (
            {"alarm_fires": True, "decision": "rollback", "rollback_target": "v9"},
            "expect.rollback_target",
        ),
        ({"alarm_fires": True, "decision": "revert"}, "expect.decision"),
        ({"alarm_fires": "yes", "decision": None}, "expect.alarm_fires"),
        (
            {
                "alarm_fires": True,
                "decision": "rollback",
                "rollback_target": "v2.3.1",
                "max_minutes_onset_to_rollback": 5,
            },
            "expect.max_minutes_onset_to_rollback",
        ),
        (
            {"alarm_fires": False, "decision": None, "alarms": {"Elb5xxCount": "no"}},
            "expect.alarms",
        ),
    ],
)
def test_inconsistent_expectation_is_named(expect: dict[str, Any], field: str) -> None:
    doc = minimal(deployments=[DEPLOYMENT], expect=expect)

    assert error_of(doc).field == field


def test_a_null_decision_on_a_firing_alarm_blames_the_decision_not_the_target_it_leaves() -> None:
    """A scenario whose decision was set to null keeps its rollback target: the decision is
    at odds with alarm_fires, and the message says so rather than blaming the target."""
    expect = {"alarm_fires": True, "decision": None, "rollback_target": "v2.3.1"}

    err = error_of(minimal(deployments=[DEPLOYMENT], expect=expect | {"rollback_succeeds": True}))

    assert (err.field, err.value) == ("expect.decision", None)
    assert str(err).startswith("tiny.json: expect.decision=null: ")
    assert "when alarm_fires is true" in str(err)


def test_a_start_is_told_its_own_fault_utc_or_the_whole_minute() -> None:
    off_utc = str(error_of(minimal(start="2026-11-24T14:30:00+01:00")))
    off_minute = str(error_of(minimal(start="2026-11-24T14:30:30Z")))

    assert off_utc.startswith('tiny.json: start="2026-11-24T14:30:00+01:00": ')
    assert "UTC" in off_utc
    assert "whole minute" not in off_utc
    assert off_minute.startswith('tiny.json: start="2026-11-24T14:30:30Z": ')
    assert "whole minute" in off_minute
    assert "UTC" not in off_minute


def test_rollback_success_defaults_from_the_rollback_fails_flag() -> None:
    doc = minimal(
        deployments=[{**DEPLOYMENT, "rollback_fails": True}],
        expect={"alarm_fires": True, "decision": "rollback", "rollback_target": "v2.3.1"},
    )

    assert parse(doc).expect.rollback_succeeds is False


def test_expectation_for_another_m_of_n_is_chosen_by_its_key() -> None:
    blip = scenario.load("one-minute-blip")

    assert blip.expectation_for(1, 1) is blip.expect
    assert blip.expectation_for(2, 3).alarm_fires is False
    assert blip.expectation_for(3, 3) is blip.expect


@pytest.mark.parametrize("key", ["4/3", "2-3", "0/1"])
def test_expect_by_m_of_n_key_must_be_m_of_n(key: str) -> None:
    data = minimal()
    data["expect_by_m_of_n"] = {key: data["expect"]}

    with pytest.raises(ScenarioError, match="expect_by_m_of_n"):
        scenario.parse(data)


def test_a_series_longer_than_a_week_is_refused_by_its_runs_before_they_are_expanded() -> None:
    # 10,080 runs of 10,080 minutes would be a hundred million floats if expanded first.
    week = scenario.MAX_MINUTES
    runs = [{"value": 1, "repeat": week}] * week

    err = error_of(minimal(series={"RequestCount": runs}))

    assert (err.field, err.value) == ("series.RequestCount", week * week)
    assert "at most 10080 minutes" in str(err)
