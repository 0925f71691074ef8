"""docs/aws-behaviours.md, CloudWatch section: every behaviour cites an AWS source and a real test.

The document is the kit's record of what it relies on; a renamed or deleted test would
leave a behaviour unpinned without anyone noticing, so this reads the section's table and
finds each named test function in its file.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SECTION = "## CloudWatch alarms, metric math and ALB metrics"


def _rows() -> list[list[str]]:
    text = (REPO / "docs" / "aws-behaviours.md").read_text(encoding="utf-8")
    body = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in body.splitlines() if line.startswith("| ")]
    return [row for row in rows[1:] if not row[0].strip().startswith("---")]


def _tests(cell: str) -> list[tuple[str, str]]:
    """(file, function) for each `file::name` and each following `::name` in the cell."""
    found, current = [], ""
    for path, name in re.findall(r"`([\w/]+\.py)?::(\w+)", cell):
        current = path or current
        found.append((current, name))
    return found


def test_section_lists_the_behaviours_the_alarms_and_drill_rely_on() -> None:
    text = " ".join(row[0] for row in _rows())

    for needle in ("every minute", "FILL", "Premature", "RequestCount", "Fail open", "503"):
        assert needle in text


def test_every_behaviour_cites_an_aws_document_or_says_none_exists() -> None:
    for behaviour, source, _ in _rows():
        assert "https://docs.aws.amazon.com/" in source or "documents none" in source, behaviour


def test_every_pinning_test_exists() -> None:
    for behaviour, _, pinned in _rows():
        tests = _tests(pinned)
        assert tests, behaviour
        for path, name in tests:
            assert f"def {name}(" in (REPO / path).read_text(encoding="utf-8"), (path, name)
