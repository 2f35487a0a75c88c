"""Which engine generates review answers and the local judge's verdicts. vLLM itself cannot run here (no GPU, not
installed): this tests the choice only; the vLLM path is measured by `ftstudio doctor --gpu` on a GPU host."""

import pytest

from ftstudio.evaluation.worker import pick_backend


@pytest.mark.parametrize("choice, installed, gpu, picked", [
    ("auto", True, True, "vllm"),  # the default on a GPU host with vLLM
    ("auto", True, False, "transformers"),  # auto picks vLLM on a GPU only
    ("auto", False, True, "transformers"),
    ("transformers", True, True, "transformers"),
    ("vllm", True, False, "vllm"),  # asked for by name: honoured
])
def test_the_backend_follows_the_choice_the_install_and_the_gpu(choice, installed, gpu, picked):
    assert pick_backend(choice, vllm_installed=installed, gpu=gpu) == picked


def test_asking_for_vllm_without_it_says_what_to_do():
    with pytest.raises(RuntimeError, match="pip install vllm"):
        pick_backend("vllm", vllm_installed=False, gpu=True)


def test_here_auto_is_transformers():
    assert pick_backend("auto") == "transformers"  # this machine: no vllm, no GPU
