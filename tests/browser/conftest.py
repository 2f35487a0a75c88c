"""Playwright in Debian's headless Chromium (never a downloaded browser: there is no network)."""

import os
import shutil

import pytest

from pathlib import Path

SHOTS = Path(os.environ.get("FTSTUDIO_SCREENSHOTS", "screenshots"))
SHOTS.mkdir(exist_ok=True)
CHROMIUM = os.environ.get("FTSTUDIO_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium package.")
        pytest.skip("Chromium not installed: `apt-get install chromium` (CI does this) to run the browser tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def open_app(page, url: str) -> None:
    """Load the app and wait until its on-load events have filled the item caption.

    Not `networkidle`: Gradio keeps its event stream open while a page holds gr.State,
    so the network is never idle; waiting for what the load events render is exact.
    """
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("document.querySelector('#item-caption')?.innerText.trim().length > 0")


def record_finished_run(store, settings, base_model_dir, project, version_name: str):
    """A finished run of `version_name` recorded without training (its adapter random, as in
    tests/evaluation_fixtures.finished_run), for a test whose subject is not training."""
    from datetime import datetime

    from ftstudio.training.config import TrainConfig
    from ftstudio.training.folders import write_status
    from ftstudio.training.manager import RunManager
    from tests.evaluation_fixtures import random_adapter

    settings.base_model = str(base_model_dir)
    run_id = RunManager(store, settings).create_run(project, version_name, TrainConfig(max_steps=1),
                                                    check_memory=False, queue=False)
    run = store.get_run(run_id)
    random_adapter(base_model_dir, Path(run.run_dir) / "adapter", seed=run_id)
    write_status(Path(run.run_dir), "finished", step=1, max_steps=1)
    store.update_run(run_id, status="finished", step=1, max_steps=1, finished_at=datetime.now())
    return store.get_run(run_id)
