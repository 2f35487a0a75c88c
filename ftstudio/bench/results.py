"""`ftstudio bench results`: the statistics a Results refresh computes, the studio's batched fits against the
per-resample fits the studio used before (kept here as the baseline), on a review of 3 systems, 30 prompts and
3 reviewers (issue 28's size: 270 votes).

Nearly all of a Results refresh was Bradley-Terry's 1,000 bootstrap refits and the length-controlled win rate's
500 refits per pair of systems, one scipy L-BFGS call each. The studio fits every resample at once by Newton's
method (evaluation.stats.fit_logistic). Both sides get the same votes; the figures say how long each took and how
far their ratings and rates differ."""

from __future__ import annotations

import time
from itertools import combinations

import numpy as np

from ftstudio.evaluation import stats

SYSTEMS = ["run-2", "run-1", "base"]


def synthetic_review(prompts: int, reviewers: int, seed: int) -> tuple[list[tuple[str, str, float]], dict]:
    """Votes on every pair of systems for every prompt by every reviewer, the better system winning more often,
    and per pair of systems the (outcome, length difference) lists the length-controlled rate reads."""
    rng = np.random.default_rng(seed)
    strength = {"run-2": 0.6, "run-1": 0.2, "base": 0.0}
    matches, by_pair = [], {}
    for first, second in combinations(SYSTEMS, 2):
        outcomes, lengths = [], []
        for _ in range(prompts * reviewers):
            chance = 1 / (1 + np.exp(-(strength[first] - strength[second])))
            outcome = 0.5 if rng.random() < 0.15 else float(rng.random() < chance)
            matches.append((first, second, outcome))
            outcomes.append(outcome)
            lengths.append(float(rng.normal(20, 60)))
        by_pair[f"{first} vs {second}"] = (outcomes, lengths)
    return matches, by_pair


# --- the baseline: one scipy fit per bootstrap resample (the studio's code before issue 28) --------------------

def _fit_logistic_lbfgs(design: np.ndarray, outcome: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    from scipy.optimize import minimize

    def loss_and_gradient(theta):
        probability = 1 / (1 + np.exp(-(design @ theta)))
        eps = 1e-12
        loss = -np.sum(outcome * np.log(probability + eps) + (1 - outcome) * np.log(1 - probability + eps))
        return loss + ridge * theta @ theta, design.T @ (probability - outcome) + 2 * ridge * theta

    return minimize(loss_and_gradient, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B").x


def baseline_bradley_terry(matches, resamples: int, seed: int = 0) -> np.ndarray:
    index = {name: i for i, name in enumerate(SYSTEMS)}
    design = np.zeros((len(matches), len(SYSTEMS)))
    for row, (first, second, _) in enumerate(matches):
        design[row, index[first]] += 1
        design[row, index[second]] -= 1
    outcome = np.array([o for _, _, o in matches])

    def ratings(rows):
        beta = _fit_logistic_lbfgs(design[rows], outcome[rows])
        return stats.ELO_BASE + stats.ELO_SCALE * (beta - beta[index["base"]])

    point = ratings(np.arange(len(matches)))
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        ratings(rng.integers(0, len(matches), len(matches)))
    return point


def baseline_length_controlled(outcomes, lengths, resamples: int, seed: int = 0) -> float:
    outcome, difference = np.asarray(outcomes), np.asarray(lengths)
    feature = np.tanh(difference / difference.std())
    design = np.column_stack([np.ones_like(feature), feature])
    theta = _fit_logistic_lbfgs(design, outcome)
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        rows = rng.integers(0, len(outcome), len(outcome))
        _fit_logistic_lbfgs(design[rows], outcome[rows])
    return float(1 / (1 + np.exp(-theta[0])))


def bench_results(prompts: int = 30, reviewers: int = 3, bt_resamples: int = 1000, lc_resamples: int = 500,
                  seed: int = 0) -> dict:
    """Time the baseline's and the studio's fits on the same synthetic review; returns the figures."""
    matches, by_pair = synthetic_review(prompts, reviewers, seed)
    stats.bradley_terry(matches[:10], SYSTEMS, anchor="base", resamples=5)  # warm: imports, first calls

    started = time.perf_counter()
    base_ratings = baseline_bradley_terry(matches, bt_resamples, seed)
    base_lc = {pair: baseline_length_controlled(o, d, lc_resamples, seed) for pair, (o, d) in by_pair.items()}
    baseline_seconds = time.perf_counter() - started

    started = time.perf_counter()
    studio_ratings = stats.bradley_terry(matches, SYSTEMS, anchor="base", resamples=bt_resamples, seed=seed)
    studio_lc = {pair: stats.length_controlled_win_rate(o, d, resamples=lc_resamples, seed=seed)
                 for pair, (o, d) in by_pair.items()}
    studio_seconds = time.perf_counter() - started

    rating_gap = max(abs(row["rating"] - base_ratings[i]) for i, row in enumerate(studio_ratings))
    lc_gap = max(abs(studio_lc[pair]["lc_win_rate"] - base_lc[pair]) for pair in by_pair)
    return {"systems": len(SYSTEMS), "prompts": prompts, "reviewers": reviewers, "votes": len(matches),
            "bradley_terry_resamples": bt_resamples, "length_controlled_resamples": lc_resamples,
            "baseline_seconds": round(baseline_seconds, 3), "studio_seconds": round(studio_seconds, 3),
            "speedup": round(baseline_seconds / studio_seconds, 1) if studio_seconds else None,
            "max_rating_difference_elo": round(float(rating_gap), 4),
            "max_length_controlled_difference": round(float(lc_gap), 6),
            "goal": "a Results refresh of this review within 2 s"}
