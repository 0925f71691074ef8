"""The benchmark's moto part (decisions and their AWS calls) and its report; never the make
timings, which only ``make bench`` runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from drill.assembly import load_assembly
from tests.support.aws_calls import (
    BATCH,
    CLAIM,
    CREATE,
    INVALIDATE,
    LIST,
    METRICS,
    PUBLISH,
    RELEASE,
    STOP,
)
from tests.support.synthesized import synthesize
from tools import bench


@pytest.fixture(scope="module")
def cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


def test_each_decision_kind_makes_the_aws_calls_the_workflow_documents(cdk_out: Path) -> None:
    figures = bench.decision_benchmark(load_assembly(cdk_out), runs=1)

    calls = {
        f.action if f.name != "skip: duplicate delivery" else "duplicate": f.calls for f in figures
    }
    assert calls == {
        "redeployed": (LIST, BATCH, CLAIM, CREATE, INVALIDATE, METRICS, PUBLISH),
        "stopped": (LIST, BATCH, CLAIM, STOP, INVALIDATE, METRICS, PUBLISH),
        "skipped": (LIST, METRICS, PUBLISH),
        "duplicate": (LIST, BATCH),
        "would-redeploy": (LIST, BATCH, METRICS, PUBLISH),
        "failed": (LIST, BATCH, CLAIM, CREATE, RELEASE, PUBLISH),
    }


def test_percentile_takes_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]

    assert bench.percentile(values, 0.50) == 10.0
    assert bench.percentile(values, 0.95) == 19.0


def test_report_names_the_machine_and_the_skipped_make_figures() -> None:
    figures = {
        "machine": {
            "date": "2026-11-24T17:00:00+00:00",
            "cpus": 2,
            "cpuModel": "Test CPU",
            "python": "3.11.7",
            "platform": "Linux",
        },
        "freshSynthSeconds": None,
        "warmSynthSeconds": 7.5,
        "warmTestSeconds": None,
        "referenceIncident": [
            {
                "case": "best",
                "metricDelaySeconds": 60,
                "onsetToRollbackSeconds": 180.0,
                "onsetToRestoredSeconds": 340.0,
                "errorsServed": 2214.0,
            },
            {
                "case": "worst",
                "metricDelaySeconds": 240,
                "onsetToRollbackSeconds": 360.0,
                "onsetToRestoredSeconds": 520.0,
                "errorsServed": 3321.0,
            },
        ],
        "restore": {
            "kitSeconds": 160,
            "kitFormula": "2 batches x (...) = 160 s",
            "awsDefaultSeconds": 960,
            "awsDefaultFormula": "2 batches x (...) = 960 s",
            "ratio": 6.0,
        },
        "decisions": [],
    }

    text = bench.render(figures)

    assert "2 CPUs, Test CPU; Python 3.11.7" in text
    assert "skipped (--skip-fresh)" in text
    assert "skipped (--skip-test)" in text
    assert "6.0x" in text
    # The detection time is quoted per metric delay, never as one number.
    assert "delay 60 s (best)" in text
    assert "onset -> rollback 180 s" in text
    assert "delay 240 s (worst)" in text
    assert "errors served 3,321" in text
