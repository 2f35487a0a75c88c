"""The figures of a review's Results as small frozen records, read by attribute in the Results tab and the CLI.

Each record's `to_dict()` is its part of `ftstudio report --json`: the keys are the field names, in field order,
and nested records become nested objects, so the JSON keeps the shape scripts already read."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass

from ftstudio.evaluation.stats import WinRate


def plain(value):
    """`value` with every record in it turned into the JSON-ready dicts `to_dict()` gives."""
    if is_dataclass(value) and not isinstance(value, type):
        return value.to_dict()
    if isinstance(value, dict):
        return {key: plain(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(inner) for inner in value]
    return value


class Record:
    """A record whose JSON is its fields, in order."""

    def to_dict(self) -> dict:
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class PairWinRate(Record):
    """One pair of systems, from `system`'s side: its votes (or the judge's verdicts), its win rate over decisive
    ones with a 95% interval, and the verdict in words."""

    system: str
    against: str
    wins: int = 0
    losses: int = 0
    ties: int = 0
    both_bad: int = 0
    votes: int = 0
    win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    tie_rate: float | None = None
    verdict: str = ""
    more_votes_needed: int | None = None

    @classmethod
    def of(cls, system: str, against: str, result: WinRate) -> "PairWinRate":
        return cls(system, against, **result.to_dict())


@dataclass(frozen=True)
class BradleyTerryRating(Record):
    """A system's Bradley-Terry rating on the Elo scale (the base model at 1000) with its 95% interval."""

    system: str
    rating: float | None
    ci_low: float | None
    ci_high: float | None
    matches: int


@dataclass(frozen=True)
class ReviewerAgreement(Record):
    """How often reviewers agree on the pairs more than one of them rated (Cohen's kappa for two, Fleiss' for more)."""

    pairs: int = 0
    reviewers: list[str] = field(default_factory=list)
    method: str | None = None
    kappa: float | None = None
    agreement: float | None = None


@dataclass(frozen=True)
class HumanVerdicts(Record):
    """What people said: every pair of systems' win rate (by "first vs second"), Bradley-Terry ratings when more
    than two systems compete (None otherwise), and how far reviewers agree."""

    votes: int = 0
    reviewers: list[str] = field(default_factory=list)
    human: dict[str, PairWinRate] = field(default_factory=dict)
    bradley_terry: list[BradleyTerryRating] | None = None
    reviewer_agreement: ReviewerAgreement = field(default_factory=ReviewerAgreement)
    identical_pairs: int = 0


@dataclass(frozen=True)
class LengthControlled(Record):
    """One pair of systems' plain win rate (ties as half) and its win rate at equal length, with its interval;
    `lc_win_rate` is None when no verdict was decisive."""

    system: str
    against: str
    win_rate: float | None = None
    lc_win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    length_coefficient: float | None = None
    n: int = 0


@dataclass(frozen=True)
class LongerWins(Record):
    """The share of decisive verdicts, between answers of different length, that went to the longer one."""

    longer_wins: float | None
    decisive: int


@dataclass(frozen=True)
class LengthBias(Record):
    """Whether the judge favours longer answers more than people do."""

    judge: LongerWins
    humans: LongerWins
    measure: str = "characters"


@dataclass(frozen=True)
class SystemGrade(Record):
    """A system's mean 1-10 grade from the judge, with its 95% interval."""

    system: str
    graded: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class SingleGrades(Record):
    """The judge's single-answer grades per system."""

    judge: str
    prompt_version: str
    mode: str
    judgments: int
    invalid: int
    failed: int
    systems: list[SystemGrade]

    @classmethod
    def from_summary(cls, summary: dict) -> "SingleGrades":
        """From verdicts.single_summary's answer."""
        return cls(**{**summary, "systems": [SystemGrade(**row) for row in summary["systems"]]})


@dataclass(frozen=True)
class JudgeUsed(Record):
    """A judge (and prompt version) that judged the review, with how many judgments it made."""

    judge: str
    prompt_version: str
    prompt_digest: str
    judgments: int


# Only a pairwise judge has these; a judge that only graded answers one at a time leaves them out of the JSON.
PAIRWISE_ONLY = ("pairs", "judged_pairs", "judgments", "invalid", "failed", "position_consistency", "wins", "ties",
                 "win_rates", "length_bias", "length_controlled")


@dataclass(frozen=True)
class JudgeSummary(Record):
    """The judge's results: pairwise win rates per pair of systems with its position consistency, length bias and
    length-controlled win rates (when it compared pairs), single-answer grades (when it graded), every judge used."""

    judge: str
    prompt_version: str
    mode: str
    pairwise: bool = False
    pairs: int = 0
    judged_pairs: int = 0
    judgments: int = 0
    invalid: int = 0
    failed: int = 0
    position_consistency: float | None = None
    wins: dict[str, int] = field(default_factory=dict)
    ties: int = 0
    win_rates: dict[str, PairWinRate] = field(default_factory=dict)
    length_bias: LengthBias | None = None
    length_controlled: dict[str, LengthControlled] = field(default_factory=dict)
    single: SingleGrades | None = None
    judges: list[JudgeUsed] = field(default_factory=list)

    def to_dict(self) -> dict:
        shape = super().to_dict()
        del shape["pairwise"]
        return shape if self.pairwise else {k: v for k, v in shape.items() if k not in PAIRWISE_ONLY}


@dataclass(frozen=True)
class JudgeAgreement(Record):
    """How far the judge agrees with people on the votes whose pair it judged, and what that means in words."""

    votes: int
    pairs: int
    agreement: float | None
    agreement_without_ties: float | None
    decisive_votes: int
    kappa: float | None
    kappa_ci_low: float | None
    kappa_ci_high: float | None
    confusion: dict[str, dict[str, int]]  # people's choice -> the judge's -> votes
    trust: str
    meaning: str


@dataclass(frozen=True)
class Disagreement(Record):
    """A pair where the judge's verdict is far from people's: both answers, what each side said, and the gap."""

    pair: int
    item_key: str
    gap: float
    input: str
    system_a: str
    system_b: str
    output_a: str
    output_b: str
    people: str
    judge: str
    judge_orders: str
    judge_reason: str


@dataclass(frozen=True)
class BreakdownRow(Record):
    """The first pair of systems' votes and win rate among the items with one value of a field."""

    value: str
    wins: int = 0
    losses: int = 0
    ties: int = 0
    both_bad: int = 0
    votes: int = 0
    win_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    tie_rate: float | None = None
    verdict: str = ""
    more_votes_needed: int | None = None


@dataclass(frozen=True)
class Breakdown(Record):
    """The first pair's win rate per value of an item field (`ftstudio report --by FIELD`)."""

    field: str
    rows: list[BreakdownRow]


# A run without a review (or whose review does not compare it with the base model) has no figures to show.
COMPARED_ONLY = ("human_votes", "human_win_rate", "human_ci", "judge_win_rate", "judge_ci", "judge_lc_win_rate",
                 "judge_kappa", "rougeL", "bleu", "exact_match", "accuracy", "macro_f1", "json_valid", "perplexity",
                 "similarity")


@dataclass(frozen=True)
class RunComparison(Record):
    """One run beside others: its latest review's human and judge win rate against the base model (with 95%
    intervals), the judge's length-controlled win rate and agreement with people, and its headline metrics."""

    run: int
    system: str
    method: str
    version: str | None
    review: int | None
    compared: bool = False
    human_votes: int = 0
    human_win_rate: float | None = None
    human_ci: list[float | None] | None = None
    judge_win_rate: float | None = None
    judge_ci: list[float | None] | None = None
    judge_lc_win_rate: float | None = None
    judge_kappa: float | None = None
    rougeL: float | None = None
    bleu: float | None = None
    exact_match: float | None = None
    accuracy: float | None = None
    macro_f1: float | None = None
    json_valid: float | None = None
    perplexity: float | None = None
    similarity: float | None = None

    def to_dict(self) -> dict:
        shape = super().to_dict()
        del shape["compared"]
        return shape if self.compared else {k: v for k, v in shape.items() if k not in COMPARED_ONLY}


@dataclass
class Results:
    """Everything the results view and `ftstudio report --json` show, computed once per refresh.

    A part that fails to compute is left at its empty value and its error kept in `errors`, so one failing panel
    never blanks the others. `to_dict()` is the --json shape."""

    review: int
    run: int | None
    systems: list[str]
    labels: dict[str, str]
    votes: int = 0
    reviewers: list[str] = field(default_factory=list)
    human: dict[str, PairWinRate] = field(default_factory=dict)
    bradley_terry: list[BradleyTerryRating] | None = None
    reviewer_agreement: ReviewerAgreement = field(default_factory=ReviewerAgreement)
    identical_pairs: int = 0
    human_length_controlled: dict[str, LengthControlled] = field(default_factory=dict)
    judge: JudgeSummary | None = None
    agreement: JudgeAgreement | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    # system -> how many of its answers reviewers corrected (every system of the review), once any was corrected
    corrections: dict[str, int] = field(default_factory=dict)
    metrics: list[dict] = field(default_factory=list)  # metrics.metrics_table's rows: their columns vary by task
    errors: dict[str, str] = field(default_factory=dict)
    # Added by `ftstudio report` when asked for.
    classification: dict | None = None
    comparison: list[RunComparison] | None = None
    breakdown: Breakdown | None = None
    exports: list | None = None
    costs: dict | None = None  # {system: costs.SystemCost}: when present, "systems" maps each name to its figures

    OPTIONAL = ("errors", "corrections", "classification", "comparison", "breakdown", "exports", "costs")

    def to_dict(self) -> dict:
        """The JSON shape `ftstudio report --json` prints; optional parts only when present."""
        shape = {f.name: plain(getattr(self, f.name)) for f in fields(self)
                 if f.name not in self.OPTIONAL or getattr(self, f.name)}
        if shape.pop("costs", None):  # the names stay, in order, as the keys
            shape["systems"] = {name: plain(self.costs.get(name)) for name in self.systems}
        return shape
