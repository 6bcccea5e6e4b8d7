"""Calibration: the logistic map, the MAP fit and self-calibration."""

from __future__ import annotations

import numpy as np

from knowledge import FaqDoc, Matcher
from knowledge.calibration import PRIOR, Calibration, fit_calibration, self_calibrate, shifted
from tests.knowledge.conftest import YOUTH_KB


def test_confidence_rises_with_score_and_margin() -> None:
    cal = PRIOR
    assert 0.0 < cal.confidence(0.3, 0.0) < cal.confidence(0.9, 0.0) < 1.0
    assert cal.confidence(0.8, 0.0) < cal.confidence(0.8, 0.3)
    assert 0.0 <= cal.confidence(-100.0, -100.0) <= cal.confidence(100.0, 100.0) <= 1.0


def test_shift_moves_the_score_axis() -> None:
    moved = shifted(PRIOR, 0.1)
    assert abs(moved.confidence(0.9, 0.1) - PRIOR.confidence(0.8, 0.1)) < 1e-12


def test_fit_recovers_a_clear_signal_and_stays_monotonic() -> None:
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 1, 4000)
    margins = rng.uniform(0, 0.5, 4000)
    truth = Calibration(w_score=12.0, w_margin=4.0, bias=-8.0)
    labels = np.array(
        [rng.random() < truth.confidence(s, m) for s, m in zip(scores, margins, strict=True)],
        dtype=float,
    )
    fit = fit_calibration(np.c_[scores, margins], labels)
    assert fit.n_pairs == 4000
    assert fit.w_score > 9.5 and fit.w_margin > 0
    assert abs(fit.confidence(0.7, 0.2) - truth.confidence(0.7, 0.2)) < 0.05


def test_few_pairs_stay_near_the_prior() -> None:
    agreeing = fit_calibration(np.array([[0.95, 0.3], [0.4, 0.05]]), np.array([1.0, 0.0]))
    assert abs(agreeing.w_score - PRIOR.w_score) < 0.3
    assert abs(agreeing.bias - PRIOR.bias) < 0.3
    # Two pairs that contradict the prior move it, but only by a couple of its SDs.
    contrary = fit_calibration(np.array([[0.2, 0.0], [0.3, 0.1]]), np.array([1.0, 1.0]))
    assert abs(contrary.w_score - PRIOR.w_score) < 2 * 1.5
    assert abs(contrary.bias - PRIOR.bias) < 2 * 1.0


def test_without_alternative_phrasings_only_the_prior_shifts() -> None:
    docs = [FaqDoc(f"e{i}", f"第{i}个问题是关于{w}的吗") for i, w in enumerate("天地人山水火木金")]
    cal = self_calibrate(Matcher(docs, calibration=PRIOR))
    assert cal.n_pairs == 0
    assert (cal.w_score, cal.w_margin) == (PRIOR.w_score, PRIOR.w_margin)
    assert Matcher([], calibration=None).calibration == PRIOR


def test_self_calibration_is_deterministic() -> None:
    first, second = Matcher(YOUTH_KB).calibration, Matcher(YOUTH_KB).calibration
    assert first == second
    assert first.n_pairs > 0
