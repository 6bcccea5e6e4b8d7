"""Fold the safeguarding tests' labelled phrases into the concern model's examples.

``python -m bench.extract_safeguarding_examples``: reads the labelled lists of
``tests/bot/test_safeguarding.py`` (without importing pytest) and the dev set
``tests/data/safeguarding_dev.jsonl``, and appends to ``bot/data/safeguarding_examples.jsonl``
every phrase it does not hold yet, one ``{"text", "label", "kind"}`` object a line:

- SELF_HARM, ABUSE, VIOLENCE, BULLYING and PARENT_BEFORE_THE_BLOW (abuse): ``concern``,
  the category as ``kind``;
- the ``(text, category)`` rows of ``@pytest.mark.parametrize`` tables: ``concern``;
- NEGATIVES: ``ok``, kind ``near_miss``;
- the dev set's lines as they are.

It only appends: lines the reviewers (the league committee and a 12355 professional) wrote
or changed in the examples file stay as they are. A phrase labelled both ways is refused.
Retrain with ``python -m bench.train_concern_model`` afterwards.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST_FILE = ROOT / "tests" / "bot" / "test_safeguarding.py"
DEV_FILE = ROOT / "tests" / "data" / "safeguarding_dev.jsonl"
EXAMPLES_FILE = ROOT / "bot" / "data" / "safeguarding_examples.jsonl"

CONCERN_LISTS = {
    "SELF_HARM": "self_harm",
    "ABUSE": "abuse",
    "VIOLENCE": "violence",
    "BULLYING": "bullying",
    "PARENT_BEFORE_THE_BLOW": "abuse",
}
OK_LISTS = {"NEGATIVES": "near_miss"}


def _category_tables(tree: ast.Module) -> list[tuple[str, str]]:
    """The ``(text, category)`` rows of every ``parametrize(("text", "category"), [...])``."""
    rows: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            if not (isinstance(deco, ast.Call) and ast.unparse(deco.func).endswith("parametrize")):
                continue
            args = deco.args
            if (
                len(args) == 2
                and ast.unparse(args[0]) == "('text', 'category')"
                and isinstance(args[1], ast.List)  # a literal table, not POSITIVES
            ):
                rows += ast.literal_eval(args[1])
    return rows


def from_test_file(path: Path = TEST_FILE) -> list[dict[str, str]]:
    """The labelled phrases of the safeguarding tests, in file order."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lists: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in {**CONCERN_LISTS, **OK_LISTS}:
                lists[target.id] = ast.literal_eval(node.value)
    rows = [
        {"text": text, "label": "concern", "kind": kind}
        for name, kind in CONCERN_LISTS.items()
        for text in lists[name]
    ]
    rows += [{"text": t, "label": "concern", "kind": k} for t, k in _category_tables(tree)]
    rows += [
        {"text": text, "label": "ok", "kind": kind}
        for name, kind in OK_LISTS.items()
        for text in lists[name]
    ]
    return rows


def read_jsonl(path: Path) -> list[dict[str, str]]:
    """The objects of a JSON-lines file (blank lines skipped)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def main() -> None:
    held = read_jsonl(EXAMPLES_FILE)
    labels = {row["text"]: row["label"] for row in held}
    new: list[dict[str, str]] = []
    for row in from_test_file() + read_jsonl(DEV_FILE):
        known = labels.setdefault(row["text"], row["label"])
        if known != row["label"]:
            raise SystemExit(f"labelled both {known} and {row['label']}: {row['text']}")
        if row["text"] not in {r["text"] for r in new} and all(
            r["text"] != row["text"] for r in held
        ):
            new.append({"text": row["text"], "label": row["label"], "kind": row["kind"]})
    with EXAMPLES_FILE.open("a", encoding="utf-8") as out:
        for row in new:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{EXAMPLES_FILE.relative_to(ROOT)}: {len(held)} examples held, {len(new)} added")


if __name__ == "__main__":
    main()
