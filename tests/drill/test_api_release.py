"""The API release drill: the canary's stop, the traffic split, a good release, after success.

Every run replays the API stack's alarms as the in-process synth wrote them
(``tests.support.synthesized``), at the best, typical and worst metric delay.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from drill import api_drill, api_scenario, scenario
from drill.__main__ import main as drill_main
from drill.api_scenario import ALIAS_SHIFT_S, MINUTE, shift_steps
from drill.assembly import load_assembly
from drill.scenario import ScenarioError
from stacks.config import LAMBDA_DEPLOYMENT_CONFIGS
from tests.support.synthesized import synthesize

CANARY = "api-bad-release-canary"
AFTER_SUCCESS = "api-bad-release-after-success"
DELAYS = (60, 240)


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def kit(cdk_out: Path) -> api_drill.ApiKit:
    return api_drill.find_api_kit(load_assembly(cdk_out))


def raw(name: str) -> dict[str, Any]:
    path = scenario.SCENARIOS_DIR / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def runs(kit: api_drill.ApiKit, data: dict[str, Any]) -> list[api_drill.ApiRun]:
    loaded = api_scenario.parse(data, source="test.json")
    return [run for _, run in api_drill.run_range(kit, loaded, DELAYS)]


def _alarm_ids(kit: api_drill.ApiKit, label: str) -> str:
    (found,) = [lid for lid, alarm in kit.alarms.items() if alarm.label == label]
    return found


# --- What the drill reads from cdk.out ---------------------------------------------------------


def test_kit_is_the_handler_group_with_its_alarms_and_config_from_the_template(
    kit: api_drill.ApiKit,
) -> None:
    group = {a.label for a in kit.alarms.values() if a.rollback}
    paging = {a.label for a in kit.alarms.values() if not a.rollback}

    assert kit.group_config == "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    assert kit.kit_function is not None
    assert group == {"CanaryHttp5xxAlarm", "AliasErrorsAlarm", "AliasThrottlesAlarm", "Api5xxAlarm"}
    assert {"Http5xxAlarm", "HandlerErrorsAlarm"} <= paging
    assert not any("Worker" in lid or "DeadLetter" in lid for lid in kit.alarms)


# --- The canary stops a bad release ----------------------------------------------------------


def test_canary_alarm_stops_the_bad_release_and_the_alias_returns_at_every_delay(
    kit: api_drill.ApiKit,
) -> None:
    results = runs(kit, raw(CANARY))

    assert [r.status for r in results] == ["Stopped"] * 3
    assert [r.final_version for r in results] == ["1"] * 3
    assert all(ok for r in results for *_, ok in api_drill.checks(r, api_scenario.load(CANARY)))


def test_codedeploy_stops_notice_seconds_after_the_first_group_alarm(
    kit: api_drill.ApiKit,
) -> None:
    worst = runs(kit, raw(CANARY))[-1]
    first = min(
        t.at for lid, r in worst.replays.items() if kit.alarms[lid].rollback for t in r.alarms
    )
    ((stopped_at, _),) = worst.undo.values()

    assert stopped_at == first + timedelta(seconds=api_drill.NOTICE_S)
    assert worst.shift.at(stopped_at + timedelta(seconds=ALIAS_SHIFT_S)) == {"1": 1.0}


def test_errors_served_are_the_canary_share_times_the_error_rate(kit: api_drill.ApiKit) -> None:
    loaded = api_scenario.load(CANARY)
    best = runs(kit, raw(CANARY))[0]
    canary_minute = loaded.times.index(loaded.onset)
    per_minute = round(loaded.requests[canary_minute] * 0.10 * loaded.rate("2", "Http5xx", 0))
    restored = loaded.onset + best.onset_to_restored  # type: ignore[operator]

    served = api_drill.counts(loaded, best.shift, "2", "Http5xx")

    assert served[canary_minute] == per_minute
    assert best.errors_served <= per_minute * (restored - loaded.onset) / MINUTE + 1


def test_all_at_once_serves_ten_times_the_errors_a_minute_until_the_kit_undoes_it(
    kit: api_drill.ApiKit,
) -> None:
    data = raw(CANARY)
    data["deployments"][0]["config"] = "CodeDeployDefault.LambdaAllAtOnce"
    loaded = api_scenario.parse(data)
    canary, all_at_once = runs(kit, raw(CANARY))[0], runs(kit, data)[0]
    minute = loaded.times.index(loaded.onset)

    whole = api_drill.counts(loaded, all_at_once.shift, "2", "Http5xx")[minute]
    share = api_drill.counts(loaded, canary.shift, "2", "Http5xx")[minute]

    assert (all_at_once.status, all_at_once.kit_rollbacks) == ("Succeeded", 1)
    assert whole == pytest.approx(10 * share, rel=0.02)
    assert all_at_once.errors_served > 5 * canary.errors_served


def test_default_five_minute_canary_stopped_only_at_the_best_delay_and_then_nobody_rolls_back(
    kit: api_drill.ApiKit,
) -> None:
    """The group's alarm fires while the deployment runs (the kit's function leaves it to
    CodeDeploy), CodeDeploy sees it only after the last shift, and the alarm stays in ALARM:
    no new transition reaches the function after success."""
    data = raw(CANARY)
    del data["deployments"][0][
        "config"
    ]  # the group's CodeDeployDefault.LambdaCanary10Percent5Minutes

    best, typical, worst = runs(kit, data)

    assert (best.status, best.final_version) == ("Stopped", "1")
    assert [(r.status, r.final_version, r.kit_rollbacks) for r in (typical, worst)] == [
        ("Succeeded", "2", 0)
    ] * 2


# --- A good release, and a bug after success ------------------------------------------------


def test_good_release_fires_no_alarm_and_succeeds(kit: api_drill.ApiKit) -> None:
    data = raw(CANARY)
    data["versions"]["2"] = {}

    results = runs(kit, data)

    assert [r.status for r in results] == ["Succeeded"] * 3
    assert [r.final_version for r in results] == ["2"] * 3
    assert all(not r.alarms for res in results for r in res.replays.values())
    assert [r.errors_served for r in results] == [0, 0, 0]


def test_after_success_the_kits_function_undoes_the_release_exactly_once_at_every_delay(
    kit: api_drill.ApiKit,
) -> None:
    loaded = api_scenario.load(AFTER_SUCCESS)
    results = runs(kit, raw(AFTER_SUCCESS))
    canary, stage = (_alarm_ids(kit, name) for name in ("CanaryHttp5xxAlarm", "Api5xxAlarm"))

    for result in results:
        first = result.replays[canary].first_alarm
        assert first is not None
        # Two of the rule's alarms enter ALARM together: two events, one undo.
        assert result.replays[stage].first_alarm.at == first.at  # type: ignore[union-attr]
        assert (result.status, result.kit_rollbacks, result.final_version) == ("Succeeded", 1, "1")
        assert result.onset_to_rollback == first.at - loaded.onset
    assert all(ok for r in results for *_, ok in api_drill.checks(r, loaded))


def test_without_a_rule_on_the_api_alarms_nothing_rolls_back_after_success(
    cdk_out: Path, tmp_path: Path
) -> None:
    for entry in cdk_out.iterdir():
        if not entry.name.endswith("-api.template.json"):
            (tmp_path / entry.name).symlink_to(entry)
            continue
        body = json.loads(entry.read_text(encoding="utf-8"))
        rules = [k for k, v in body["Resources"].items() if v["Type"] == "AWS::Events::Rule"]
        for rule in rules:
            del body["Resources"][rule]
        (tmp_path / entry.name).write_text(json.dumps(body), encoding="utf-8")
    bare = api_drill.find_api_kit(load_assembly(tmp_path))

    results = runs(bare, raw(AFTER_SUCCESS))

    assert bare.kit_function is None
    assert [(r.status, r.final_version, r.onset_to_rollback) for r in results] == [
        ("Succeeded", "2", None)
    ] * 3


# --- The scenario format and the CodeDeploy configurations ------------------------------------


@pytest.mark.parametrize(
    ("config", "steps"),
    [
        ("CodeDeployDefault.LambdaCanary10Percent5Minutes", [(0, 0.1), (5, 1.0)]),
        ("CodeDeployDefault.LambdaCanary10Percent30Minutes", [(0, 0.1), (30, 1.0)]),
        ("CodeDeployDefault.LambdaAllAtOnce", [(0, 1.0)]),
    ],
)
def test_predefined_configs_shift_as_documented(config: str, steps: list[Any]) -> None:
    assert shift_steps(config) == steps


@pytest.mark.parametrize("config", LAMBDA_DEPLOYMENT_CONFIGS)
def test_every_config_the_stack_accepts_ends_with_all_traffic_on_the_new_version(
    config: str,
) -> None:
    steps = shift_steps(config)

    assert steps[0][0] == 0
    assert steps[-1][1] == 1.0
    assert [w for _, w in steps] == sorted(w for _, w in steps)


def test_linear_config_adds_its_percentage_every_interval() -> None:
    steps = shift_steps("CodeDeployDefault.LambdaLinear10PercentEvery3Minutes")

    assert [m for m, _ in steps] == list(range(0, 30, 3))
    assert [w for _, w in steps] == pytest.approx([i / 10 for i in range(1, 11)])


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda d: d["versions"]["2"].update(Http5xx=[1.5]), "versions.2.Http5xx[0]"),
        (lambda d: d.update(extra=1), "extra"),
        (lambda d: d["deployments"][0].update(config="Canary"), "deployments[0].config"),
        (lambda d: d["versions"]["2"].update(Http5xx=[0.1]), "versions.2"),
    ],
)
def test_invalid_api_scenario_names_the_field(edit: Any, field: str) -> None:
    data = copy.deepcopy(raw(CANARY))
    edit(data)

    with pytest.raises(ScenarioError) as caught:
        api_scenario.parse(data, source="bad.json")

    assert caught.value.field == field


def test_kit_path_refuses_versions_its_account_does_not_have(kit: api_drill.ApiKit) -> None:
    data = raw(AFTER_SUCCESS)
    data["deployments"][0].update(previous="7", version="8")
    data["versions"] = {"8": data["versions"]["2"]}

    with pytest.raises(ScenarioError, match="versions 1, 2"):
        runs(kit, data)


def test_api_scenarios_are_bundled_apart_from_the_ec2_ones() -> None:
    assert {CANARY, AFTER_SUCCESS} <= set(api_scenario.bundled_api_names())
    assert not [n for n in scenario.bundled_names() if n.startswith("api-")]


def test_make_drill_prints_the_lambda_and_ec2_figures_for_each_delay(
    cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = drill_main(["--scenario", CANARY, "--cdk-out", str(cdk_out), "--no-png"])
    out = capsys.readouterr().out
    table = out.split("Lambda: rollback", 1)[1].splitlines()[1:4]

    assert status == 0
    assert [line.split()[0] for line in table] == ["best", "typical", "worst"]
    assert all(line.count(" min") == 4 for line in table), table
