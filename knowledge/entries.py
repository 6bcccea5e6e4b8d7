"""FAQ entries as plain data, and reading and writing them as YAML, JSONL or CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

FORMATS = ("yaml", "jsonl", "csv")
_CSV_FIELDS = ("id", "question", "alt_questions", "answer", "topic", "tags", "region", "active")
_LIST_SEPARATOR = "|"
# Any printable id fits; buttons carry the entry's numeric database id, not this.
_SLUG = re.compile(r"^[^\r\n]{1,64}$")


class KbFileError(ValueError):
    """Raised for a knowledge-base file that cannot be read; says which entry and why."""


@dataclass(frozen=True)
class EntryData:
    """One FAQ entry as it appears in a file (``id`` is the entry's stable slug)."""

    id: str
    question: str
    answer: str
    alt_questions: tuple[str, ...] = ()
    topic: str | None = None
    tags: tuple[str, ...] = ()
    region: str | None = None
    active: bool = True
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str) -> EntryData:
        """Build from a parsed record; raise :class:`KbFileError` naming ``where``."""
        try:
            slug = str(raw["id"]).strip()
            question = str(raw["question"]).strip()
        except KeyError as exc:
            raise KbFileError(f"{where}: missing field {exc.args[0]!r}") from exc
        if not question:
            raise KbFileError(f"{where}: question must not be empty")
        if not _SLUG.match(slug):
            raise KbFileError(f"{where}: id {slug!r} must be 1-64 characters on one line")
        for name in ("topic", "region"):
            if len(str(raw.get(name) or "")) > 32:
                raise KbFileError(f"{where}: {name} must be at most 32 characters")
        return cls(
            id=slug,
            question=question,
            answer=str(raw.get("answer") or "").strip(),
            alt_questions=tuple(
                text
                for text in (str(a).strip() for a in _as_list(raw.get("alt_questions")))
                if text
            ),
            topic=(str(raw["topic"]).strip() or None) if raw.get("topic") else None,
            tags=tuple(str(t).strip() for t in _as_list(raw.get("tags")) if str(t).strip()),
            region=(str(raw["region"]).strip() or None) if raw.get("region") else None,
            active=_as_bool(raw.get("active", True)),
        )

    def to_mapping(self) -> dict[str, Any]:
        """The record written to files."""
        data = asdict(self)
        data.pop("meta")
        data["alt_questions"] = list(self.alt_questions)
        data["tags"] = list(self.tags)
        return data


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return value.split(_LIST_SEPARATOR)
    return list(value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "n", "")
    return bool(value)


def detect_format(path: Path) -> str:
    """Return yaml, jsonl or csv from the file name."""
    suffix = path.suffix.lower().lstrip(".")
    fmt = {"yml": "yaml", "json": "jsonl"}.get(suffix, suffix)
    if fmt not in FORMATS:
        raise KbFileError(f"{path}: unknown format {suffix!r}; use .yaml, .jsonl or .csv")
    return fmt


def read_entries(path: Path) -> list[EntryData]:
    """Read a knowledge base file in any supported format."""
    fmt = detect_format(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise KbFileError(f"{path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:  # Excel on a Chinese Windows saves CSV as GBK
        raise KbFileError(
            f"{path}: not UTF-8 (byte {exc.start}); save it as UTF-8 (in Excel: CSV UTF-8)"
        ) from exc
    records: list[tuple[str, Any]]
    try:
        if fmt == "yaml":
            loaded = yaml.safe_load(text) or {}
            items = loaded.get("entries", []) if isinstance(loaded, dict) else loaded
            records = [(f"{path} entry {i + 1}", item) for i, item in enumerate(items or [])]
        elif fmt == "jsonl":
            records = [
                (f"{path}:{number}", json.loads(line))
                for number, line in enumerate(text.splitlines(), 1)
                if line.strip()
            ]
        else:
            rows = csv.DictReader(io.StringIO(text))
            records = [(f"{path}:{i + 2}", row) for i, row in enumerate(rows)]
    except (yaml.YAMLError, json.JSONDecodeError, csv.Error) as exc:
        raise KbFileError(f"{path}: {exc}") from exc
    entries = []
    for where, record in records:
        if not isinstance(record, Mapping):
            raise KbFileError(f"{where}: expected a mapping, got {type(record).__name__}")
        entries.append(EntryData.from_mapping(record, where))
    seen: set[str] = set()
    for entry in entries:
        if entry.id in seen:
            raise KbFileError(f"{path}: duplicate id {entry.id!r}")
        seen.add(entry.id)
    return entries


def write_entries(path: Path, entries: Iterable[EntryData]) -> int:
    """Write ``entries`` to ``path`` in the format its name says; return how many."""
    fmt = detect_format(path)
    records = [entry.to_mapping() for entry in entries]
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "yaml":
        text = yaml.safe_dump({"entries": records}, allow_unicode=True, sort_keys=False)
    elif fmt == "jsonl":
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_CSV_FIELDS)
        writer.writeheader()
        for record in records:
            writer.writerow(
                {
                    **record,
                    "alt_questions": _LIST_SEPARATOR.join(record["alt_questions"]),
                    "tags": _LIST_SEPARATOR.join(record["tags"]),
                    "active": "true" if record["active"] else "false",
                }
            )
        text = buffer.getvalue()
    path.write_text(text, encoding="utf-8")
    return len(records)


STARTER_FAQ = Path(__file__).parent / "data" / "starter_faq.yaml"
