"""Win rates with bootstrap intervals, Bradley-Terry scores, and how many more votes would settle a comparison.

Numbers a product owner decides on, so every figure comes with its 95% interval and a plain verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

RESAMPLES = 2000
CONFIDENCE = 0.95
# Bradley-Terry ratings are printed on the Elo scale chess and LMArena use: 400 points = 10:1 odds.
ELO_SCALE = 400 / math.log(10)
ELO_BASE = 1000.0


@dataclass
class PairCounts:
    """Votes between two systems, from the first system's side."""

    wins: int = 0
    losses: int = 0
    ties: int = 0
    both_bad: int = 0

    @property
    def total(self) -> int:
        return self.wins + self.losses + self.ties + self.both_bad

    @property
    def decisive(self) -> int:
        return self.wins + self.losses

    def flipped(self) -> "PairCounts":
        return PairCounts(self.losses, self.wins, self.ties, self.both_bad)


@dataclass
class WinRate:
    """The first system's win rate over decisive votes (ties and both-bad shown apart), with its interval."""

    counts: PairCounts
    win_rate: float | None
    ci_low: float | None
    ci_high: float | None
    tie_rate: float | None
    verdict: str = ""
    more_votes_needed: int | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"wins": self.counts.wins, "losses": self.counts.losses, "ties": self.counts.ties,
                "both_bad": self.counts.both_bad, "votes": self.counts.total, "win_rate": self.win_rate,
                "ci_low": self.ci_low, "ci_high": self.ci_high, "tie_rate": self.tie_rate,
                "verdict": self.verdict, "more_votes_needed": self.more_votes_needed}


def bootstrap_win_rate(counts: PairCounts, resamples: int = RESAMPLES, seed: int = 0,
                       confidence: float = CONFIDENCE) -> tuple[float | None, float | None, float | None]:
    """Win rate over decisive votes and its percentile bootstrap interval (votes resampled with replacement).

    Resampling n votes with replacement from four outcomes is one multinomial draw of n, so the whole
    bootstrap is a single vectorised draw instead of `resamples` Python loops over the votes
    (scipy.stats.bootstrap would do the loop for us, but not this shortcut; results are the same).

    The resampling shares get half a win and half a loss added (Jeffreys' prior). Without it, a plain bootstrap
    of 3 wins out of 3 votes only ever resamples wins and gives the interval 100%-100%, declaring a winner on
    three votes; with it, few votes give the wide interval they deserve, and many votes are unaffected.
    """
    n = counts.total
    if counts.decisive == 0:
        return None, None, None
    rng = np.random.default_rng(seed)
    smoothed = np.array([counts.wins + 0.5, counts.losses + 0.5, counts.ties, counts.both_bad], dtype=float)
    shares = smoothed / smoothed.sum()
    draws = rng.multinomial(n, shares, size=resamples)
    decisive = draws[:, 0] + draws[:, 1]
    # A resample without a decisive vote says nothing either way: it counts as even.
    rates = np.where(decisive > 0, draws[:, 0] / np.maximum(decisive, 1), 0.5)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(rates, [tail, 100 - tail])
    return counts.wins / counts.decisive, float(low), float(high)


def votes_to_decide(counts: PairCounts, ci_low: float, ci_high: float) -> int | None:
    """About how many more votes would bring the interval clear of 50%, if the split of votes held.

    The side of the interval that reaches past 50% shrinks as 1/sqrt(decisive votes). None when the rate is
    exactly even: then no number of votes separates the two.
    """
    rate = counts.wins / counts.decisive
    distance = abs(rate - 0.5)
    if distance < 1e-9:
        return None
    half_width = rate - ci_low if rate > 0.5 else ci_high - rate
    needed_decisive = math.ceil(counts.decisive * (half_width / distance) ** 2)
    decisive_share = counts.decisive / counts.total
    return max(1, math.ceil((needed_decisive - counts.decisive) / decisive_share))


# An interval this close to 50% on both sides means the two are about equal: more votes would not split them.
EVEN_HALF_WIDTH = 0.1


def even_split_advice(counts: PairCounts, ci_low: float, ci_high: float) -> str:
    """What to do about an exactly even split: the interval says whether more votes could still separate them."""
    half_width = (ci_high - ci_low) / 2
    if half_width <= EVEN_HALF_WIDTH:
        return "The votes are split evenly and the interval stays near 50%: more votes are unlikely to separate them."
    needed_decisive = math.ceil(counts.decisive * (half_width / EVEN_HALF_WIDTH) ** 2)
    more = max(1, math.ceil((needed_decisive - counts.decisive) / (counts.decisive / counts.total)))
    return (f"The votes are split evenly so far, but the interval is still wide: about {more} more votes would show "
            "whether the two are really equal.")


def win_rate(counts: PairCounts, first: str = "A", second: str = "B", resamples: int = RESAMPLES,
             seed: int = 0) -> WinRate:
    """`first`'s win rate against `second`, its interval, and a verdict in words."""
    rate, low, high = bootstrap_win_rate(counts, resamples, seed)
    tie_rate = (counts.ties + counts.both_bad) / counts.total if counts.total else None
    if rate is None:
        verdict = f"No decisive vote between {first} and {second} yet."
        return WinRate(counts, None, None, None, tie_rate, verdict)
    more = None
    if low > 0.5:
        verdict = f"{first} is better than {second}: it wins {rate:.0%} of decisive votes (95% CI {low:.0%}-{high:.0%})."
    elif high < 0.5:
        verdict = f"{second} is better than {first}: {first} wins only {rate:.0%} of decisive votes (95% CI {low:.0%}-{high:.0%})."
    else:
        more = votes_to_decide(counts, low, high)
        verdict = (f"Too close to call: {first} wins {rate:.0%} of decisive votes, but the 95% interval "
                   f"({low:.0%}-{high:.0%}) spans 50%. ")
        verdict += (f"About {more} more vote{'s' if more != 1 else ''} would settle it if the split holds."
                    if more is not None else even_split_advice(counts, low, high))
    return WinRate(counts, rate, low, high, tie_rate, verdict, more)


# --- Bradley-Terry -----------------------------------------------------------------
# A logistic model of P(i beats j) = sigmoid(beta_i - beta_j), fitted by maximum likelihood, with ties as half
# a win each way (arena-hard-auto's convention) and a weak ridge that keeps an undefeated system finite.


def fit_logistic(design: np.ndarray, outcome: np.ndarray, weights: np.ndarray, ridge: float = 1e-3,
                 iterations: int = 100, tolerance: float = 1e-9) -> np.ndarray:
    """Ridge logistic regressions of `outcome` (1, 0, or 0.5 as a soft label) on `design` (rows x parameters), one
    per row of `weights` (how often each row counts: a bootstrap resample), all fitted at once by Newton's method.

    Written by hand because scikit-learn's LogisticRegression refuses soft labels and one-sided samples (common in
    small reviews), and fitting a thousand resamples one L-BFGS call at a time took seconds; the loss is convex,
    so Newton's steps (capped in size while far from the optimum) reach the same fit in a few vectorised passes."""
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    theta = np.zeros((weights.shape[0], design.shape[1]))
    eye = np.eye(design.shape[1])
    for _ in range(iterations):
        probability = 1 / (1 + np.exp(-(theta @ design.T)))
        gradient = ((probability - outcome) * weights) @ design + 2 * ridge * theta
        curvature = probability * (1 - probability) * weights
        hessian = np.einsum("rn,ni,nj->rij", curvature, design, design) + 2 * ridge * eye
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        largest = np.abs(step).max(axis=1, keepdims=True)
        step = step * np.minimum(1.0, 2.0 / np.maximum(largest, 1e-300))
        theta -= step
        if largest.max() < tolerance:
            break
    return theta


def _resample_weights(rng: np.random.Generator, count: int, resamples: int) -> np.ndarray:
    """How often each of `count` rows is drawn in each resample (the same draws as resampling rows one by one)."""
    return np.stack([np.bincount(rng.integers(0, count, count), minlength=count) for _ in range(resamples)])


def bradley_terry(matches: list[tuple[str, str, float]], systems: list[str], anchor: str | None = None,
                  resamples: int = 1000, seed: int = 0, confidence: float = CONFIDENCE) -> list[dict]:
    """Bradley-Terry ratings (Elo scale, `anchor` at 1000) with percentile bootstrap intervals over matches.

    `matches` are (system, other, outcome): 1 when system won, 0 when it lost, 0.5 for a tie.
    """
    index = {name: i for i, name in enumerate(systems)}
    if not matches:
        return [{"system": name, "rating": None, "ci_low": None, "ci_high": None, "matches": 0} for name in systems]
    first = np.array([index[a] for a, _, _ in matches])
    second = np.array([index[b] for _, b, _ in matches])
    outcome = np.array([o for _, _, o in matches], dtype=float)
    anchor_index = index.get(anchor, 0)
    design = np.zeros((len(matches), len(systems)))
    design[np.arange(len(matches)), first] += 1
    design[np.arange(len(matches)), second] -= 1

    def ratings(weights: np.ndarray) -> np.ndarray:
        beta = fit_logistic(design, outcome, weights)
        return ELO_BASE + ELO_SCALE * (beta - beta[:, [anchor_index]])

    point = ratings(np.ones(len(matches)))[0]
    samples = ratings(_resample_weights(np.random.default_rng(seed), len(matches), resamples))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    played = np.bincount(np.concatenate([first, second]), minlength=len(systems))
    return [{"system": name, "rating": float(point[i]), "ci_low": float(low[i]), "ci_high": float(high[i]),
             "matches": int(played[i])} for i, name in enumerate(systems)]


# --- agreement and length control -------------------------------------------------------


def kappa_with_interval(first: list[str], second: list[str], categories: list[str], resamples: int = RESAMPLES,
                        seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float | None, float | None, float | None]:
    """Cohen's kappa of two raters over the same items, with a percentile bootstrap interval over items.

    Every resample's confusion table is one bincount over all resamples at once."""
    n, k = len(first), len(categories)
    if n == 0:
        return None, None, None
    index = {c: i for i, c in enumerate(categories)}
    codes = np.array([index[a] * k + index[b] for a, b in zip(first, second)])

    def kappas(tables: np.ndarray) -> np.ndarray:
        tables = tables.reshape(-1, k, k) / n
        observed = np.trace(tables, axis1=1, axis2=2)
        expected = (tables.sum(axis=2) * tables.sum(axis=1)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)

    point = kappas(np.bincount(codes, minlength=k * k)[None, :])[0]
    if np.isnan(point):
        return None, None, None
    rng = np.random.default_rng(seed)
    sampled = codes[rng.integers(0, n, (resamples, n))] + (k * k) * np.arange(resamples)[:, None]
    values = kappas(np.bincount(sampled.ravel(), minlength=resamples * k * k))
    values = values[~np.isnan(values)]  # a resample where both raters said one thing only has no kappa
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail]) if len(values) else (np.nan, np.nan)
    return float(point), float(low), float(high)


def length_controlled_win_rate(outcomes: list[float], length_differences: list[float], resamples: int = 500,
                               seed: int = 0, confidence: float = CONFIDENCE) -> dict:
    """The win rate read at equal length, in the spirit of AlpacaEval 2's length-controlled win rate.

    A logistic regression of each verdict on the system (the intercept) and tanh(length difference / its standard
    deviation); the length-controlled win rate is the fitted probability at zero difference, with a bootstrap
    interval. `outcomes` are 1 (the system won), 0 (it lost) or 0.5 (a tie), from the system's side."""
    outcome = np.asarray(outcomes, dtype=float)
    # Without a decisive verdict there is nothing to fit: every rate would read 50% (50%-50%), a false certainty.
    if len(outcome) == 0 or np.all(outcome == 0.5):
        return {"win_rate": float(outcome.mean()) if len(outcome) else None, "lc_win_rate": None, "ci_low": None,
                "ci_high": None, "length_coefficient": None, "n": int(len(outcome))}
    difference = np.asarray(length_differences, dtype=float)
    scale = difference.std()
    feature = np.tanh(difference / scale) if scale > 0 else np.zeros_like(difference)
    design = np.column_stack([np.ones_like(feature), feature])
    theta = fit_logistic(design, outcome, np.ones(len(outcome)))[0]
    intercepts = fit_logistic(design, outcome, _resample_weights(np.random.default_rng(seed), len(outcome),
                                                                  resamples))[:, 0]
    tail = (1 - confidence) / 2 * 100
    low, high = 1 / (1 + np.exp(-np.percentile(intercepts, [tail, 100 - tail])))
    return {"win_rate": float(outcome.mean()), "lc_win_rate": float(1 / (1 + np.exp(-theta[0]))),
            "ci_low": float(low), "ci_high": float(high), "length_coefficient": float(theta[1]), "n": int(len(outcome))}
