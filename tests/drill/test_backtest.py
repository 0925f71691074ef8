"""Backtest: finding the rollback alarms in a template, reading GetMetricData, replaying."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from drill import backtest
from drill.alarm_spec import AlarmSpec
from drill.backtest import MetricsFileError, fetch, fetch_queries, parse_metric_data
from drill.template import all_alarms, rollback_alarms
from tests.support.alarms import count_alarm_properties, kit_template
from tests.support.assembly import write_assembly

SAMPLE = Path(backtest.__file__).parent / "samples" / "getmetricdata-sample.json"
COUNT_ID = "AutoRollbackElb5xxCount1B2C3D4E"
RATE_ID = "AutoRollbackElb5xxRate5F6A7B8C"
TARGET_ID = "AutoRollbackTarget5xxRate9D0E1F2A"
T0 = datetime(2026, 11, 24, 14, 30, tzinfo=UTC)


def result(id_: str, label: str, points: list[tuple[int, float]]) -> dict[str, Any]:
    """A MetricDataResults entry, newest first as GetMetricData returns by default."""
    ordered = sorted(points, reverse=True)
    return {
        "Id": id_,
        "Label": label,
        "Timestamps": [(T0 + timedelta(minutes=m)).isoformat() for m, _ in ordered],
        "Values": [v for _, v in ordered],
        "StatusCode": "Complete",
    }


# --- Which alarms ---------------------------------------------------------------------------


def test_rollback_alarms_are_those_the_alarm_state_rule_lists(template: dict[str, Any]) -> None:
    assert [logical_id for logical_id, _ in rollback_alarms(template)] == [COUNT_ID, RATE_ID]


def test_rollback_alarms_return_the_alarm_properties(template: dict[str, Any]) -> None:
    _, properties = rollback_alarms(template)[0]

    assert properties["MetricName"] == "HTTPCode_ELB_5XX_Count"


def test_all_alarms_include_the_notify_only_alarm(template: dict[str, Any]) -> None:
    assert [logical_id for logical_id, _ in all_alarms(template)] == [COUNT_ID, RATE_ID, TARGET_ID]


def test_rule_with_a_literal_alarm_arn_resolves_by_alarm_name(template: dict[str, Any]) -> None:
    template["Resources"][TARGET_ID]["Properties"]["AlarmName"] = "order-api-target-5xx"
    rule = template["Resources"]["AutoRollbackOnRollbackAlarm3B4C5D6E"]["Properties"]
    rule["EventPattern"]["resources"] = [
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:order-api-target-5xx"
    ]

    assert [logical_id for logical_id, _ in rollback_alarms(template)] == [TARGET_ID]


def test_rule_pattern_given_as_json_text_is_read(template: dict[str, Any]) -> None:
    rule = template["Resources"]["AutoRollbackOnRollbackAlarm3B4C5D6E"]["Properties"]
    rule["EventPattern"] = json.dumps(rule["EventPattern"])

    assert len(rollback_alarms(template)) == 2


def test_template_without_an_alarm_rule_has_no_rollback_alarms(template: dict[str, Any]) -> None:
    del template["Resources"]["AutoRollbackOnRollbackAlarm3B4C5D6E"]

    assert rollback_alarms(template) == []


# --- Reading GetMetricData results -------------------------------------------------------


def test_newest_first_timestamps_are_read_in_time_order() -> None:
    doc = {"MetricDataResults": [result("e", "HTTPCode_ELB_5XX_Count", [(0, 1.0), (2, 3.0)])]}

    data = parse_metric_data(doc)

    series = data.store.get(("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum"))
    assert list(series.items()) == [(T0, 1.0), (T0 + timedelta(minutes=2), 3.0)]
    assert (data.start, data.end) == (T0, T0 + timedelta(minutes=3))


def test_label_with_namespace_and_statistic_names_the_metric() -> None:
    doc = {
        "MetricDataResults": [result("p", "AWS/ApplicationELB TargetResponseTime p99", [(0, 2.5)])]
    }

    assert parse_metric_data(doc).ids == {"p": ("AWS/ApplicationELB", "TargetResponseTime", "p99")}


def test_metric_data_queries_take_precedence_over_the_label() -> None:
    doc = {
        "MetricDataQueries": [
            {
                "Id": "m0",
                "MetricStat": {
                    "Metric": {"Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount"},
                    "Period": 60,
                    "Stat": "Sum",
                },
            }
        ],
        "MetricDataResults": [result("m0", "requests per minute", [(0, 4400.0)])],
    }

    assert parse_metric_data(doc).ids == {"m0": ("AWS/ApplicationELB", "RequestCount", "Sum")}


def test_result_without_label_or_query_is_rejected_with_its_id() -> None:
    doc = {"MetricDataResults": [result("m7", "", [(0, 1.0)])]}

    with pytest.raises(MetricsFileError, match=r"MetricDataResults\[0\] \(m7\): no MetricDataQ"):
        parse_metric_data(doc)


def test_same_metric_under_two_ids_is_rejected() -> None:
    doc = {
        "MetricDataResults": [
            result("a", "RequestCount", [(0, 1.0)]),
            result("b", "RequestCount", [(1, 1.0)]),
        ]
    }

    with pytest.raises(MetricsFileError, match="one load balancer's metrics per file"):
        parse_metric_data(doc)


def test_timestamps_and_values_of_different_lengths_are_rejected() -> None:
    entry = result("a", "RequestCount", [(0, 1.0)])
    entry["Values"].append(2.0)

    with pytest.raises(MetricsFileError, match="same length"):
        parse_metric_data({"MetricDataResults": [entry]})


def test_partial_data_is_reported_as_a_warning() -> None:
    entry = result("a", "RequestCount", [(0, 1.0)])
    entry["StatusCode"] = "PartialData"

    assert parse_metric_data({"MetricDataResults": [entry]}).warnings == (
        "a (AWS/ApplicationELB RequestCount Sum): StatusCode PartialData, data may be incomplete",
    )


def test_pages_repeating_an_id_are_merged() -> None:
    doc = {
        "MetricDataResults": [
            result("a", "RequestCount", [(1, 5.0)]),
            result("a", "RequestCount", [(0, 4.0)]),
        ]
    }

    series = parse_metric_data(doc).store.get(("AWS/ApplicationELB", "RequestCount", "Sum"))
    assert sorted(series.values()) == [4.0, 5.0]


# --- Replaying ------------------------------------------------------------------------------


def sample_reports(include_all: bool = False) -> dict[str, backtest.AlarmReport]:
    data = backtest.load_metric_data(SAMPLE)
    reports = backtest.backtest({"service": kit_template()}, data, include_all=include_all)
    return {r.logical_id: r for r in reports}


def test_sample_count_alarm_fires_on_the_bad_release_and_the_blip() -> None:
    report = sample_reports()[COUNT_ID]

    assert [e.fired_at.strftime("%H:%M") for e in report.episodes] == ["09:43", "11:18"]


def test_sample_rate_alarm_ignores_the_burst_below_one_percent() -> None:
    report = sample_reports()[RATE_ID]

    assert all(e.fired_at.strftime("%H") != "13" for e in report.episodes)


def test_notify_only_alarm_is_replayed_only_with_all_alarms() -> None:
    assert TARGET_ID not in sample_reports()
    assert sample_reports(include_all=True)[TARGET_ID].fired == 1


def test_alarm_reading_a_metric_absent_from_the_file_is_flagged() -> None:
    props = count_alarm_properties()
    props["MetricName"] = "HTTPCode_ELB_4XX_Count"
    data = backtest.load_metric_data(SAMPLE)

    report = backtest.replay_alarm("service", "Elb4xx", props, data)

    assert report.missing_metrics == ("AWS/ApplicationELB HTTPCode_ELB_4XX_Count Sum",)


def test_alarm_with_an_uneven_period_is_not_replayed() -> None:
    props = count_alarm_properties()
    props["Period"] = 90
    data = backtest.load_metric_data(SAMPLE)

    report = backtest.replay_alarm("service", "Uneven", props, data)

    assert report.error == "alarm period 90 s is not a multiple of the metrics file's 60 s"


def test_five_minute_alarm_is_summed_from_the_files_minutes() -> None:
    # The low-traffic tier's period: five of the file's minutes per datapoint.
    props = count_alarm_properties(threshold=250)
    props["Period"] = 300
    data = backtest.load_metric_data(SAMPLE)

    report = backtest.replay_alarm("service", "FiveMinutes", props, data)

    assert not report.error
    assert report.replay is not None
    assert report.fired >= 1
    biggest = max(s.value or 0 for s in report.replay.steps)
    minutes = data.store.get(("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum"))
    best_five = max(
        sum(minutes.get(t + timedelta(minutes=k), 0) for k in range(5)) for t in minutes
    )
    assert biggest == best_five


def write_cdk_out(tmp_path: Path) -> Path:
    return write_assembly(tmp_path / "cdk.out", {"order-api-prod-service": kit_template()})


def test_cli_prints_each_time_an_alarm_fired(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cdk_out = write_cdk_out(tmp_path)

    code = backtest.main(["--metrics", str(SAMPLE), "--cdk-out", str(cdk_out)])

    out = capsys.readouterr().out
    assert code == 0
    assert f"order-api-prod-service / {COUNT_ID}\n" in out
    assert "entered ALARM 2 time(s)" in out
    assert "- 2026-11-24 11:18 -> 2026-11-24 11:19  peak 64" in out


def test_cli_json_output_lists_episodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cdk_out = write_cdk_out(tmp_path)

    backtest.main(["--metrics", str(SAMPLE), "--cdk-out", str(cdk_out), "--json"])

    reports = {r["logicalId"]: r for r in json.loads(capsys.readouterr().out)}
    assert reports[RATE_ID]["fired"] == 2


def test_cli_without_templates_says_to_synthesize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = backtest.main(["--metrics", str(SAMPLE), "--cdk-out", str(tmp_path)])

    assert code == 2
    assert "make synth" in capsys.readouterr().err


# --- Fetching -------------------------------------------------------------------------------


def test_fetch_queries_fill_in_the_load_balancer_dimension() -> None:
    alarm = AlarmSpec.from_properties(count_alarm_properties())

    queries, skipped = fetch_queries([alarm], load_balancer="app/order-api/5f0c6b2e1a9d4c3b")

    assert skipped == []
    assert queries[0]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "LoadBalancer", "Value": "app/order-api/5f0c6b2e1a9d4c3b"}
    ]


def test_fetch_queries_ask_for_the_finest_period_any_alarm_reads() -> None:
    five = count_alarm_properties()
    five["Period"] = 300
    alarms = [AlarmSpec.from_properties(five), AlarmSpec.from_properties(count_alarm_properties())]

    queries, _ = fetch_queries(alarms, load_balancer="app/order-api/5f0c6b2e1a9d4c3b")

    assert [q["MetricStat"]["Period"] for q in queries] == [60]


def test_fetch_queries_skip_a_metric_whose_dimension_is_not_given() -> None:
    props = count_alarm_properties()
    props["MetricName"] = "HealthyHostCount"
    props["Dimensions"] = [*props["Dimensions"], {"Name": "TargetGroup", "Value": "x"}]

    queries, skipped = fetch_queries(
        [AlarmSpec.from_properties(props)], load_balancer="app/order-api/5f0c6b2e1a9d4c3b"
    )

    assert queries == []
    assert skipped == [
        "AWS/ApplicationELB HealthyHostCount Sum: dimension TargetGroup not "
        "given on the command line"
    ]


def test_fetch_refuses_more_days_than_cloudwatch_keeps_minute_data() -> None:
    with pytest.raises(ValueError, match=r"allowed 1\.\.15"):
        fetch([{"Id": "m0"}], days=16, client=object())


def test_fetched_history_replays_like_a_file() -> None:
    lb = "app/order-api/5f0c6b2e1a9d4c3b"
    now = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    alarm = AlarmSpec.from_properties(count_alarm_properties(), name="Elb5xxCount")
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")
        client.put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "HTTPCode_ELB_5XX_Count",
                    "Timestamp": now - timedelta(minutes=m),
                    "Value": value,
                    "Dimensions": [{"Name": "LoadBalancer", "Value": lb}],
                }
                for m, value in ((15, 3.0), (14, 369.0), (13, 370.0), (12, 2.0))
            ],
        )
        queries, _ = fetch_queries([alarm], load_balancer=lb)

        doc = fetch(queries, days=1, now=now, client=client)

    data = parse_metric_data(doc)
    report = backtest.replay_alarm("service", "Elb5xxCount", count_alarm_properties(), data)
    assert [e.fired_at for e in report.episodes] == [now - timedelta(minutes=13)]


def test_cli_fetch_saves_what_it_replayed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cdk_out = write_cdk_out(tmp_path)
    saved = tmp_path / "history.json"
    lb = "app/order-api/5f0c6b2e1a9d4c3b"
    with mock_aws():
        boto3.client("cloudwatch", region_name="us-east-1").put_metric_data(
            Namespace="AWS/ApplicationELB",
            MetricData=[
                {
                    "MetricName": "HTTPCode_ELB_5XX_Count",
                    "Timestamp": datetime.now(tz=UTC) - timedelta(minutes=30),
                    "Value": 369.0,
                    "Dimensions": [{"Name": "LoadBalancer", "Value": lb}],
                }
            ],
        )
        code = backtest.main(
            [
                "--fetch",
                "--load-balancer",
                lb,
                "--days",
                "1",
                "--region",
                "us-east-1",
                "--cdk-out",
                str(cdk_out),
                "--save",
                str(saved),
            ]
        )

    assert code == 0
    assert f"{COUNT_ID}\n  ALB-generated 5xx" in capsys.readouterr().out
    assert parse_metric_data(json.loads(saved.read_text())).ids == {
        "m0": ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum"),
        "m1": ("AWS/ApplicationELB", "RequestCount", "Sum"),
    }


@pytest.mark.parametrize("doc", [[], {"MetricDataResults": "no"}, {"MetricDataResults": [1]}])
def test_a_file_that_is_not_a_getmetricdata_result_is_named_as_such(doc: Any) -> None:
    with pytest.raises(MetricsFileError, match=r"^bad\.json: expected an object with a Metric"):
        parse_metric_data(doc, source="bad.json")


def _sample() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        (("Period",), 1.5, r"Period: 1\.5 is not of type 'integer'"),
        (("Period",), True, r"Period: True is not of type 'integer'"),
        (("MetricDataQueries",), {}, r"MetricDataQueries: \{\} is not of type 'array'"),
        (("MetricDataResults", 0, "Id"), 3, r"MetricDataResults\[0\]\.Id: 3 is not of type"),
        (("MetricDataResults", 1, "Label"), None, r"MetricDataResults\[1\]\.Label: None is not"),
        (("MetricDataResults", 0, "Values", 0), "7", r"Values\[0\]: '7' is not of type 'number'"),
        (("MetricDataResults", 0, "Timestamps", 0), True, r"Timestamps\[0\]: True is not of"),
    ],
)
def test_a_malformed_field_is_refused_naming_the_file_the_field_and_the_value(
    path: tuple[str | int, ...], value: Any, named: str
) -> None:
    doc = _sample()
    holder: Any = doc
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value

    with pytest.raises(MetricsFileError, match=rf"^bad\.json: .*{named}"):
        parse_metric_data(doc, source="bad.json")
