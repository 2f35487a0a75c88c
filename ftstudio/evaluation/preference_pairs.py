"""The one rule that turns votes (and trusted judge verdicts) into preference pairs {prompt, chosen, rejected}:
the Datasets tab, the `preferences` and `report --export` commands and the Results tab's export all use it.

A pair comes from people when at least `min_agreeing` reviewers picked the same answer and nobody picked the
other (ties and both-bad votes are not preferences). It comes from the judge only when the judge picked the same
answer in both orders, and only from a judge whose agreement with people on this project (Cohen's kappa) reaches
a threshold: a judge nobody checked, or one that agrees with people no better than chance, would teach the model
its own biases. Where people voted on a pair, their verdict is the one kept. Pairs imported from preference files
join as they are. Two answers with the same words are never a preference, whoever chose between them.

This lives in evaluation, not versions: it reads reviews, judge verdicts and the judge's agreement with people,
and versions sit below evaluation.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field

from ftstudio.evaluation.judging import review_generations
from ftstudio.evaluation.trust import judge_human_agreement
from ftstudio.evaluation.verdicts import pair_verdicts
from ftstudio.store import Project, Store, Version
from ftstudio.versions import (FILE, HUMAN, JUDGE, SplitPlan, VersionError, freeze_preference_rows,
                               imported_preference_pairs, same_words)
from ftstudio.wording import quoted

LEFT_OUT_REASONS = {
    "ties_or_both_bad": "voted a tie or both bad",
    "reviewers_disagree": "reviewers picked different answers",
    "too_few_reviewers": "fewer reviewers agreed than asked for",
    "identical_answers": "the two answers had the same words, so neither is better",
    "judge_tie": "the judge called a tie, or changed its verdict when the answers swapped places",
    "judge_untrusted": "the judge's agreement with people is below the threshold (or untested)",
    "judge_not_asked": "judge verdicts were not asked for",
    "duplicate": "the same pair was already taken from another review or file",
}


@dataclass
class PreferenceFilters:
    """Which verdicts become preference pairs."""

    min_agreeing: int = field(default=1, metadata={"help": "Reviewers who must pick the same answer (with nobody "
                                                           "picking the other) for a vote to become a pair."})
    include_judge: bool = field(default=False, metadata={"help": "Also use judge verdicts that held in both orders."})
    min_judge_kappa: float = field(default=0.4, metadata={"help": "Use a judge only when its Cohen's kappa with "
                                                                  "people on this project is at least this."})
    review_ids: list[int] | None = field(default=None, metadata={"help": "Only these reviews (default: all)."})
    include_imported: bool = field(default=True, metadata={
        "help": "Also the pairs imported from preference files (prompt, chosen, rejected)."})

    def check(self) -> None:
        """Refuse filters no pair could pass, with what to change."""
        if self.min_agreeing < 1:
            raise VersionError("At least 1 reviewer must agree for a vote to become a preference pair.")
        if not -1 <= self.min_judge_kappa <= 1:
            raise VersionError(f"The judge's kappa threshold is between -1 and 1 (it is {self.min_judge_kappa:g}).")


@dataclass
class PreferenceCandidates:
    """The pairs that would be frozen now, and how many verdicts were left out, and why."""

    pairs: list[dict]
    left_out: dict[str, int]
    judges: list[dict]

    @property
    def counts(self) -> dict[str, int]:
        by_source = Counter(pair["source"] for pair in self.pairs)
        counts = {HUMAN: by_source.get(HUMAN, 0), JUDGE: by_source.get(JUDGE, 0)}
        if by_source.get(FILE):  # said only when there are some, so a project without imports reads as before
            counts[FILE] = by_source[FILE]
        return counts

    def describe(self) -> str:
        """What would be frozen, per source, which judges were trusted, and what was left out and why."""
        counts = self.counts
        imported = f", {counts[FILE]} imported from files" if FILE in counts else ""
        lines = [f"{len(self.pairs)} preference pair{'s' if len(self.pairs) != 1 else ''}: {counts[HUMAN]} from "
                 f"people's votes, {counts[JUDGE]} from the judge{imported}."]
        for judge in self.judges:
            kappa = "untested against people" if judge["kappa"] is None else f"kappa {judge['kappa']:.2f} with people"
            lines.append(f"Judge {judge['judge']}: {kappa} on {judge['shared_votes']} shared votes; "
                         f"{'used' if judge['used'] else 'not used'}.")
        lines += [f"Left out {count}: {LEFT_OUT_REASONS[reason]}." for reason, count in self.left_out.items() if count]
        return "\n".join(lines)

    def left_out_text(self) -> str:
        """What was left out and why, in one line."""
        return " ".join(f"Left out {count}: {LEFT_OUT_REASONS[reason]}." for reason, count in self.left_out.items()
                        if count)

    def to_dict(self) -> dict:
        """The counts as JSON (what `ftstudio preferences --json` prints)."""
        return {"pairs": len(self.pairs), "counts": self.counts, "left_out": self.left_out, "judges": self.judges}


def _pair_record(chosen, rejected, source: str, detail: dict) -> dict:
    """A pair of two generations as a row to freeze: the prompt exactly as the models were given it."""
    return {"input": chosen.input, "prompt": chosen.prompt, "chosen": chosen.output, "rejected": rejected.output,
            "conversational": False, "source": source, "detail": detail}


def _human_pairs(store: Store, review, ratings: list, generations: dict, filters: PreferenceFilters,
                 left_out: Counter) -> dict:
    """The review's pairs people agreed on, by pair id; a voted pair of identical answers is counted, never kept."""
    by_pair: dict[int, list] = defaultdict(list)
    for rating in ratings:
        by_pair[rating.pair_id].append(rating)
    kept = {}
    for pair in store.review_pairs(review.id):
        ratings = by_pair.get(pair.id)
        if not ratings:
            continue
        votes = Counter(rating.winner for rating in ratings)
        first, second = generations.get(pair.generation_a), generations.get(pair.generation_b)
        if first is None or second is None:
            continue
        if same_words(first.output, second.output):
            left_out["identical_answers"] += 1
        elif not votes["a"] and not votes["b"]:
            left_out["ties_or_both_bad"] += 1
        elif votes["a"] and votes["b"]:
            left_out["reviewers_disagree"] += 1
        elif max(votes["a"], votes["b"]) < filters.min_agreeing:
            left_out["too_few_reviewers"] += 1
        else:
            chosen, rejected = (first, second) if votes["a"] else (second, first)
            kept[pair.id] = _pair_record(chosen, rejected, HUMAN, {
                "review": review.id, "pair": pair.id, "chosen_generation": chosen.id,
                "rejected_generation": rejected.id, "chosen_system": chosen.system,
                "rejected_system": rejected.system, "votes": dict(votes),
                "reviewers": sorted({rating.rater for rating in ratings})})
    return kept


def _judge_agreement(per_judge: dict[str, tuple[list, list]]) -> dict[str, dict]:
    """Each judge's agreement with people, pooled over the reviews it judged."""
    return {judge: judge_human_agreement(verdicts, ratings) for judge, (verdicts, ratings) in per_judge.items()}


def _judge_pairs(judged: list, human: dict, voted: set, trusted: set[str], filters: PreferenceFilters,
                 left_out: Counter) -> list[dict]:
    """Pairs from the judge's verdicts that held in both orders, where people did not vote."""
    pairs = []
    for review, verdict in judged:
        if (review.id, verdict.pair.id) in human:
            continue
        if same_words(verdict.first.output, verdict.second.output):
            if (review.id, verdict.pair.id) not in voted:  # counted once: under people's votes if they voted
                left_out["identical_answers"] += 1
            continue
        if verdict.combined is None:
            continue
        if verdict.combined == "tie":
            left_out["judge_tie"] += 1
            continue
        judge = verdict.in_order.judge
        if not filters.include_judge:
            left_out["judge_not_asked"] += 1
            continue
        if judge not in trusted:
            left_out["judge_untrusted"] += 1
            continue
        chosen, rejected = (verdict.first, verdict.second) if verdict.combined == "a" else (verdict.second,
                                                                                            verdict.first)
        pairs.append(_pair_record(chosen, rejected, JUDGE, {
            "review": review.id, "pair": verdict.pair.id, "chosen_generation": chosen.id,
            "rejected_generation": rejected.id, "chosen_system": chosen.system, "rejected_system": rejected.system,
            "judge": judge, "prompt_version": verdict.in_order.prompt_version}))
    return pairs


def _imported_pairs(store: Store, project: Project, left_out: Counter) -> list[dict]:
    """Pairs imported from preference files, less those whose chosen and rejected have the same words."""
    pairs = []
    for record in imported_preference_pairs(store, project):
        if same_words(record["chosen"], record["rejected"]):
            left_out["identical_answers"] += 1
        else:
            pairs.append(record)
    return pairs


def collect_preferences(store: Store, project: Project, filters: PreferenceFilters | None = None
                        ) -> PreferenceCandidates:
    """The preference pairs the project's reviews (and imported files) hold now, under these filters (nothing is
    written)."""
    filters = filters or PreferenceFilters()
    filters.check()
    reviews = store.list_reviews(project.id)
    if filters.review_ids:
        reviews = [review for review in reviews if review.id in set(filters.review_ids)]
    left_out: Counter = Counter()
    human: dict[tuple[int, int], dict] = {}
    voted: set[tuple[int, int]] = set()
    judged: list[tuple[object, object]] = []
    per_judge: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for review in sorted(reviews, key=lambda r: r.id):
        generations = review_generations(store, review)
        ratings = store.list_ratings(review.id)
        voted |= {(review.id, rating.pair_id) for rating in ratings}
        for pair_id, record in _human_pairs(store, review, ratings, generations, filters, left_out).items():
            human[(review.id, pair_id)] = record
        verdicts, judgments = pair_verdicts(store, review)
        if verdicts and judgments:
            judge = judgments[0].judge
            per_judge[judge][0].extend(verdicts)
            per_judge[judge][1].extend(ratings)
            judged.extend((review, verdict) for verdict in verdicts)
    agreement = _judge_agreement(per_judge)
    judges = [{"judge": judge, "kappa": figures["kappa"], "shared_votes": figures["votes"],
               "used": filters.include_judge and figures["kappa"] is not None
               and figures["kappa"] >= filters.min_judge_kappa} for judge, figures in agreement.items()]
    trusted = {entry["judge"] for entry in judges if entry["used"]}
    judge_pairs = _judge_pairs(judged, human, voted, trusted, filters, left_out)
    imported = _imported_pairs(store, project, left_out) if filters.include_imported else []
    pairs, seen = [], set()
    for record in [*human.values(), *judge_pairs, *imported]:
        key = (record["prompt"], record["chosen"], record["rejected"])
        if key in seen:
            left_out["duplicate"] += 1
            continue
        seen.add(key)
        pairs.append(record)
    return PreferenceCandidates(pairs, {reason: left_out.get(reason, 0) for reason in LEFT_OUT_REASONS}, judges)


def freeze_preferences(store: Store, project: Project, filters: PreferenceFilters | None = None,
                       plan: SplitPlan | None = None, name: str | None = None, user_name: str | None = None) -> Version:
    """Freeze the pairs the project's votes (trusted judge verdicts, imported files) hold now."""
    filters = filters or PreferenceFilters()
    candidates = collect_preferences(store, project, filters)
    if not candidates.pairs:
        raise VersionError(f"{quoted(project.name)} has no preference pairs yet. {candidates.left_out_text()} Vote "
                           "on answers on the Review tab (A or B, not tie), or lower the filters.")
    return freeze_preference_rows(store, project, candidates.pairs, plan, name, user_name,
                                  {"filters": asdict(filters)})
