"""Train the safeguarding concern model and write it as plain data.

``python -m bench.train_concern_model [--check]``: reads the labelled examples
``bot/data/safeguarding_examples.jsonl`` (one ``{"text", "label": "concern"|"ok", "kind"}``
a line; the league committee and a 12355 professional read and extend it), trains
TF-IDF of character 1- to 3-grams (sublinear tf) and a logistic regression (C=10, balanced
class weights) on them, and writes ``bot/data/concern_model.json``, which
:mod:`bot.services.concern_model` scores with at run time, without scikit-learn::

    {"version": 1, "ngram": [1, 3], "threshold": 0.78, "intercept": ...,
     "features": {"ngram": [idf, coef], ...}}

Floats keep :data:`DIGITS` significant digits. Every feature is kept: each n-gram of the
vocabulary occurs in some example, and dropping one changes the l2 norm of those examples,
so scores would move by more than the 1e-4 allowed.

It then prints the file's size and out-of-fold numbers at the threshold (5-fold stratified,
seed 0): the share of calls for help above it and the share of harmless messages above it.
These are measured on the examples themselves, which were written next to the pattern list;
on new messages expect less (bench/README.md). ``--check`` writes nothing and fails if the
shipped file is not what the examples give. Training is deterministic: same examples, same
file. Needs scikit-learn (``pip install -e '.[dev]'``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline, make_pipeline

from bot.services.concern_model import MODEL_FILE, prepare

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_FILE = ROOT / "bot" / "data" / "safeguarding_examples.jsonl"
VERSION = 1
NGRAM = (1, 3)
C = 10.0
THRESHOLD = 0.78
DIGITS = 7
FOLDS, SEED = 5, 0


def load_examples(path: Path = EXAMPLES_FILE) -> tuple[list[str], list[int]]:
    """Texts and labels (1 for concern, 0 for ok) of the examples file."""
    texts: list[str] = []
    labels: list[int] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row["label"] not in ("concern", "ok"):
            raise SystemExit(f"{path}:{number}: label must be concern or ok: {row['label']!r}")
        texts.append(row["text"])
        labels.append(1 if row["label"] == "concern" else 0)
    return texts, labels


def build_pipeline() -> Pipeline:
    """The untrained model; the text preparation is the run-time module's own."""
    vectorizer = TfidfVectorizer(
        analyzer="char",
        ngram_range=NGRAM,
        sublinear_tf=True,
        preprocessor=prepare,
        lowercase=False,  # prepare() lower-cases
    )
    # A tight tolerance so the optimum, not the solver's path, fixes the coefficients.
    regression = LogisticRegression(C=C, class_weight="balanced", tol=1e-10, max_iter=100_000)
    return make_pipeline(vectorizer, regression)


def train(texts: list[str], labels: list[int]) -> Pipeline:
    """The model fitted on all the examples."""
    return build_pipeline().fit(texts, labels)


def _round(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def export(pipeline: Pipeline) -> dict[str, Any]:
    """The fitted model as the JSON object the run-time module reads."""
    vectorizer, regression = pipeline[0], pipeline[-1]
    coef = regression.coef_[0]
    features = {
        gram: [_round(vectorizer.idf_[column]), _round(coef[column])]
        for gram, column in sorted(vectorizer.vocabulary_.items())
    }
    return {
        "version": VERSION,
        "ngram": list(NGRAM),
        "threshold": THRESHOLD,
        "intercept": _round(regression.intercept_[0]),
        "features": features,
    }


def render(model: dict[str, Any]) -> str:
    """The file's text: one feature a line, so a diff shows what an example changed."""
    head = {key: value for key, value in model.items() if key != "features"}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ', "features": {']
    items = list(model["features"].items())
    for index, (gram, pair) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        lines.append(f"{json.dumps(gram, ensure_ascii=False)}: {json.dumps(pair)}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def cross_validate(texts: list[str], labels: list[int]) -> tuple[float, float]:
    """Out-of-fold recall and false-alarm rate at the threshold."""
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=SEED)
    proba = cross_val_predict(build_pipeline(), texts, labels, cv=folds, method="predict_proba")
    alarm = proba[:, 1] > THRESHOLD
    y = np.array(labels)
    return float(alarm[y == 1].mean()), float(alarm[y == 0].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare, do not write")
    args = parser.parse_args()

    texts, labels = load_examples()
    text = render(export(train(texts, labels)))
    if args.check:
        shipped = MODEL_FILE.read_text(encoding="utf-8") if MODEL_FILE.exists() else ""
        if shipped != text:
            sys.exit(f"{MODEL_FILE} is not what the examples give: run without --check")
        print(f"{MODEL_FILE.relative_to(ROOT)} is what the examples give")
        return
    MODEL_FILE.write_text(text, encoding="utf-8")
    concerns = sum(labels)
    print(
        f"{len(texts)} examples ({concerns} concern, {len(texts) - concerns} ok); "
        f"{MODEL_FILE.relative_to(ROOT)}: {len(text.encode()):,} bytes, "
        f"{text.count(chr(10)) - 2:,} features"
    )
    recall, false_alarms = cross_validate(texts, labels)
    print(
        f"{FOLDS}-fold stratified cross-validation (seed {SEED}), alarm when P > {THRESHOLD}: "
        f"recall {recall:.3f}, false alarms {false_alarms:.3f}"
    )


if __name__ == "__main__":
    main()
