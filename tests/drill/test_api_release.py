"""The API release drill: the canary's stop, the traffic split, a good release, after success.

Every run replays the API stack's alarms as the in-process synth wrote them
(``tests.support.synthesized``), at the best, typical and worst metric delay and, for each,
every assumed CodeDeploy notice (``api_drill.NOTICE_S``). The README's two Lambda tables are
held to the figures these runs print.
"""

from __future__ import annotations

import copy
import itertools
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from drill import api_drill, api_scenario, runner, scenario
from drill.__main__ import main as drill_main
from drill.api_scenario import MINUTE, ROLLBACK_S, shift_steps
from drill.assembly import load_assembly
from drill.outcome import DrillOptions
from drill.report import render_sweep, sweep_lines
from drill.scenario import ScenarioError
from stacks.config import LAMBDA_DEPLOYMENT_CONFIGS
from tests.support.synthesized import synthesize, variant

CANARY = "api-bad-release-canary"
AFTER_SUCCESS = "api-bad-release-after-success"
DELAYS = (60, 240)
README = Path(__file__).resolve().parents[2] / "README.md"
API_SUFFIX = "-api.template.json"


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="module")
def kit(cdk_out: Path) -> api_drill.ApiKit:
    return api_drill.find_api_kit(load_assembly(cdk_out))


@pytest.fixture(scope="module")
def bare(cdk_out: Path, tmp_path_factory: pytest.TempPathFactory) -> api_drill.ApiKit:
    """The same API stack without the rule that hands its alarms to the kit's function."""

    def without_rules(body: dict[str, Any]) -> None:
        rules = [k for k, v in body["Resources"].items() if v["Type"] == "AWS::Events::Rule"]
        for rule in rules:
            del body["Resources"][rule]

    out = variant(cdk_out, tmp_path_factory.mktemp("bare"), without_rules, suffix=API_SUFFIX)
    return api_drill.find_api_kit(load_assembly(out))


def test_an_alias_codedeploy_does_not_shift_is_passed_over(
    cdk_out: Path, kit: api_drill.ApiKit, tmp_path: Path
) -> None:

    def with_a_plain_alias_first(body: dict[str, Any]) -> None:
        alias = next(k for k, v in body["Resources"].items() if v["Type"] == "AWS::Lambda::Alias")
        plain = {
            "Type": "AWS::Lambda::Alias",
            "Properties": body["Resources"][alias]["Properties"] | {"Name": "plain"},
        }
        # First in the template, so the drill meets it before the kit's alias.
        body["Resources"] = {"PlainAlias": plain, **body["Resources"]}

    out = variant(cdk_out, tmp_path / "plain", with_a_plain_alias_first, suffix=API_SUFFIX)
    found = api_drill.find_api_kit(load_assembly(out))

    assert (found.group_config, sorted(found.alarms)) == (kit.group_config, sorted(kit.alarms))


def raw(name: str) -> dict[str, Any]:
    path = scenario.SCENARIOS_DIR / f"{name}.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


CASES = len(api_drill.NOTICE_S) * 3  # every notice at the best, typical and worst delay


def runs(kit: api_drill.ApiKit, data: dict[str, Any]) -> list[api_drill.ApiRun]:
    loaded = api_scenario.parse(data, source="test.json")
    found = [run for _, run in api_drill.run_range(kit, loaded, DELAYS)]
    assert len(found) == CASES  # so a test looping over the runs cannot pass on none
    return found


@pytest.fixture(scope="module")
def canary(kit: api_drill.ApiKit) -> list[api_drill.ApiRun]:
    """The bundled canary scenario's runs, computed once for the tests that only read them."""
    return runs(kit, raw(CANARY))


@pytest.fixture(scope="module")
def after_success(kit: api_drill.ApiKit) -> list[api_drill.ApiRun]:
    """The bundled after-success scenario's runs, computed once likewise."""
    return runs(kit, raw(AFTER_SUCCESS))


def _alarm_ids(kit: api_drill.ApiKit, label: str) -> str:
    (found,) = [lid for lid, alarm in kit.alarms.items() if alarm.label == label]
    return found


# --- What the drill reads from cdk.out ---------------------------------------------------------


def test_kit_is_the_handler_group_with_its_alarms_and_config_from_the_template(
    kit: api_drill.ApiKit,
) -> None:
    group = {a.label for a in kit.alarms.values() if a.rollback}
    paging = {a.label for a in kit.alarms.values() if not a.rollback}

    assert kit.group_config == "CodeDeployDefault.LambdaCanary10Percent10Minutes"
    assert kit.kit_function is not None
    assert group == {"CanaryHttp5xxAlarm", "AliasErrorsAlarm", "AliasThrottlesAlarm", "Api5xxAlarm"}
    assert {"Http5xxAlarm", "HandlerErrorsAlarm"} <= paging
    assert not any("Worker" in lid or "DeadLetter" in lid for lid in kit.alarms)


# --- The canary stops a bad release ----------------------------------------------------------


def test_canary_alarm_stops_the_bad_release_and_the_alias_returns_at_every_delay_and_notice(
    canary: list[api_drill.ApiRun],
) -> None:
    results = canary
    assert [r.status for r in results] == ["Stopped"] * CASES
    assert [r.final_version for r in results] == ["1"] * CASES
    assert [(r.delay_s, r.notice_s) for r in results] == [
        (d, n) for d in (60, 150, 240) for n in api_drill.NOTICE_S
    ]
    assert all(r.passed for r in results)


def test_kits_function_stops_a_running_release_as_its_alarm_enters_alarm_whatever_the_notice(
    kit: api_drill.ApiKit,
    canary: list[api_drill.ApiRun],
) -> None:
    """The function gets the ALARM event while the canary runs and calls StopDeployment with
    rollback; CodeDeploy's own stop would come ``NOTICE_S`` later."""
    for result in canary:
        first = min(
            t.at for lid, r in result.replays.items() if kit.alarms[lid].rollback for t in r.alarms
        )
        ((stopped_at, why, end),) = result.undo.values()

        assert (stopped_at, end, result.kit_rollbacks) == (first, "Stopped", 1)
        assert why.startswith("the kit's function stops it")


def test_without_the_kit_codedeploy_stops_notice_seconds_after_the_first_group_alarm(
    bare: api_drill.ApiKit,
) -> None:
    loaded = api_scenario.load(CANARY)
    last_shift = loaded.releases[0].success_time(bare.group_config)
    for result in runs(bare, raw(CANARY)):
        first = min(
            t.at for lid, r in result.replays.items() if bare.alarms[lid].rollback for t in r.alarms
        )
        noticed = first + timedelta(seconds=result.notice_s)
        if noticed >= last_shift:  # seen after the last shift: the deployment Succeeded
            assert (result.status, result.final_version) == ("Succeeded", "2")
            continue
        ((stopped_at, why, _),) = result.undo.values()
        back = stopped_at + timedelta(seconds=ROLLBACK_S[-1])

        assert (stopped_at, result.status) == (noticed, "Stopped")
        assert why.startswith(f"CodeDeploy stops it ({result.notice_s} s notice, assumed)")
        # The rollback deployment ends at the long end of its assumed duration, not sooner.
        assert result.shift.at(back - timedelta(seconds=1)) != {"1": 1.0}
        assert result.shift.at(back) == {"1": 1.0}


def test_errors_served_are_the_canary_share_times_the_error_rate(
    kit: api_drill.ApiKit, canary: list[api_drill.ApiRun]
) -> None:
    loaded = api_scenario.load(CANARY)
    best = canary[0]
    canary_minute = loaded.times.index(loaded.onset)
    per_minute = round(loaded.requests[canary_minute] * 0.10 * loaded.rate("2", "Http5xx", 0))
    restored = loaded.onset + best.onset_to_restored  # type: ignore[operator]

    served = api_drill.counts(loaded, best.shift, "2", "Http5xx")

    assert served[canary_minute] == per_minute
    assert best.errors_served <= per_minute * (restored - loaded.onset) / MINUTE + 1


def test_all_at_once_serves_ten_times_the_errors_a_minute_until_the_kit_undoes_it(
    kit: api_drill.ApiKit,
    canary: list[api_drill.ApiRun],
) -> None:
    data = raw(CANARY)
    data["deployments"][0]["config"] = "CodeDeployDefault.LambdaAllAtOnce"
    loaded = api_scenario.parse(data)
    best, all_at_once = canary[0], runs(kit, data)[0]
    minute = loaded.times.index(loaded.onset)

    whole = api_drill.counts(loaded, all_at_once.shift, "2", "Http5xx")[minute]
    share = api_drill.counts(loaded, best.shift, "2", "Http5xx")[minute]

    assert (all_at_once.status, all_at_once.kit_rollbacks) == ("Succeeded", 1)
    assert whole == pytest.approx(10 * share, rel=0.02)
    assert all_at_once.errors_served > 5 * best.errors_served


def test_five_minute_canary_is_rolled_back_at_every_delay_and_every_notice(
    kit: api_drill.ApiKit, canary: list[api_drill.ApiRun], bare: api_drill.ApiKit
) -> None:
    """The group's alarm enters ALARM while the deployment runs, so the kit's function
    stops it whether or not CodeDeploy notices before the last shift; without the function,
    a late notice leaves the release Succeeded and serving errors to the end. At the worst
    delay the stop lands as the rest of the traffic moves: the group's default is 10 minutes."""
    data = raw(CANARY)
    data["deployments"][0]["config"] = "CodeDeployDefault.LambdaCanary10Percent5Minutes"

    with_kit, without = runs(kit, data), runs(bare, data)
    for r, alone in zip(with_kit, without, strict=True):
        print(
            f"delay {r.delay_s} s, notice {r.notice_s} s: "
            f"{r.errors_short:,.0f}-{r.errors_served:,.0f} errors served"
            f" (without the kit's function {alone.errors_served:,.0f})"
        )

    assert all((r.final_version, r.kit_rollbacks) == ("1", 1) for r in with_kit)
    assert all(r.onset_to_rollback is not None for r in with_kit)
    assert any(alone.final_version == "2" for alone in without)
    assert all(
        r.errors_served <= alone.errors_served for r, alone in zip(with_kit, without, strict=True)
    )
    # Why the default is the 10-minute canary: at the worst delay the 5-minute one serves
    # several times its errors.
    default = canary
    assert with_kit[-1].errors_served > 3 * default[-1].errors_served


# --- A good release, and a bug after success ------------------------------------------------


def test_good_release_fires_no_alarm_and_succeeds(kit: api_drill.ApiKit) -> None:
    data = raw(CANARY)
    data["versions"]["2"] = {}

    results = runs(kit, data)

    assert [r.status for r in results] == ["Succeeded"] * CASES
    assert [r.final_version for r in results] == ["2"] * CASES
    assert all(not r.alarms for res in results for r in res.replays.values())
    assert [r.errors_served for r in results] == [0] * CASES


def test_after_success_the_kits_function_undoes_the_release_exactly_once_at_every_delay(
    kit: api_drill.ApiKit, after_success: list[api_drill.ApiRun]
) -> None:
    loaded = api_scenario.load(AFTER_SUCCESS)
    results = after_success
    canary, stage = (_alarm_ids(kit, name) for name in ("CanaryHttp5xxAlarm", "Api5xxAlarm"))

    for result in results:
        first = result.replays[canary].first_alarm
        assert first is not None
        # Two of the rule's alarms enter ALARM together: two events, one undo.
        assert result.replays[stage].first_alarm.at == first.at  # type: ignore[union-attr]
        assert (result.status, result.kit_rollbacks, result.final_version) == ("Succeeded", 1, "1")
        assert result.onset_to_rollback == first.at - loaded.onset
    assert all(ok for r in results for *_, ok in r.checks)


def test_without_a_rule_on_the_api_alarms_nothing_rolls_back_after_success(
    bare: api_drill.ApiKit,
) -> None:
    results = runs(bare, raw(AFTER_SUCCESS))

    assert bare.kit_function is None
    assert [(r.status, r.final_version, r.onset_to_rollback) for r in results] == [
        ("Succeeded", "2", None)
    ] * CASES
    assert all(r.errors_until_end for r in results)


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


def test_make_drill_prints_the_lambda_figures_for_each_delay_and_notice_and_the_ec2_ones(
    cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = drill_main(["--scenario", CANARY, "--cdk-out", str(cdk_out), "--no-png"])
    lambda_part, ec2_part = (
        capsys.readouterr().out.split("Lambda, conditional on", 1)[1].split("EC2 reference", 1)
    )
    lambda_rows = [line for line in lambda_part.splitlines() if " s, notice " in line]
    ec2_rows = [line for line in ec2_part.splitlines() if line.split()[:1] == ["best"]]

    assert status == 0
    assert [" ".join(line.split()[:5]) for line in lambda_rows] == [
        f"{case} {d} s, notice {n}"
        for case, d in (("best", 60), ("typical", 150), ("worst", 240))
        for n in api_drill.NOTICE_S
    ]
    assert all(line.count(" min") == 2 and line.endswith("PASS") for line in lambda_rows)
    assert len(ec2_rows) == 1


def test_the_ec2_reference_beside_the_api_drill_follows_the_lifecycle_asked_for(
    cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--scenario", CANARY, "--cdk-out", str(cdk_out), "--no-png", "--lifecycle", "60"]
    drill_main([*argv, "--delay-range", *map(str, DELAYS)])
    printed_rows = capsys.readouterr().out.split("EC2 reference (", 1)[1].splitlines()[2:5]
    options = DrillOptions(metric_delay_s=DELAYS[1], delay_range_s=DELAYS, lifecycle_s=60)
    alone = runner.run_range(
        scenario.load(api_drill.EC2_REFERENCE), load_assembly(cdk_out), options
    )

    assert [row.split()[0] for row in printed_rows] == ["best", "typical", "worst"]
    assert printed_rows == render_sweep(alone).splitlines()[3:6]


# --- The README's tables ----------------------------------------------------------------------


def readme_table(header: str) -> dict[str, list[str]]:
    """The README table whose header row starts with ``header``: each row's cells by its first."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = itertools.takewhile(lambda line: line.startswith("|"), lines[start + 2 :])
    cells = [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]
    return {row[0]: row[1:] for row in cells}


def printed(run: Any) -> tuple[str, ...]:
    """Onset -> rollback, onset -> restored and errors served as the drill prints them."""
    (line,) = sweep_lines("", [("case", run)])[2:-1]
    return tuple(re.split(r"\s{2,}", line.strip())[1:4])


@pytest.fixture(scope="module")
def ec2_reference(cdk_out: Path) -> runner.DelaySweep:
    """The EC2 reference incident at the same delays: the API drill prints it beside its own."""
    loaded = scenario.load(api_drill.EC2_REFERENCE)
    return runner.run_range(loaded, load_assembly(cdk_out), DrillOptions(delay_range_s=DELAYS))


@pytest.mark.parametrize(
    ("header", "runs_of"),
    [
        ("| metric delay | Lambda canary", "canary"),
        ("| metric delay | after success, Lambda", "after_success"),
    ],
)
def test_readme_table_holds_the_figures_the_drill_prints_at_each_delay(
    header: str, runs_of: str, ec2_reference: runner.DelaySweep, request: pytest.FixtureRequest
) -> None:
    """Each Lambda figure is the same at every notice, as the README says; the EC2 reference's
    follow in the same row."""
    results: list[api_drill.ApiRun] = request.getfixturevalue(runs_of)
    lambda_figures = {
        f"{delay} s": {printed(r) for r in group}
        for delay, group in itertools.groupby(results, key=lambda r: r.delay_s)
    }
    ec2_figures = {f"{r.options.metric_delay_s} s": printed(r) for _, r in ec2_reference.runs}

    assert [len(figures) for figures in lambda_figures.values()] == [1, 1, 1], lambda_figures
    assert readme_table(header) == {
        delay: [*figures.pop(), *ec2_figures[delay]] for delay, figures in lambda_figures.items()
    }
