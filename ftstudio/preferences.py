"""Preference data: {prompt, chosen, rejected} pairs from the studio's own review votes and judge verdicts, or
from files, frozen into immutable, content-hashed, split versions that DPO trains on.

A pair comes from people when at least `min_agreeing` reviewers picked the same answer and nobody picked the
other (ties and both-bad votes are not preferences). It comes from the judge only when the judge picked the same
answer in both orders, and only from a judge whose agreement with people on this project (Cohen's kappa) reaches
a threshold: a judge nobody checked, or one that agrees with people no better than chance, would teach the model
its own biases. Where people voted on a pair, their verdict is the one kept.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ftstudio.store import Project, Store, Version
from ftstudio.versions import SPLITS, SplitPlan, VersionError, assign_splits, to_dataset_dict
from ftstudio.wording import quoted

HUMAN, JUDGE, FILE = "human", "judge", "file"
# Preference data has its own held-out prompts: the SFT version's test split is what the loop reviews on.
DEFAULT_PLAN = (0.9, 0.1, 0.0)
LEFT_OUT_REASONS = {
    "ties_or_both_bad": "voted a tie or both bad",
    "reviewers_disagree": "reviewers picked different answers",
    "too_few_reviewers": "fewer reviewers agreed than asked for",
    "judge_tie": "the judge called a tie, or changed its verdict when the answers swapped places",
    "judge_untrusted": "the judge's agreement with people is below the threshold (or untested)",
    "judge_not_asked": "judge verdicts were not asked for",
    "duplicate": "the same pair was already taken from another review",
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

    def check(self) -> None:
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
        return {HUMAN: by_source.get(HUMAN, 0), JUDGE: by_source.get(JUDGE, 0)}

    def describe(self) -> str:
        counts = self.counts
        lines = [f"{len(self.pairs)} preference pair{'s' if len(self.pairs) != 1 else ''}: {counts[HUMAN]} from "
                 f"people's votes, {counts[JUDGE]} from the judge."]
        for judge in self.judges:
            kappa = "untested against people" if judge["kappa"] is None else f"kappa {judge['kappa']:.2f} with people"
            lines.append(f"Judge {judge['judge']}: {kappa} on {judge['shared_votes']} shared votes; "
                         f"{'used' if judge['used'] else 'not used'}.")
        lines += [f"Left out {count}: {LEFT_OUT_REASONS[reason]}." for reason, count in self.left_out.items() if count]
        return "\n".join(lines)

    def left_out_text(self) -> str:
        return " ".join(f"Left out {count}: {LEFT_OUT_REASONS[reason]}." for reason, count in self.left_out.items()
                        if count)

    def to_dict(self) -> dict:
        return {"pairs": len(self.pairs), "counts": self.counts, "left_out": self.left_out, "judges": self.judges}


def _pair_record(chosen, rejected, source: str, detail: dict) -> dict:
    return {"input": chosen.input, "prompt": chosen.prompt, "chosen": chosen.output, "rejected": rejected.output,
            "conversational": False, "source": source, "detail": detail}


def _human_pairs(store: Store, review, generations: dict, filters: PreferenceFilters, left_out: Counter) -> dict:
    """The review's pairs people agreed on, by pair id."""
    by_pair: dict[int, list] = defaultdict(list)
    for rating in store.list_ratings(review.id):
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
        if not votes["a"] and not votes["b"]:
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
    from ftstudio.evaluation.trust import judge_human_agreement

    return {judge: judge_human_agreement(verdicts, ratings) for judge, (verdicts, ratings) in per_judge.items()}


def collect_preferences(store: Store, project: Project, filters: PreferenceFilters | None = None
                        ) -> PreferenceCandidates:
    """The preference pairs the project's reviews hold now, under these filters (nothing is written)."""
    from ftstudio.evaluation.judging import review_generations
    from ftstudio.evaluation.verdicts import pair_verdicts

    filters = filters or PreferenceFilters()
    filters.check()
    reviews = store.list_reviews(project.id)
    if filters.review_ids:
        reviews = [review for review in reviews if review.id in set(filters.review_ids)]
    left_out: Counter = Counter()
    human: dict[tuple[int, int], dict] = {}
    judged: list[tuple[object, object, dict]] = []
    per_judge: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    for review in sorted(reviews, key=lambda r: r.id):
        generations = review_generations(store, review)
        for pair_id, record in _human_pairs(store, review, generations, filters, left_out).items():
            human[(review.id, pair_id)] = record
        verdicts, judgments = pair_verdicts(store, review)
        if verdicts:
            judge = judgments[0].judge
            per_judge[judge][0].extend(verdicts)
            per_judge[judge][1].extend(store.list_ratings(review.id))
            judged.extend((review, verdict, generations) for verdict in verdicts)
    agreement = _judge_agreement(per_judge)
    judges = [{"judge": judge, "kappa": figures["kappa"], "shared_votes": figures["votes"],
               "used": filters.include_judge and figures["kappa"] is not None
               and figures["kappa"] >= filters.min_judge_kappa} for judge, figures in agreement.items()]
    trusted = {entry["judge"] for entry in judges if entry["used"]}
    judge_pairs = []
    for review, verdict, _ in judged:
        if (review.id, verdict.pair.id) in human or verdict.combined is None:
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
        judge_pairs.append(_pair_record(chosen, rejected, JUDGE, {
            "review": review.id, "pair": verdict.pair.id, "chosen_generation": chosen.id,
            "rejected_generation": rejected.id, "chosen_system": chosen.system, "rejected_system": rejected.system,
            "judge": judge, "prompt_version": verdict.in_order.prompt_version}))
    pairs, seen = [], set()
    for record in [*human.values(), *judge_pairs]:
        key = (record["prompt"], record["chosen"], record["rejected"])
        if key in seen:
            left_out["duplicate"] += 1
            continue
        seen.add(key)
        pairs.append(record)
    return PreferenceCandidates(pairs, {reason: left_out.get(reason, 0) for reason in LEFT_OUT_REASONS}, judges)


# --- files --------------------------------------------------------------------------


def _read_records(path: Path) -> list[dict]:
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise VersionError(f"{path.name} line {number} is not JSON ({error.msg}): fix or remove it.") \
                        from None
        return records
    if suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path).to_dict("records")
    raise VersionError(f"{path.name}: preference pairs come as .jsonl or .parquet files with prompt, chosen and "
                       "rejected columns.")


def _plain(value):
    """Parquet gives numpy arrays for lists; JSON wants lists."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def read_preference_file(path: Path) -> list[dict]:
    """Pairs from JSONL or Parquet in TRL's preference forms: standard (prompt, chosen, rejected as text),
    conversational (lists of messages), or with the prompt implicit in chosen and rejected."""
    from trl.data_utils import extract_prompt, is_conversational

    path = Path(path)
    records = [{k: _plain(v) for k, v in record.items()} for record in _read_records(path)]
    if not records:
        raise VersionError(f"{path.name} holds no rows.")
    rows, forms = [], set()
    for number, record in enumerate(records, 1):
        if not isinstance(record, dict) or not {"chosen", "rejected"} <= set(record):
            raise VersionError(f"{path.name} row {number} has no chosen and rejected fields: preference pairs need "
                               "prompt, chosen and rejected (or chosen and rejected conversations).")
        if "prompt" not in record:
            record = {**record, **extract_prompt(record)}
        conversational = is_conversational(record)
        forms.add(conversational)
        values = [record.get(key) for key in ("prompt", "chosen", "rejected")]
        if conversational:
            values = [json.dumps(value, ensure_ascii=False) for value in values]
        if not all(isinstance(value, str) and value.strip() for value in values[1:]) or not isinstance(values[0], str):
            raise VersionError(f"{path.name} row {number}: prompt, chosen and rejected must be text (or lists of "
                               "messages), and chosen and rejected must not be empty.")
        rows.append({"input": None if conversational else values[0], "prompt": values[0], "chosen": values[1],
                     "rejected": values[2], "conversational": conversational, "source": FILE,
                     "detail": {"file": path.name, "row": number}})
    if len(forms) > 1:
        raise VersionError(f"{path.name} mixes text and conversational rows: TRL trains on one form at a time, so "
                           "write every row the same way.")
    return rows


# --- freezing and export ------------------------------------------------------------------


def _content_hash(rows: list[dict]) -> str:
    digest = hashlib.sha256(b"preferences")
    for row in sorted(rows, key=lambda r: (r["split"], r["prompt"], r["chosen"], r["rejected"])):
        digest.update(json.dumps([row["split"], row["prompt"], row["chosen"], row["rejected"]]).encode())
    return digest.hexdigest()[:16]


def freeze_preference_rows(store: Store, project: Project, rows: list[dict], plan: SplitPlan | None = None,
                           name: str | None = None, user_name: str | None = None, origin: dict | None = None
                           ) -> Version:
    """Split and freeze pairs; the same pairs frozen again return the existing version.

    Pairs sharing a prompt (or a near-duplicate one) always land in the same split."""
    if not rows:
        raise VersionError("There are no preference pairs to freeze.")
    plan = plan or SplitPlan(DEFAULT_PLAN)
    splits = assign_splits([row["prompt"] for row in rows], [None] * len(rows), plan)
    rows = [dict(row, split=split) for row, split in zip(rows, splits)]
    digest = _content_hash(rows)
    existing = store.find_version_by_hash(project.id, digest)
    if existing is not None:
        return existing
    counts = {split: splits.count(split) for split in SPLITS}
    counts["sources"] = dict(Counter(row["source"] for row in rows))
    name = (name or "").strip() or f"v{len(store.list_versions(project.id)) + 1}"
    template = project.settings.get("template") or {}
    store.create_preference_version(project.id, name, digest, template,
                                    {"fractions": list(plan.fractions), "seed": plan.seed, **(origin or {})},
                                    counts, rows, user_name)
    return store.find_version(project.id, name)


def freeze_preferences(store: Store, project: Project, filters: PreferenceFilters | None = None,
                       plan: SplitPlan | None = None, name: str | None = None, user_name: str | None = None) -> Version:
    """Freeze the pairs the project's votes (and trusted judge verdicts) hold now."""
    filters = filters or PreferenceFilters()
    candidates = collect_preferences(store, project, filters)
    if not candidates.pairs:
        raise VersionError(f"{quoted(project.name)} has no preference pairs yet. {candidates.left_out_text()} Vote "
                           "on answers on the Review tab (A or B, not tie), or lower the filters.")
    return freeze_preference_rows(store, project, candidates.pairs, plan, name, user_name,
                                  {"filters": asdict(filters)})


def preference_records(store: Store, version: Version) -> dict[str, list[dict]]:
    """Rows per split in TRL's form: text, or messages for a conversational version."""
    by_split: dict[str, list[dict]] = {split: [] for split in SPLITS}
    for row in store.preference_rows(version.id):
        values = {key: getattr(row, key) for key in ("prompt", "chosen", "rejected")}
        if row.conversational:
            values = {key: json.loads(value) for key, value in values.items()}
        by_split[row.split].append(values)
    return by_split


def export_preference_version(store: Store, version: Version, fmt: str, out: Path) -> list[Path]:
    """Write prompt/chosen/rejected per split as JSONL, Parquet or a datasets DatasetDict."""
    if fmt not in ("jsonl", "parquet", "hf"):
        raise VersionError(f"A preference version exports as jsonl, parquet or hf, not {fmt!r}.")
    by_split = preference_records(store, version)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        to_dataset_dict(by_split).save_to_disk(str(out))
        return [out]
    written = []
    for split, rows in by_split.items():
        if not rows:
            continue
        path = out / f"{split}.{fmt}"
        if fmt == "parquet":
            import pandas as pd

            pd.DataFrame(rows).to_parquet(path, index=False)
        else:
            with path.open("w", encoding="utf-8") as handle:
                for row in rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        written.append(path)
    (out / "version.json").write_text(json.dumps(
        {k: getattr(version, k) for k in ("name", "content_hash", "kind", "split", "counts")}, indent=2))
    return written + [out / "version.json"]


def trained_inputs(store: Store, version: Version) -> set[str]:
    """The inputs of the pairs a DPO run on this version trains on (the loop's review leaves them out)."""
    return {row.input for row in store.preference_rows(version.id, "train") if row.input}
