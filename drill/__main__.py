"""``python -m drill``: replay an incident scenario through the synthesized kit, offline.

``make drill`` synthesizes and runs the reference incident at the best, typical and worst
metric delay (``SCENARIO=<bundled name or path.json>`` another one; ``--all`` every bundled
one), printing the worst delay's timeline and one line per delay, or the JSON report
(``--json``, ``--json-file PATH``). An ``api-*`` scenario (an API release on the Lambda
path) goes to ``drill.api_drill``, which prints its figures beside the EC2 reference's
(text only). Exit status 0 when every expectation holds, 1 when one does not, 2 when the
drill cannot run (no cdk.out, an invalid scenario file).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from drill import api_drill, api_scenario, outcome, runner, scenario
from drill import report as text_report
from drill.assembly import DrillTemplateError, load_assembly
from drill.function import FunctionLoadError

DEFAULT_PNG_DIR = Path(".drill")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m drill",
        description="Replay an incident scenario through the synthesized alarms, EventBridge "
        "rule and rollback function, under moto, and print the timeline.",
    )
    parser.add_argument(
        "--scenario",
        default=scenario.DEFAULT_SCENARIO,
        help=f"bundled name ({', '.join(scenario.bundled_names() + api_scenario.bundled_api_names())}) "
        "or a JSON file (api-*: an API release, drill.api_drill); "
        f"default {scenario.DEFAULT_SCENARIO}",
    )
    parser.add_argument("--all", action="store_true", help="run every bundled scenario")
    parser.add_argument("--cdk-out", type=Path, default=Path("cdk.out"))
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--json-file",
        type=Path,
        help="also write the JSON report to this file (make's own output shares stdout)",
    )
    parser.add_argument(
        "--png", type=Path, help=f"PNG timeline path (default {DEFAULT_PNG_DIR}/<scenario>.png)"
    )
    parser.add_argument("--no-png", action="store_true", help="do not draw the PNG")
    parser.add_argument(
        "--delay-range",
        type=int,
        nargs=2,
        metavar=("LOW", "HIGH"),
        default=list(outcome.DEFAULT_DELAY_RANGE_S),
        help="seconds between the end of a minute and its ALB datapoints landing in "
        "CloudWatch; the drill runs the best (LOW), typical (middle) and worst (HIGH) delay "
        "and prints the worst one's timeline (stated model, default %(default)s)",
    )
    parser.add_argument(
        "--lifecycle",
        type=int,
        default=outcome.DrillOptions().lifecycle_s,
        help="seconds of CodeDeploy lifecycle hooks per batch in the restore model "
        "(stated assumption, default %(default)s)",
    )
    return parser


def _report(args: argparse.Namespace, sweep: runner.DelaySweep) -> dict[str, Any]:
    """One scenario's JSON document; prints its timeline and delay table unless ``--json``."""
    png, name = None, sweep.worst.scenario.name
    if not args.no_png:
        from drill.plot import write_png

        target = args.png if args.png and not args.all else DEFAULT_PNG_DIR / f"{name}.png"
        png = str(write_png(sweep.worst, target))
    worst = text_report.as_json(sweep.worst, png=png)
    worst["delays"] = text_report.sweep_json(sweep)
    if not args.json:
        print(text_report.render(sweep.worst, png=png))
        print(text_report.render_sweep(sweep))
        if args.all:
            print("\n" + "=" * 100 + "\n")
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (DrillTemplateError, FunctionLoadError, scenario.ScenarioError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    low, high = args.delay_range
    options = outcome.DrillOptions(
        metric_delay_s=high, delay_range_s=(low, high), lifecycle_s=args.lifecycle
    )
    runner.delay_cases(options.delay_range_s)  # a range it cannot run raises here
    assembly = load_assembly(args.cdk_out)
    if Path(args.scenario).name.startswith("api-") and not args.all:
        return api_drill.main([args.scenario], assembly, options)
    names = scenario.bundled_names() if args.all else [args.scenario]
    sweeps = [runner.run_range(scenario.load(name), assembly, options) for name in names]
    documents = [_report(args, sweep) for sweep in sweeps]
    passed = all(sweep.passed for sweep in sweeps)
    document = json.dumps(documents if args.all else documents[0], indent=2, default=str)
    if args.json_file:
        args.json_file.parent.mkdir(parents=True, exist_ok=True)
        args.json_file.write_text(document + "\n", encoding="utf-8")
    if args.json:
        print(document)
    elif args.all:
        # The EC2 reference the API drill prints beside its own is one of the runs above.
        reference = sweeps[names.index(api_drill.EC2_REFERENCE)]
        api = api_drill.main(api_scenario.bundled_api_names(), assembly, options, reference)
        passed = api == 0 and passed
        print(f"{len(sweeps)} scenarios: " + ("all expectations met" if passed else "FAILED"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
