"""A trained run as an audit subject: the audit's hooks leave its answers as its own evaluation
gives them, and cutting every thought is the run evaluated at stage 0 (no thoughts)."""

import json

import pytest

from latentspace.audit import audit
from latentspace.audit.record import record
from latentspace.tasks import load_jsonl
from latentspace.train.profiles import get_profile
from latentspace.train.recipes import get_recipe
from latentspace.train.run import TrainRun
from latentspace.train.studies.auditable import TrainedSubject
from latentspace.train.studies.evaluate_run import evaluate_run
from latentspace.train.trainer import train


@pytest.fixture(scope="module")
def coconut_run(tmp_path_factory):
    profile = get_profile("smoke-mnns")
    run = tmp_path_factory.mktemp("audit") / "coconut"
    train(TrainRun(get_recipe("coconut", **profile.recipe_options["coconut"]), "mnns", profile, run), progress=False)
    return run


def test_necessity_bounds_are_the_intact_run_and_the_no_thought_run(coconut_run):
    subject = TrainedSubject(coconut_run)
    items = load_jsonl(coconut_run / "data" / "test.jsonl")
    rec = record(subject, items)
    assert rec.slots > 0
    own = evaluate_run(coconut_run)
    assert [r["correct"] for r in rec.rows] == [r["correct"] for r in own.rows]  # observing changes nothing
    full = subject.answer(items, limit=rec.slots)
    assert [r["extracted"] for r in full] == [r["extracted"] for r in rec.rows]
    none = subject.answer(items, limit=0)
    subject.loaded.stage = 0  # Coconut at stage 0: the question, the markers, no thought
    assert subject.thoughts(items) == [0] * len(items)
    assert [r["extracted"] for r in none] == [r["extracted"] for r in subject.answer(items)]


def test_the_per_layer_recording_sits_where_each_thought_was_computed(coconut_run):
    """A Coconut thought is the final-normed last layer at its position: the per-layer stream the audit
    hooks must be exactly that (an off-by-one forward would be the next or previous thought's)."""
    import torch

    subject = TrainedSubject(coconut_run)
    items = load_jsonl(coconut_run / "data" / "test.jsonl")
    rec = record(subject, items, layers=True)
    model, sites = subject.network()
    assert rec.layer_ids == tuple(range(sites.n_layers)) and rec.layers.shape[:3] == (len(items), rec.slots, sites.n_layers)
    has = rec.counts > 0
    with torch.no_grad():
        normed = sites.final_norm(rec.layers[has, 0, -1])
    assert torch.allclose(normed, rec.vectors[has, 0], atol=1e-5)
    assert not torch.allclose(rec.layers[has, 0, 0], rec.layers[has, 0, -1])
    assert [r["correct"] for r in rec.rows] == [r["correct"] for r in record(subject, items).rows]  # hooks change nothing


def test_the_audit_of_a_trained_run_runs_every_test_it_can(coconut_run):
    subject = TrainedSubject(coconut_run)
    items = load_jsonl(coconut_run / "data" / "test.jsonl")[:24]
    report = audit(subject, items)
    assert {"necessity", "decodability", "probe", "interchange", "steer"} <= set(report.results)
    assert report.skipped == {"ood": "no out-of-distribution variant of this task"}
    fitted = [row for row in report.results["probe"] if "gap" in row]
    assert fitted and all(set(row["by_layer"]) == {0, 1} for row in fitted)  # smoke-mnns: 2 layers


def test_the_audit_command_writes_its_report_and_refuses_bad_input_in_one_line(coconut_run, tmp_path, capsys,
                                                                               monkeypatch):
    from tests.cli.test_cli import one_line_exit_2, run_here

    out = tmp_path / "audit"
    result = run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "12", "--tests",
                      "necessity,interchange,ood", "--out", str(out), "--json")
    one_line_exit_2(result, "ood skipped")  # named, it cannot run on MNNS: said after the others ran
    report = json.loads(result.stdout)
    assert set(report["results"]) == {"necessity", "interchange"} and "ood" in report["skipped"]
    assert run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "12").returncode == 0  # all: ood aside
    one_line_exit_2(run_here(capsys, monkeypatch, "audit", "-m", "tiny", "--strategy", "direct", "--task", "arithmetic",
                             "--n", "2"), "no latent thoughts")  # a strategy that does not think in latents
    assert {"report.json", "report.md", "index.html", "necessity.png"} <= {
        p.name for p in out.iterdir()}
    one_line_exit_2(run_here(capsys, monkeypatch, "audit", "-m", str(tmp_path), "--n", "2"), "not a trained run")
    one_line_exit_2(run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--tests", "vibes"), "vibes")
    assert not (tmp_path / "nothing").exists()


def test_a_saved_probe_reads_every_thought_and_one_of_another_model_is_refused_after_the_others_ran(
        coconut_run, tmp_path, capsys, monkeypatch):
    import torch

    from latentspace.audit.probe import thought_labels
    from latentspace.lens.probes import LinearProbe, fit_probe
    from tests.cli.test_cli import one_line_exit_2, run_here

    out = tmp_path / "first"
    result = run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "24", "--tests", "probe",
                      "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    saved = sorted(p.name for p in (out / "probes").iterdir())
    assert saved and saved[0] == "thought-1.safetensors"
    subject = TrainedSubject(coconut_run)
    probe, meta = LinearProbe.load_with_meta(out / "probes" / saved[0], subject.fingerprint)
    assert meta["site"] == "thought"

    # a probe fitted by hand on layer 0's stream at thought 1, saved like `probe fit` saves one
    items = load_jsonl(coconut_run / "data" / "test.jsonl")[:24]
    rec = record(subject, items, layers=True)
    rows, gold = thought_labels(items, rec, 0)
    layer_probe, _ = fit_probe(rec.layers[rows, 0, 0], gold, task="classification")
    layer_probe.save(tmp_path / "layer0.safetensors", subject.fingerprint, {"site": "resid_post", "layer": 0,
                                                                           "position": "last"})
    for path, x in ((out / "probes" / saved[0], rec.vectors[rows, 0]), (tmp_path / "layer0.safetensors",
                                                                        rec.layers[rows, 0, 0])):
        result = run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "24", "--tests", "necessity",
                          "--probe", str(path), "--json")
        assert result.returncode == 0, result.stderr
        first = json.loads(result.stdout)["results"]["saved probe"][0]
        loaded = LinearProbe.load(path, subject.fingerprint)
        read = loaded.predict(x)
        hits = [abs(float(r) - float(g)) < 0.5 if loaded.task == "regression" else r == g
                for r, g in zip(read.tolist() if loaded.task == "regression" else read, gold)]
        assert first["thought"] == 1 and first["reads_gold"] == sum(hits) / len(hits)  # read where it was fitted

    other = dict(subject.fingerprint, embed_sha256="0" * 16)  # the same probe, as if saved from another model
    probe.save(tmp_path / "other.safetensors", other, meta)
    result = run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "24", "--tests", "necessity",
                      "--probe", str(tmp_path / "other.safetensors"), "--out", str(tmp_path / "second"))
    one_line_exit_2(result, "--probe")
    report = json.loads((tmp_path / "second" / "report.json").read_text())
    assert "necessity" in report["results"] and "saved probe" in report["skipped"]
    assert torch.isfinite(rec.layers).all()


def test_decodability_reads_every_layer_and_the_last_is_the_head_through_a_tuned_lens_too(coconut_run, tmp_path,
                                                                                         capsys, monkeypatch):
    from latentspace.lens.tuned_lens import TunedLens
    from tests.cli.test_cli import one_line_exit_2, run_here

    subject = TrainedSubject(coconut_run)
    _, sites = subject.network()
    hidden = sites.embed.weight.shape[-1]
    TunedLens(sites.n_layers, hidden, subject.fingerprint).save(tmp_path / "identity.safetensors")  # zero translators
    result = run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "24", "--tests", "decodability",
                      "--lens", str(tmp_path / "identity.safetensors"), "--json")
    assert result.returncode == 0, result.stderr
    rows = [r for r in json.loads(result.stdout)["results"]["decodability"] if r["n"]]
    last = str(sites.n_layers - 1)
    assert rows and all(abs(r["by_layer"][last] - r["top3"]) < 1e-6 for r in rows)  # the head reads the last layer
    assert all(r["by_layer_tuned"] == r["by_layer"] for r in rows)  # an identity lens changes no reading

    TunedLens(sites.n_layers, hidden, dict(subject.fingerprint, embed_sha256="0" * 16)).save(tmp_path / "other.safetensors")
    out = tmp_path / "report"
    result = run_here(capsys, monkeypatch, "audit", "-m", str(coconut_run), "--n", "24", "--tests", "decodability",
                      "--lens", str(tmp_path / "other.safetensors"), "--out", str(out))
    one_line_exit_2(result, "--lens")
    report = json.loads((out / "report.json").read_text())
    assert "decodability" in report["results"] and "tuned lens" in report["skipped"]
