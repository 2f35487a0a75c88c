"""The Hugging Face Spaces deployment: the folder spaces/build.sh makes, its metadata and requirements, ZeroGPU,
and the sign-in with Hugging Face read from the server-side session."""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib
import types
from pathlib import Path

import gradio as gr
import yaml
from starlette.requests import Request as StarletteRequest

from ftstudio.access import AccessPolicy, OAuthRules
from ftstudio.spaces_gpu import gpu
from ftstudio.ui.handlers import Guard

ROOT = Path(__file__).resolve().parent.parent


def front_matter(readme: Path) -> dict:
    text = readme.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_the_space_folder_has_what_a_gradio_space_needs(tmp_path):
    out = tmp_path / "space"
    subprocess.run(["sh", str(ROOT / "spaces" / "build.sh"), str(out)], check=True, capture_output=True)
    meta = front_matter(out / "README.md")
    assert meta["sdk"] == "gradio" and (out / meta["app_file"]).exists()
    assert meta["hf_oauth"] is True and meta["hf_oauth_authorized_org"] and meta["suggested_hardware"]
    assert meta["sdk_version"].split(".")[0] == gr.__version__.split(".")[0]
    assert (out / "ftstudio" / "ui" / "app.py").exists() and (out / "packages.txt").exists()
    required = [line.strip() for line in (out / "requirements.txt").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert set(declared) <= set(required), set(declared) - set(required)
    assert any(line.startswith("spaces") for line in required)
    # The app file imports from the folder as it is, with no install step of its own.
    check = subprocess.run([sys.executable, "-c", "import app"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr[-2000:]


def test_gpu_is_spaces_gpu_on_zero_gpu_and_nothing_elsewhere(monkeypatch):
    def answer():
        return 42

    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert gpu(duration=30)(answer) is answer
    lent = []
    fake = types.ModuleType("spaces")  # the `spaces` package's decorator protocol: GPU(duration=...)(fn)
    fake.GPU = lambda duration: (lambda fn: lent.append(duration) or (lambda *a, **k: ("on gpu", fn(*a, **k))))
    monkeypatch.setitem(sys.modules, "spaces", fake)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert gpu(duration=30)(answer)() == ("on gpu", 42) and lent == [30]


def test_zero_gpu_switches_compiled_training_off(monkeypatch):
    from ftstudio.training.config import TrainConfig
    from ftstudio.training.device import Precision
    from ftstudio.training.sft_trainer import compile_decision

    import torch

    precision = Precision(dtype=torch.float32, bf16=False, fp16=False, gradient_checkpointing=False, cuda=True,
                          device="H200", why="")
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    compiled, why = compile_decision(TrainConfig(compile="on"), precision, 1000)
    assert not compiled and "ZeroGPU" in why


def session_request(session: dict | None, body_token: str | None = None) -> gr.Request:
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/queue/join", "headers": [], "query_string": b""}
    if session is not None:
        scope["session"] = session
    return gr.Request(request=StarletteRequest(scope))


def test_the_hugging_face_identity_comes_from_the_session_only():
    guard = Guard(None, AccessPolicy("oauth", oauth=OAuthRules(users={"ada": "admin"})))
    signed_in = {"oauth_info": {"userinfo": {"preferred_username": "ada"}, "expires_at": time.time() + 60}}
    assert guard.caller(session_request(signed_in)).role == "admin"
    expired = {"oauth_info": {"userinfo": {"preferred_username": "ada"}, "expires_at": time.time() - 1}}
    assert guard.caller(session_request(expired)).role == "none"
    assert guard.caller(session_request({})).role == "none"
    assert guard.caller(session_request(None)).role == "none"  # no session middleware at all
    assert guard.caller(None).role == "none"
