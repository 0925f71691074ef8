"""docs/aws-behaviours.md: every behaviour cites an AWS source and a real test.

The document is the kit's record of what it relies on; a renamed or deleted test would
leave a behaviour unpinned without anyone noticing, so this reads every section's table
and finds each named test function in its file.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLOUDWATCH = "## CloudWatch alarms, metric math and ALB metrics"


def _rows(section: str | None = None) -> list[list[str]]:
    """The behaviour rows (behaviour, source, pinned by) of one section, or of all."""
    text = (REPO / "docs" / "aws-behaviours.md").read_text(encoding="utf-8")
    # The first "## " starts the first section; what comes before is the column legend.
    body = "\n## " + text.split("\n## ", 1)[1]
    if section is not None:
        body = body.split(section, 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split(" | ") for line in body.splitlines() if line.startswith("| ")]
    return [
        row
        for row in rows
        if not row[0].strip().startswith("---") and row[0].strip() != "behaviour"
    ]


def _tests(cell: str) -> list[tuple[str, str]]:
    """(file, function) for each `file::name` and each following `::name` in the cell."""
    found, current = [], ""
    for path, name in re.findall(r"`([\w/]+\.py)?::(\w+)", cell):
        current = path or current
        found.append((current, name))
    return found


def test_section_lists_the_behaviours_the_alarms_and_drill_rely_on() -> None:
    text = " ".join(row[0] for row in _rows(CLOUDWATCH))

    for needle in ("every minute", "FILL", "Premature", "RequestCount", "Fail open", "503"):
        assert needle in text


def test_every_cloudwatch_behaviour_cites_an_aws_document_or_says_none_exists() -> None:
    for behaviour, source, _ in _rows(CLOUDWATCH):
        assert "https://docs.aws.amazon.com/" in source or "documents none" in source, behaviour


def test_every_section_has_rows_of_three_columns() -> None:
    rows = _rows()

    assert len(rows) > 40
    assert all(len(row) == 3 for row in rows), [row[0][:60] for row in rows if len(row) != 3]


def test_every_pinning_test_exists() -> None:
    for behaviour, _, pinned in _rows():
        tests = _tests(pinned)
        assert tests, behaviour
        for path, name in tests:
            assert f"def {name}(" in (REPO / path).read_text(encoding="utf-8"), (path, name)
