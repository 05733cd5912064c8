"""The Latent Explorer in a real browser (Debian chromium driven by playwright).

Saves a screenshot to test-artifacts/explorer.png. Chromium comes from the set-up (`make test`
installs the Debian package); without it this test fails, it does not skip.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.serve.conftest import running

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), "no chromium: run `make setup` (it installs the Debian package)"
    with running(tmp_path) as r, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1366, "height": 900})
            errors = []
            tab.on("pageerror", lambda err: errors.append(str(err)))
            tab.goto(r.url + "/")
            tab.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=30_000)
            yield r, tab, errors
        finally:
            browser.close()


def test_explorer_answers_and_draws_the_latent_space(page):
    r, tab, errors = page
    prompt = "What is the capital of France?"
    tab.fill("#prompt", prompt)
    tab.select_option("#strategy", "soft")
    tab.fill("#steps", "4")
    tab.fill("#max-tokens", "12")
    tab.focus("#prompt")
    tab.keyboard.press("Control+Enter")  # keyboard-friendly: no mouse needed
    tab.wait_for_function("document.getElementById('status').textContent === 'done'", timeout=60_000)
    tab.wait_for_selector("#heatmap .cell", timeout=30_000)
    answer = tab.inner_text("#answer")
    assert answer.strip() and "error" not in tab.get_attribute("#answer", "class")
    usage = tab.inner_text("#usage")
    assert "4 latent steps" in usage and "positions" in usage  # the usage chunk and the finish summary
    # the timeline shows every latent step the strategy took
    assert tab.locator("#timeline .step.latent").count() == 4
    assert tab.locator("#timeline .step.explicit").count() >= 1
    # the heatmap has one cell per layer and prompt position, as the lens reads it
    with r.client() as http:
        lens = http.post("/v1/lens", json={"text": prompt, "chat": True}).json()
    assert tab.locator("#heatmap .cell").count() == r.lm.n_layers * len(lens["positions"])
    assert tab.locator("#legend .bar").count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "explorer.png"), full_page=True)
    assert (ARTIFACTS / "explorer.png").stat().st_size > 10_000
    assert errors == []


def test_explorer_steering_slider_changes_the_completion(page):
    r, tab, errors = page
    from tests.serve.test_native import PAIRS

    with r.client() as http:
        assert http.post("/v1/vectors", json={"id": "mood", "pairs": PAIRS, "layers": [0, 1]}).status_code == 201
    tab.reload()
    tab.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=30_000)
    tab.fill("#prompt", "How was your day?")
    tab.fill("#strength", "16")
    tab.dispatch_event("#strength", "input")
    tab.wait_for_function("document.getElementById('steered-out').textContent.length > 0", timeout=30_000)
    assert tab.inner_text("#plain-out") != tab.inner_text("#steered-out")
    assert errors == []


def test_explorer_agents_view_and_memory_list(page):
    r, tab, errors = page
    tab.fill("#prompt", "What is 2 plus 3?")
    tab.click("#run-agents")
    tab.wait_for_selector("#agents li.turn", timeout=60_000)
    turns = tab.locator("#agents li.turn")
    assert turns.count() == 4  # the built-in sequential pipeline: planner, critic, refiner, solver
    assert "received" in turns.nth(1).inner_text() and "planner" in turns.nth(1).inner_text()
    # audit the prompt's thoughts: one row per latent step (the Ask panel's strategy and steps)
    tab.select_option("#strategy", "continuous")
    tab.fill("#steps", "2")
    tab.click("#run-audit")
    tab.wait_for_selector("#audit td:has-text('1')", timeout=60_000)
    assert tab.locator("#audit tr").count() == 4  # the answer, the header, two thoughts
    # sample thought paths: the header, the greedy path, N sampled ones, exactly one selected (★)
    tab.fill("#search-sampler", "noise:2")
    tab.fill("#search-samples", "3")
    tab.click("#run-search")
    tab.wait_for_selector("#search td:has-text('greedy')", timeout=60_000)
    assert tab.locator("#search tr").count() == 5 and tab.locator("#search tr.selected").count() == 1
    # a probe copied into the data directory is listed and read at every thought
    import torch

    from latentspace.lens.probes import fit_linear

    fit_linear(torch.randn(8, r.lm.hidden_size), ["a", "b"] * 4, "classification").save(
        r.app.state.server.library.probe_dir / "mood.safetensors", r.lm.fingerprint, {"site": "thought", "thought": 1})
    tab.reload()
    tab.wait_for_function("document.getElementById('status').textContent === 'ready'", timeout=30_000)
    tab.fill("#prompt", "What is 2 plus 3?")
    tab.select_option("#strategy", "continuous")
    tab.fill("#steps", "2")
    tab.select_option("#audit-probe", "mood")
    tab.click("#run-audit")
    tab.wait_for_selector("#audit th:has-text('mood reads')", timeout=60_000)
    assert tab.locator("#audit tr").count() == 4
    # remember a document, see it listed, answer from it
    tab.fill("#memory-text", "The code word is heliotrope.")
    tab.click("#memory-form button[type=submit]")
    tab.wait_for_selector("#memories tbody tr", timeout=60_000)
    assert tab.locator("#memories tbody tr").count() == 1
    tab.check(".use-memory")
    tab.select_option("#strategy", "")
    tab.fill("#prompt", "What is the code word?")
    tab.click("#run")
    tab.wait_for_function("document.getElementById('status').textContent === 'done'", timeout=60_000)
    assert tab.inner_text("#answer").strip()
    with r.client() as http:
        assert len(http.get("/v1/memories").json()["data"]) == 1
    assert errors == []
