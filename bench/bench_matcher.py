"""Benchmark the FAQ matcher against plain ``rapidfuzz.process.extractOne``.

Run ``python -m bench.bench_matcher --sizes 1000,10000,100000 --queries 1000``. Each
size runs in a fresh interpreter so that its RSS figure is not inflated by the
previous one. See ``bench/README.md`` for what every column means.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rapidfuzz import fuzz, process

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.synthetic_kb import make_kb, make_long_queries, make_queries
from bot.services.safeguarding import assess
from knowledge.matcher import Matcher

RESULTS = Path(__file__).resolve().parent / "results"
WARM_UP = 20
# Safeguarding scans every message before the matcher; a long message with no hit is
# its worst case (every category scanned in full).
SAFEGUARDING_LINE = "我想问一下怎么入团，团费交多少？volunteer hours 证明怎么开，谢谢！"
SAFEGUARDING_TEXT = (SAFEGUARDING_LINE * 60)[:2000]
SAFEGUARDING_TARGET_MS = 5.0


def _latencies(run: Callable[[str], object], queries: list[str]) -> list[float]:
    """Seconds per call of ``run`` on each query, after a few warm-up calls."""
    for query in queries[:WARM_UP]:
        run(query)
    out = []
    for query in queries:
        started = time.perf_counter()
        run(query)
        out.append(time.perf_counter() - started)
    return out


def _ms(values: list[float], pct: float) -> float:
    """Percentile of latencies, in milliseconds."""
    return float(np.percentile(np.asarray(values) * 1000.0, pct))


def _maxrss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_one(size: int, n_queries: int) -> dict[str, Any]:
    """Measure one knowledge-base size; meant to run in its own process.

    Args:
        size: Number of synthetic entries.
        n_queries: Number of perturbed queries.

    Returns:
        The measurements for the matcher and for the baseline.
    """
    docs = make_kb(size)
    pairs = make_queries(docs, n_queries)
    queries = [q for q, _ in pairs]
    Matcher(docs[:50])  # load OpenCC and the synonyms outside the measured build
    rss_before = _maxrss_mb()
    started = time.perf_counter()
    matcher = Matcher(docs)
    build_s = time.perf_counter() - started
    latencies = _latencies(matcher.match, queries)
    rss_delta = _maxrss_mb() - rss_before
    results = [matcher.match(q) for q in queries]
    gold = [g for _, g in pairs]
    top1 = np.mean(
        [bool(r.hits) and r.hits[0].entry_id == g for r, g in zip(results, gold, strict=True)]
    )
    answered = np.mean([r.band == "answer" for r in results])
    long_pairs = make_long_queries(docs, max(n_queries // 5, 1))
    long_latencies = _latencies(matcher.match, [q for q, _ in long_pairs])
    long_results = [matcher.match(q) for q, _ in long_pairs]
    long_top1 = np.mean(
        [
            bool(r.hits) and r.hits[0].entry_id == g
            for r, (_, g) in zip(long_results, long_pairs, strict=True)
        ]
    )
    del matcher
    tracemalloc.start()
    traced = Matcher(docs)
    for query in queries[:100]:
        traced.match(query)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    del traced

    choices = [d.question for d in docs]
    ids = [d.entry_id for d in docs]
    base_lat = _latencies(lambda q: process.extractOne(q, choices, scorer=fuzz.ratio), queries)
    base_hits = [process.extractOne(q, choices, scorer=fuzz.ratio) for q in queries]
    base_top1 = np.mean(
        [h is not None and ids[h[2]] == g for h, g in zip(base_hits, gold, strict=True)]
    )
    return {
        "size": size,
        "phrasings": sum(1 + len(d.alt_questions) for d in docs),
        "queries": n_queries,
        "matcher": {
            "build_s": build_s,
            "p50_ms": _ms(latencies, 50),
            "p99_ms": _ms(latencies, 99),
            "top1": float(top1),
            "answered": float(answered),
            "long_queries": len(long_pairs),
            "long_p50_ms": _ms(long_latencies, 50),
            "long_p99_ms": _ms(long_latencies, 99),
            "long_top1": float(long_top1),
            "long_offered": float(np.mean([r.band != "route" for r in long_results])),
            "tracemalloc_peak_mb": peak_mb,
            "rss_delta_mb": rss_delta,
        },
        "extractOne": {
            "p50_ms": _ms(base_lat, 50),
            "p99_ms": _ms(base_lat, 99),
            "top1": float(base_top1),
        },
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    """Render the results, the matcher beside the baseline."""
    head = (
        f"{'entries':>8} {'phrasings':>9} | {'build s':>7} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'top1':>5} {'peak MB':>7} {'RSS+ MB':>7} | {'eO p50':>7} {'eO p99':>7} {'eO top1':>7}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        m, b = row["matcher"], row["extractOne"]
        lines.append(
            f"{row['size']:>8} {row['phrasings']:>9} | {m['build_s']:>7.2f} {m['p50_ms']:>7.2f} "
            f"{m['p99_ms']:>7.2f} {m['top1']:>5.3f} {m['tracemalloc_peak_mb']:>7.0f} "
            f"{m['rss_delta_mb']:>7.0f} | {b['p50_ms']:>7.2f} {b['p99_ms']:>7.2f} "
            f"{b['top1']:>7.3f}"
        )
    lines += ["", "long messages (60-120 characters, one question amid other sentences):"]
    head = (
        f"{'entries':>8} {'queries':>7} | {'p50 ms':>7} {'p99 ms':>7} {'top1':>5} {'offered':>7}"
    )
    lines += [head, "-" * len(head)]
    for row in rows:
        m = row["matcher"]
        lines.append(
            f"{row['size']:>8} {m['long_queries']:>7} | {m['long_p50_ms']:>7.2f} "
            f"{m['long_p99_ms']:>7.2f} {m['long_top1']:>5.3f} {m['long_offered']:>7.3f}"
        )
    return "\n".join(lines)


def safeguarding_ms() -> float:
    """Best of 20 safeguarding scans of a 2,000-character message with no hit, in ms."""
    return min(_latencies(assess, [SAFEGUARDING_TEXT] * 20)) * 1000.0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated sizes")
    parser.add_argument("--queries", type=int, default=1000, help="queries per size")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(bench_one(args.one, args.queries)))
        return 0
    rows = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        cmd = [sys.executable, "-m", "bench.bench_matcher", "--one", str(size)]
        cmd += ["--queries", str(args.queries)]
        root = Path(__file__).resolve().parents[1]
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"size {size}: done", file=sys.stderr)
    print(format_table(rows))
    guard_ms = safeguarding_ms()
    print(
        f"safeguarding scan of 2,000 characters: {guard_ms:.2f} ms "
        f"(target < {SAFEGUARDING_TARGET_MS:.0f} ms)"
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"bench_matcher-{stamp}.json"
    path.write_text(
        json.dumps({"runs": rows, "safeguarding_2000_chars_ms": round(guard_ms, 3)}, indent=2),
        encoding="utf-8",
    )
    print(f"written {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
