"""Measure the safeguarding list on a labelled set of messages.

``python -m bench.eval_safeguarding FILE.jsonl [--misses]``: each line is
``{"text": ..., "label": "concern"|"ok", "kind": ...}`` (``kind`` optional: a category
of the writer's own, such as self_harm or gaming slang). It prints recall on the
concerns (the share the list raises an alarm for) and the false-alarm rate on the rest,
overall and per kind; ``--misses`` lists the concerns missed and the false alarms, for
the list's reviewers (the committee and a 12355 professional) to read.

A set used to change the list stops measuring how the list does on messages nobody
tuned it for: keep a held-out set apart, as ``bench/README.md`` describes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.services.safeguarding import assess

CONCERN, OK = "concern", "ok"


@dataclass
class Tally:
    """Counts of one group of messages: how many, and how many raised an alarm."""

    total: int = 0
    alarms: int = 0

    def share(self) -> float:
        return self.alarms / self.total if self.total else 0.0


@dataclass
class Report:
    """Alarms on concerns and on the rest, overall and per kind, with the messages
    the list got wrong."""

    by_label: dict[str, Tally] = field(default_factory=lambda: {CONCERN: Tally(), OK: Tally()})
    by_kind: dict[tuple[str, str], Tally] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)
    false_alarms: list[tuple[str, str]] = field(default_factory=list)


def evaluate(lines: list[dict[str, str]]) -> Report:
    """Run :func:`assess` on every message of a labelled set."""
    report = Report()
    for line in lines:
        label, text = line["label"], line["text"]
        if label not in (CONCERN, OK):
            raise SystemExit(f"label must be {CONCERN!r} or {OK!r}, not {label!r}: {text}")
        concern = assess(text)
        alarm = concern is not None
        tally = report.by_kind.setdefault((label, line.get("kind") or "-"), Tally())
        for counted in (report.by_label[label], tally):
            counted.total += 1
            counted.alarms += alarm
        if concern is None and label == CONCERN:
            report.missed.append(text)
        elif concern is not None and label == OK:
            report.false_alarms.append((text, concern.matched))
    return report


def render(report: Report, *, misses: bool) -> str:
    """The report as plain text."""
    concern, ok = report.by_label[CONCERN], report.by_label[OK]
    out = [
        f"recall      {concern.alarms}/{concern.total} = {concern.share():.3f}",
        f"false alarm {ok.alarms}/{ok.total} = {ok.share():.3f}",
        "",
        "label    kind                        alarms",
    ]
    for (label, kind), tally in sorted(report.by_kind.items()):
        out.append(f"{label:<8} {kind:<27} {tally.alarms}/{tally.total}")
    if misses:
        out += ["", "missed concerns:", *(f"  {text}" for text in report.missed)]
        out += ["", "false alarms (matched):"]
        out += [f"  {text}  [{matched}]" for text, matched in report.false_alarms]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and print the report."""
    parser = argparse.ArgumentParser(prog="python -m bench.eval_safeguarding", description=__doc__)
    parser.add_argument("file", type=Path, help="JSONL: text, label (concern|ok), kind")
    parser.add_argument("--misses", action="store_true", help="list what the list got wrong")
    args = parser.parse_args(argv)
    print(render(evaluate(read(args.file)), misses=args.misses))


def read(path: Path) -> list[dict[str, str]]:
    """The labelled lines of ``path`` (a byte-order mark and blank lines allowed); a line
    that is no JSON object with a text and a label is named, not a traceback."""
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(item, dict) or not {"text", "label"} <= item.keys():
            raise SystemExit(f"{path}:{number}: needs a JSON object with text and label")
        lines.append(item)
    return lines


if __name__ == "__main__":
    main()
