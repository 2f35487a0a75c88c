"""Preference data from votes and the judge, frozen and exported; DPO in a real child process; the loop closed."""

import json
from pathlib import Path

import pytest

from ftstudio.evaluation.compare import generate_and_review
from ftstudio.evaluation.review import next_pair, vote
from ftstudio.evaluation.preference_pairs import PreferenceFilters, collect_preferences, freeze_preferences
from ftstudio.training.config import TrainConfig
from ftstudio.training.folders import read_metrics
from ftstudio.training.manager import RunManager
from ftstudio.training.prepare import RunError
from ftstudio.versions import (SplitPlan, VersionError, export_preference_version, freeze_preference_rows,
                               read_preference_file)
from tests.evaluation_fixtures import FakeBackend, finished_run


def vote_by_script(store, review, reviewer: str, decide) -> int:
    """Vote every pair the reviewer is given; decide(item_key, left_system, right_system) -> a|b|tie|both_bad."""
    votes = 0
    while (pair := next_pair(store, review, reviewer)) is not None:
        assignment = store.get_assignment(pair.token)
        left = store.get_generation(assignment.left_generation)
        pair_row = store.get_review_pair(assignment.pair_id)
        right = store.get_generation(pair_row.generation_b if left.id == pair_row.generation_a
                                     else pair_row.generation_a)
        vote(store, pair.token, reviewer, decide(left.item_key, left.system, right.system))
        votes += 1
    return votes


def prefer(system: str):
    """A vote for `system` in the terms of how the pair was shown."""
    return lambda left, right: "a" if left == system else "b"


@pytest.fixture
def reviewed(store, settings, tiny_model_dir, tmp_path):
    """A finished run, its review's outputs, and two reviewers' scripted votes."""
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=30)
    batch = generate_and_review(store, settings, run, backend=FakeBackend(), split="train", overlap=2)
    review = batch.review
    keys = sorted({g.item_key for g in batch.generations})
    # Per item: what ana and ben vote (in system terms), so the expected pairs are known exactly.
    plan = {}
    for index, key in enumerate(keys):
        plan[key] = [("run", "run"), ("base", "base"), ("run", "base"), ("tie", "run"), ("tie", "both_bad"),
                     ("base", "tie")][index % 6]

    def decide_for(person: int):
        def decide(item_key, left, right):
            wanted = plan[item_key][person]
            if wanted in ("tie", "both_bad"):
                return wanted
            system = run.system if wanted == "run" else "base"
            return "a" if left == system else "b"
        return decide

    vote_by_script(store, review, "ana", decide_for(0))
    vote_by_script(store, review, "ben", decide_for(1))
    return project, run, review, plan


def test_a_preference_version_holds_exactly_the_agreed_pairs(store, reviewed, tmp_path):
    project, run, review, plan = reviewed
    expected = {key: votes for key, votes in plan.items()}
    one = collect_preferences(store, project, PreferenceFilters(min_agreeing=1))
    winners = {"run": run.system, "base": "base"}
    wanted_one = {}
    for key, (ana, ben) in expected.items():
        picks = {v for v in (ana, ben) if v in ("run", "base")}
        if len(picks) == 1:
            wanted_one[key] = winners[picks.pop()]
    assert len(one.pairs) == len(wanted_one)
    by_input = {}
    generations = {g.id: g for g in store.list_generations(project.id)}
    for pair in one.pairs:
        by_input[generations[pair["detail"]["chosen_generation"]].item_key] = pair["detail"]["chosen_system"]
        assert pair["chosen"] == generations[pair["detail"]["chosen_generation"]].output
        assert pair["rejected"] == generations[pair["detail"]["rejected_generation"]].output
    assert by_input == wanted_one
    disagree = sum(1 for ana, ben in expected.values() if {ana, ben} == {"run", "base"})
    both_not = sum(1 for ana, ben in expected.values() if ana not in ("run", "base") and ben not in ("run", "base"))
    assert one.left_out["reviewers_disagree"] == disagree and one.left_out["ties_or_both_bad"] == both_not

    two = collect_preferences(store, project, PreferenceFilters(min_agreeing=2))
    assert len(two.pairs) == sum(1 for ana, ben in expected.values() if ana == ben and ana in ("run", "base"))
    assert all(max(pair["detail"]["votes"].get("a", 0), pair["detail"]["votes"].get("b", 0)) == 2
               for pair in two.pairs)

    version = freeze_preferences(store, project, PreferenceFilters(min_agreeing=2), name="prefs")
    assert version.is_preferences and version.counts["sources"] == {"human": len(two.pairs)}
    assert sum(version.counts[s] for s in ("train", "validation", "test")) == len(two.pairs)
    assert freeze_preferences(store, project, PreferenceFilters(min_agreeing=2)).id == version.id  # same pairs
    rows = store.preference_rows(version.id)
    assert {(r.prompt, r.chosen, r.rejected) for r in rows} == {(p["prompt"], p["chosen"], p["rejected"])
                                                               for p in two.pairs}
    assert f"{len(one.pairs)} preference pairs" in one.describe()


def test_nothing_to_freeze_says_why(store, settings, tiny_model_dir, tmp_path):
    project, run = finished_run(store, settings, tiny_model_dir, tmp_path)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    vote_by_script(store, review, "ana", lambda key, left, right: "tie")
    with pytest.raises(VersionError, match="no preference pairs yet.*tie or both bad"):
        freeze_preferences(store, project)


def test_preference_files_in_trl_forms_and_the_export_loads_into_dpo_trainer(store, project, tmp_path,
                                                                           tiny_model_dir):
    standard = tmp_path / "standard.jsonl"
    standard.write_text("\n".join(json.dumps({"prompt": f"Where is pallet {n}?", "chosen": f"In depot {n % 3}.",
                                              "rejected": "No idea."}) for n in range(12)))
    conversational = tmp_path / "chat.jsonl"
    conversational.write_text("\n".join(json.dumps({
        "chosen": [{"role": "user", "content": f"Where is pallet {n}?"},
                   {"role": "assistant", "content": f"In depot {n % 3}."}],
        "rejected": [{"role": "user", "content": f"Where is pallet {n}?"},
                     {"role": "assistant", "content": "No idea."}]}) for n in range(12)))
    rows = read_preference_file(standard)
    assert rows[0]["prompt"] == "Where is pallet 0?" and not rows[0]["conversational"]
    chat_rows = read_preference_file(conversational)  # prompt implicit: TRL's extract_prompt finds it
    assert chat_rows[0]["conversational"] and json.loads(chat_rows[0]["prompt"])[0]["role"] == "user"
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(standard.read_text().splitlines()[0] + "\n" + conversational.read_text().splitlines()[0])
    with pytest.raises(VersionError, match="mixes text and conversational"):
        read_preference_file(mixed)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "p", "chosen": "c"}\n')
    with pytest.raises(VersionError, match="row 1 has no chosen and rejected"):
        read_preference_file(broken)

    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    for name, source in (("plain", rows), ("chat", chat_rows)):
        version = freeze_preference_rows(store, project, source, SplitPlan((0.75, 0.25, 0.0)), name=name)
        out = tmp_path / f"export-{name}"
        export_preference_version(store, version, "jsonl", out)
        data = load_dataset("json", data_files={"train": str(out / "train.jsonl")})["train"]
        trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                             args=DPOConfig(output_dir=str(tmp_path / f"trl-{name}"), max_steps=1, report_to=[],
                                            use_cpu=True, bf16=False, gradient_checkpointing=False,
                                            per_device_train_batch_size=2, disable_tqdm=True),
                             train_dataset=data, processing_class=AutoTokenizer.from_pretrained(tiny_model_dir))
        assert len(trainer.train_dataset) == version.counts["train"]
        trainer.train()
        assert (out / "version.json").exists()


def _pairs_file(tmp_path: Path, count: int = 24) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps({"prompt": f"Where is pallet {n}?\n", "chosen": f"In depot {n % 3}.",
                                          "rejected": "Forecasts beat gut feeling."}) for n in range(count)))
    return path


def small_dpo(**overrides) -> TrainConfig:
    return TrainConfig(**{"objective": "dpo", "max_steps": 40, "batch_size": 4, "learning_rate": 5e-3,
                          "max_prompt_length": 32, "max_completion_length": 32, "eval_steps": 0,
                          "save_steps": 20, "divergence_factor": 0, **overrides})


def test_dpo_trains_in_a_child_and_its_reward_margin_grows(store, settings, project, tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    settings.base_model = str(tiny_model_dir)
    version = freeze_preference_rows(store, project, read_preference_file(_pairs_file(tmp_path)),
                                     SplitPlan((1.0, 0.0, 0.0)), name="prefs")
    manager = RunManager(store, settings)
    with pytest.raises(RunError, match="holds preference pairs.*DPO"):
        manager.create_run(project, "prefs", TrainConfig(max_steps=1), check_memory=False)
    run = manager.wait(manager.create_run(project, version.name, small_dpo()), timeout=300)
    assert run.status == "finished", (Path(run.run_dir) / "worker.log").read_text()[-3000:]
    assert run.method == "dpo"
    adapter = Path(run.run_dir) / "adapter"
    weights = load_file(adapter / "adapter_model.safetensors")
    assert any(name.endswith("lora_B.weight") and tensor.abs().sum() > 0 for name, tensor in weights.items())
    records, _ = read_metrics(Path(run.run_dir))
    margins = [r["rewards/margins"] for r in records if "rewards/margins" in r]
    assert len(margins) == 40
    assert sum(margins[-5:]) / 5 > sum(margins[:5]) / 5 + 0.5, margins
    assert not (adapter / "ref").exists()


def test_sft_versions_are_not_trained_with_dpo(store, settings, tiny_model_dir, tmp_path):
    project, _ = finished_run(store, settings, tiny_model_dir, tmp_path)
    with pytest.raises(RunError, match="DPO trains on preference pairs"):
        RunManager(store, settings).create_run(project, "v1", small_dpo(), check_memory=False)


def test_dpo_from_a_run_then_the_loop_reviews_it_against_its_start(store, settings, reviewed, tmp_path):
    from safetensors.torch import load_file

    from ftstudio.evaluation.generations import EvaluationError
    from ftstudio.run_folder import RunFolder
    from ftstudio.evaluation.compare import review_preference_run
    from ftstudio.evaluation.loop import loop_inputs

    project, run, _, _ = reviewed
    version = freeze_preferences(store, project, name="prefs")  # votes on train-split answers
    manager = RunManager(store, settings)
    config = small_dpo(max_steps=3, from_run=run.id, max_prompt_length=64, save_steps=3)
    dpo = manager.wait(manager.create_run(project, version.name, config), timeout=300)
    assert dpo.status == "finished", (Path(dpo.run_dir) / "worker.log").read_text()[-3000:]
    assert RunFolder(dpo.run_dir).spec.start_run == run.id and dpo.base_model == run.base_model
    trained = load_file(Path(dpo.run_dir) / "adapter" / "adapter_model.safetensors")
    started = load_file(Path(run.run_dir) / "adapter" / "adapter_model.safetensors")
    assert trained.keys() == started.keys()  # the start's adapter trained on, without TRL's frozen "ref" copy
    assert any((trained[name] - started[name]).abs().max() > 0 for name in trained)

    batch, left_out = review_preference_run(store, settings, dpo, backend=FakeBackend())
    assert batch.systems == [dpo.system, run.system, "base"] and left_out == 0
    test_rows = store.version_rows(run.version_id, "test")
    assert {g.item_key for g in batch.generations} == {f"example:{row.example_id}" for row in test_rows}
    assert batch.review.run_id == dpo.id and len(store.review_pairs(batch.review.id)) == 3 * len(test_rows)

    # Preference pairs built from votes on the test split itself: the loop refuses to grade on them.
    test_review = generate_and_review(store, settings, run, backend=FakeBackend(), split="test").review
    vote_by_script(store, test_review, "cleo", lambda key, left, right: "a")
    on_test = freeze_preferences(store, project, PreferenceFilters(review_ids=[test_review.id]),
                                 SplitPlan((1.0, 0.0, 0.0)), name="on-test")
    prepared = store.get_run(manager.create_run(project, on_test.name, small_dpo(from_run=run.id),
                                                check_memory=False, queue=False))
    with pytest.raises(EvaluationError, match="Every test prompt was among the preference pairs"):
        loop_inputs(store, prepared)


def test_judge_verdicts_join_only_from_a_judge_people_can_trust(store, settings, tiny_model_dir, tmp_path,
                                                               chat_server):
    from ftstudio.bench.chat_server import Reply
    from ftstudio.evaluation.judging import make_judge, judge_review

    project, run = finished_run(store, settings, tiny_model_dir, tmp_path, examples=60)
    review = generate_and_review(store, settings, run, backend=FakeBackend()).review
    generations = {g.id: g for g in store.list_generations(project.id)}
    tuned = {g.output for g in generations.values() if g.system == run.system}
    ana_picks: dict[str, str] = {}  # input -> the system ana picked, on the 8 pairs she votes
    for _ in range(8):
        pair = next_pair(store, review, "ana")
        wants = "base" if len(ana_picks) < 2 else run.system
        ana_picks[pair.input] = wants
        tuned_is_a = pair.answer_a in tuned
        vote(store, pair.token, "ana", "a" if tuned_is_a == (wants == run.system) else "b")
    disputed = next(key for key, system in ana_picks.items() if system == run.system)

    def respond(body, before):
        text = body["messages"][-1]["content"]
        first = text.split("[Answer A]\n", 1)[1].split("\n\n[Answer B]", 1)[0]
        wanted_tuned = ana_picks.get(next((key for key in ana_picks if key in text), None), run.system) == run.system
        if disputed in text:
            wanted_tuned = False  # the one pair where the judge and ana disagree
        return Reply("[[A]]" if (first in tuned) == wanted_tuned else "[[B]]")

    judge_review(store, review, make_judge(settings, chat_server(respond).url, "judge-1"))
    pairs = len(store.review_pairs(review.id))
    judge_only = pairs - 8
    without = collect_preferences(store, project, PreferenceFilters())
    assert without.counts == {"human": 8, "judge": 0} and without.left_out["judge_not_asked"] == judge_only
    kappa = without.judges[0]["kappa"]
    assert 0.4 < kappa < 0.9 and without.judges[0]["shared_votes"] == 8
    trusted = collect_preferences(store, project, PreferenceFilters(include_judge=True, min_judge_kappa=0.4))
    assert trusted.counts == {"human": 8, "judge": judge_only}
    judged = [pair for pair in trusted.pairs if pair["source"] == "judge"]
    assert all(pair["chosen"] in tuned and pair["detail"]["judge"].startswith("judge-1") for pair in judged)
    strict = collect_preferences(store, project, PreferenceFilters(include_judge=True, min_judge_kappa=0.9))
    assert strict.counts["judge"] == 0 and strict.left_out["judge_untrusted"] == judge_only
    assert "not used" in strict.describe()

    # A judge that always names the answer shown first flips with the order: its verdicts are ties, never pairs.
    judge_review(store, review, make_judge(settings, chat_server(lambda body, before: Reply("[[A]]")).url, "judge-2"))
    flipping = collect_preferences(store, project, PreferenceFilters(include_judge=True, min_judge_kappa=-1))
    assert flipping.counts == {"human": 8, "judge": 0} and flipping.left_out["judge_tie"] == judge_only
