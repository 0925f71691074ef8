"""The page's body: the 2.3.2 incident end to end under moto, the next step per signature, links.

The end-to-end test fires the documented alarm event at the real handler over a moto
account holding the good (2.3.1) and the bad (2.3.2) release, with the incident's metrics
(ALB 502s, six healthy targets, no target 5xx), and reads the page back from the topic's
SQS subscription.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

import pytest

from rollback import diagnosis as diag
from rollback import links
from rollback.handler import lambda_handler
from rollback.notification import message
from tests.support.page_cases import (
    ACTIONS,
    INCIDENT,
    VERDICTS,
    decision_result,
    diagnosis_for,
)
from tests.support.rollback_world import ALARM, World, alarm_event

MINUTE = timedelta(minutes=1)
LOG_GROUP = "order-api-sandbox-service-AutoRollbackFunctionLogs1B2C3D4E-AbCdEf"
DASHBOARD = "order-api-sandbox-service-us-east-1"


@pytest.fixture
def incident_page(world: World, set_env: Any, lambda_context: Any) -> tuple[dict[str, Any], str]:
    """The 2.3.2 incident paged: (the decision, the message text)."""
    set_env(
        DISTRIBUTION_ID=world.distribution(),
        DASHBOARD_NAME=DASHBOARD,
        AWS_LAMBDA_LOG_GROUP_NAME=LOG_GROUP,
    )
    world.deploy("2.3.1-good", created_ago=timedelta(hours=3))
    world.deploy("2.3.2-bad", created_ago=10 * MINUTE, completed_ago=4 * MINUTE)
    # The same minute the subject tests diagnose, under CloudWatch's metric names.
    metric_names = {query_id: name for query_id, name, *_ in diag._METRICS}
    world.put_alb_metrics(**{metric_names[k]: v for k, v in INCIDENT.items()})
    event = alarm_event(world.now - MINUTE)
    # The documented reasonData, with its breaching datapoint moved to this test's clock.
    reason_data = json.loads(event["detail"]["state"]["reasonData"])
    reason_data["evaluatedDatapoints"][0]["timestamp"] = (world.now - 2 * MINUTE).strftime(
        "%Y-%m-%dT%H:%M:00.000+0000"
    )
    event["detail"]["state"]["reasonData"] = json.dumps(reason_data)
    result: dict[str, Any] = lambda_handler(event, lambda_context)
    [note] = world.notifications()
    assert note["Subject"] == (
        f"ROLLED BACK order-api v2.3.2 -> v2.3.1: ELB 502 8.3 %, targets healthy ({ALARM})"
    )
    return result, note["Message"]


def section(text: str, heading: str) -> list[str]:
    """The indented lines under ``heading`` up to the next blank line."""
    lines = text.split("\n")
    start = lines.index(heading) + 1
    end = lines.index("", start)
    return lines[start:end]


def test_incident_page_timeline_runs_deploy_onset_alarm_action_invalidation(
    incident_page: tuple[dict[str, Any], str], world: World
) -> None:
    result, text = incident_page

    timeline = section(text, "Timeline (UTC)")

    assert [line.split()[2] for line in timeline] == [
        "deploy",
        "onset",
        "alarm",
        "action",
        "invalidation",
    ]
    moments = [datetime.fromisoformat(" ".join(line.split()[:2])) for line in timeline]
    assert moments == sorted(moments)
    # The onset is the breaching datapoint the fixture put in the event's reasonData.
    assert moments[1] == (world.now - 2 * MINUTE).replace(second=0, microsecond=0, tzinfo=None)
    assert result["releases"]["bad"]["deploymentId"] in timeline[0]
    assert result["invalidationId"] in timeline[4]


def test_incident_page_names_both_versions_with_their_s3_keys(
    incident_page: tuple[dict[str, Any], str],
) -> None:
    result, text = incident_page

    versions = section(text, "Versions")

    assert versions[0].split()[:3] == ["blamed", "v2.3.2", "s3://releases/order-api-2.3.2-bad.zip"]
    assert versions[1].split()[:4] == [
        "back",
        "to",
        "v2.3.1",
        "s3://releases/order-api-2.3.1-good.zip",
    ]
    assert result["releases"]["good"]["deploymentId"] in versions[1]


def test_incident_page_links_deployments_alarm_dashboard_and_decision_log(
    incident_page: tuple[dict[str, Any], str],
) -> None:
    result, text = incident_page
    base = "https://us-east-1.console.aws.amazon.com"

    found = dict(line.strip().split(": ", 1) for line in section(text, "Links"))

    assert found == {
        "blamed deployment": f"{base}/codesuite/codedeploy/deployments/{result['deploymentId']}"
        "?region=us-east-1",
        "rollback deployment": f"{base}/codesuite/codedeploy/deployments/"
        f"{result['rollbackDeploymentId']}?region=us-east-1",
        "alarm": f"{base}/cloudwatch/home?region=us-east-1#alarmsV2:alarm/{ALARM}",
        "dashboard": f"{base}/cloudwatch/home?region=us-east-1#dashboards/dashboard/{DASHBOARD}",
        "decision log (Logs Insights)": found["decision log (Logs Insights)"],
    }
    query = insights_detail(found["decision log (Logs Insights)"])
    assert f"source~(~'{star(LOG_GROUP)})" in query
    assert star(f'deploymentId = "{result["deploymentId"]}"') in query


def test_incident_page_says_what_to_do_for_broken_responses(
    incident_page: tuple[dict[str, Any], str],
) -> None:
    _, text = incident_page

    [step] = section(text, "Next step (502 with every target healthy and no target 5xx)")

    assert "pre-traffic checks" in step
    assert "target_status_code '-'" in step


def test_page_without_dashboard_or_log_group_leaves_those_links_out() -> None:
    console = links.Console(region="eu-west-1")

    text = message(decision_result("stopped", {}, "elb-502"), console=console)

    labels = [line.strip().split(":")[0] for line in section(text, "Links")]
    assert labels == ["blamed deployment", "alarm"]
    assert "https://eu-west-1.console.aws.amazon.com/" in text


@pytest.mark.parametrize(
    ("verdict", "heading", "phrase"),
    [
        ("malformed-response", "502 with every target healthy", "pre-traffic checks"),
        ("502-unhealthy-targets", "502 with unhealthy targets", "keep-alive"),
        ("elb-502", "502, target health unknown", "access logs"),
        ("no-registered-targets", "503 with no registered targets", "fails open"),
        ("503-all-unhealthy", "503 while every target is unhealthy", "fails open"),
        ("elb-503", "503 while targets report healthy", "registered targets"),
        ("target-timeout", "504 from the ALB", "Do not replay failed requests blindly"),
        ("application-5xx", "target 5xx", "error logs"),
        ("elb-5xx-other", "ALB 5xx other than 502/503/504", "listener"),
        ("no-5xx", "no 5xx in the diagnosis window", "confirm on the dashboard"),
        ("not-enough-data", "no clear signature", "Open the dashboard"),
    ],
)
def test_next_step_matches_the_diagnosed_signature(verdict: str, heading: str, phrase: str) -> None:
    text = message(decision_result("redeployed", ACTIONS[0][1], verdict))

    [title] = [line for line in text.split("\n") if line.startswith("Next step (")]
    assert heading in title
    assert phrase in section(text, title)[0]


def test_503_step_explains_that_all_unhealthy_targets_fail_open() -> None:
    text = message(decision_result("redeployed", ACTIONS[0][1], "no-registered-targets"))

    [step] = section(text, "Next step (503 with no registered targets)")
    assert "no registered targets" in step
    assert "still get traffic" in step


@pytest.mark.parametrize(("action", "carried", "headline"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_every_action_gets_a_body_that_starts_with_its_subject(
    action: str, carried: dict[str, Any], headline: str
) -> None:
    result = decision_result(action, carried, "malformed-response")

    text = message(result)

    assert text.startswith(headline)
    assert section(text, "What the kit did")[0].strip()
    assert diagnosis_for("malformed-response")["summary"] in text


def test_every_verdict_has_its_own_next_step() -> None:
    headings = {
        message(decision_result("stopped", {}, verdict)).split("Next step (", 1)[1].split(")")[0]
        for verdict in VERDICTS
    }

    assert len(headings) == len(VERDICTS)


def test_failure_page_without_releases_still_has_a_timeline() -> None:
    text = message({"action": "failed", "error": "KMSAccessDenied: x", "alarmName": "a"})

    timeline = section(text, "Timeline (UTC)")
    assert "no deployment in the lookback window" in timeline[0]
    assert "Versions" not in text.split("\n")


def test_insights_link_matches_the_consoles_own_encoding() -> None:
    # A Logs Insights URL as the console itself produced it (query, time range, live-tail
    # flag); the kit's encoder must give the same bytes for the same object.
    console_url_prefix = (
        "$3FqueryDetail$3D$257E$2528end$257E$25272021-07-18T20*3a59*3a59.000Z$257Estart"
        "$257E$25272021-07-15T21*3a00*3a00.000Z$257EtimeType$257E$2527ABSOLUTE$257Etz$257E"
        "$2527Local$257EeditorString$257E$2527fields*20*40timestamp*2c*20*40message*0a*7c*20"
        "sort*20*40timestamp*20desc*0a*7c*20filter*20*40message*20*3d*7e*20*22Exception*22"
        "*0a*7c*20limit*20200$257EisLiveTail$257Efalse"
    )
    detail = {
        "end": "2021-07-18T20:59:59.000Z",
        "start": "2021-07-15T21:00:00.000Z",
        "timeType": "ABSOLUTE",
        "tz": "Local",
        "editorString": (
            "fields @timestamp, @message\n| sort @timestamp desc\n"
            '| filter @message =~ "Exception"\n| limit 200'
        ),
        "isLiveTail": False,
    }

    assert links._insights_fragment(detail).startswith(console_url_prefix)


def test_region_comes_from_the_arn() -> None:
    assert links.region_of("arn:aws:sns:ap-south-2:123456789012:on-call") == "ap-south-2"
    assert links.region_of("not-an-arn") is None


def insights_detail(url: str) -> str:
    """Undo the console's outer encodings: '$' back to '%', then two percent-decodings."""
    fragment = url.split("#logsV2:logs-insights", 1)[1]
    return unquote(unquote(fragment.replace("$", "%")))


def star(text: str) -> str:
    return links._star_encode(text)


def test_a_skip_names_the_releases_without_blaming_one() -> None:
    text = message(decision_result("skipped", {}, "malformed-response"))

    versions = section(text, "Versions")

    assert [line.split()[:2] for line in versions] == [["newest", "v2.3.2"], ["last", "good"]]
    assert "v2.3.1" in versions[1]
