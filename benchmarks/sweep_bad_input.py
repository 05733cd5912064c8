"""A hostile-input sweep (issue 18): a fixed list of bad inputs across the CLI, the memory store, the
server and the numerics, each checked for the promises the README makes.

Per case: the exit code (CLI) or HTTP status (server); whether a traceback appeared; whether the
JSON printed, written or served is strict RFC 8259 (no NaN/Infinity); a silent NaN (exit 0 with a
nan/inf in the output, or a saved .safetensors holding non-finite values); a file written, changed
or deleted outside the paths the case asked for (each case runs in its own sandbox folder with a
victim file, and the shared inputs are snapshotted too); a file left behind by a failed command; more
than one line on stderr for an exit 2; a 5xx; and the outcome against the expected one (a bad value
must be refused, exit 2 / HTTP 4xx). The cases are listed below, grouped, in `cases()`.

CLI cases run in this process (as `tests/cli/test_hostile.py`: no import cost per case), a few that
need a real non-UTF-8 argv as subprocesses; the server runs in-process (FastAPI's TestClient) on the
tiny model. Every case is bounded by an alarm (unbounded work is a failure, not a hang).

    .venv/bin/python benchmarks/sweep_bad_input.py            # print the table and the failures
    .venv/bin/python benchmarks/sweep_bad_input.py --write    # ... and its section of docs/results.md
    .venv/bin/python benchmarks/sweep_bad_input.py --only memory --verbose
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_md import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SURROGATE = os.fsdecode(b"\xff")  # a non-UTF-8 argv byte, as Python hands it on
LONG = "the cat sat on the mat " * 200  # ~4600 characters: far past the tiny model's 1024 positions
CASE_SECONDS = 60  # a case still running after this is unbounded work
TINY = ["-m", "tiny"]


# ---- what a case is and what it found --------------------------------------------------------------


@dataclass
class Case:
    area: str  # memory | training | server | model (the report's grouping)
    group: str  # a readable category
    name: str  # what is tried (the command or request, short)
    prepare: Callable  # (Sandbox) -> a callable that runs the case and returns its Outcome
    expect: str = "refused"  # refused (exit 2 / 4xx) | ok (exit 0 / 2xx) | either (0 or 2, 2xx or 4xx)


@dataclass
class Outcome:
    code: int | None = None  # exit code, or HTTP status
    http: bool = False
    stdout: str = ""
    stderr: str = ""
    traceback: bool = False
    strict_json: bool | None = None  # None: no JSON to check
    problems: list[str] = field(default_factory=list)  # case-specific findings
    seconds: float = 0.0


@dataclass
class Result:
    case: Case
    out: Outcome
    traceback: bool = False
    silent_nan: bool = False
    outside: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    server_error: bool = False
    bad_json: bool = False
    multiline: bool = False
    unexpected: bool = False

    @property
    def failures(self) -> list[str]:
        f = []
        if self.traceback:
            f.append("traceback")
        if self.silent_nan:
            f.append("silent NaN")
        if self.server_error:
            f.append(f"HTTP {self.out.code}")
        if self.outside:
            f.append("outside writes: " + ", ".join(self.outside[:3]))
        if self.left:
            f.append("left on failure: " + ", ".join(self.left[:3]))
        if self.bad_json:
            f.append("non-strict JSON")
        if self.multiline:
            f.append("multi-line stderr")
        if self.unexpected:
            f.append(f"expected {self.case.expect}, got {self.out.code}")
        return f + self.out.problems


# ---- sandboxes and snapshots -----------------------------------------------------------------------


class Sandbox:
    """One case's folder: ``work`` (the cwd), ``out`` (where requested outputs go), a victim file,
    and the shared inputs. `want(name)` names a requested output path; anything else that changes
    is an outside write."""

    def __init__(self, root: Path, inputs: dict):
        self.root = root
        self.work = root / "work"
        self.out = root / "out"
        self.work.mkdir(parents=True)
        self.out.mkdir()
        self.victim = root / "victim.txt"
        self.victim.write_text("do not delete me\n")
        (root / "victim_dir").mkdir()
        (root / "victim_dir" / "keep.txt").write_text("keep\n")
        (self.out / "a_folder").mkdir()
        (self.out / "a_file").write_text("x")
        self.inputs = inputs
        self.requested: list[Path] = []

    def want(self, name: str) -> str:
        path = self.out / name
        self.requested.append(path)
        return str(path)

    def store(self, name: str = "store") -> Path:
        """A copy of the prepared memory store (requested: the command may change it)."""
        path = self.out / name
        shutil.copytree(self.inputs["store"], path, symlinks=True)
        self.requested.append(path)
        return path

    def is_requested(self, path: Path) -> bool:
        """A requested path, inside one, or a folder made for one (its missing parent)."""
        return any(path == r or r in path.parents or (path in r.parents and self.out in path.parents)
                   for r in self.requested)


def snapshot(*folders: Path) -> dict[str, tuple]:
    """path -> (kind, size, mtime) of everything under the folders (links not followed)."""
    seen = {}
    for folder in folders:
        if not folder.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(folder):
            for name in dirnames + filenames:
                p = Path(dirpath) / name
                st = p.lstat()
                kind = "link" if p.is_symlink() else "dir" if p.is_dir() else "file"
                seen[str(p)] = (kind, 0 if kind == "dir" else st.st_size, 0 if kind == "dir" else st.st_mtime_ns)
    return seen


def changed(before: dict, after: dict) -> list[str]:
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


# ---- checks ----------------------------------------------------------------------------------------


def strict_loads(text: str):
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def json_is_strict(text: str) -> bool | None:
    """None when ``text`` is not JSON at all; else whether it parses strictly."""
    try:
        json.loads(text)
    except ValueError:
        return None
    try:
        strict_loads(text)
        return True
    except ValueError:
        return False


NAN_TEXT = re.compile(r"(?<![A-Za-z])(nan|NaN|-?inf|-?Infinity)(?![A-Za-z])")


def nonfinite_file(path: Path) -> bool:
    """A written tensor or JSON file holding NaN/inf."""
    try:
        if path.suffix == ".safetensors":
            import torch
            from safetensors.torch import load_file

            return any(t.is_floating_point() and not bool(torch.isfinite(t).all()) for t in load_file(str(path)).values())
        if path.suffix in (".json", ".jsonl"):
            text = path.read_text()
            lines = text.splitlines() if path.suffix == ".jsonl" else [text]
            return any(json_is_strict(line) is False for line in lines if line.strip())
    except Exception:  # noqa: BLE001 - an unreadable file is not a NaN finding (a torn file shows elsewhere)
        return False
    return False


# ---- running one CLI command in this process -------------------------------------------------------


class CaseTimeout(BaseException):
    """Raised by the alarm: the case ran past CASE_SECONDS."""


def _alarm(signum, frame):
    raise CaseTimeout()


def run_cli_here(args: list[str], cwd: Path, stdin: str = "") -> Outcome:
    from latentspace.cli.app import main

    out, err = io.StringIO(), io.StringIO()
    argv, here, old_stdin = sys.argv, os.getcwd(), sys.stdin
    sys.argv = ["latentspace", *map(str, args)]
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode("utf-8")), encoding="utf-8")
    os.chdir(cwd)
    outcome = Outcome()
    started = time.monotonic()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                outcome.code = 0
            except SystemExit as exit_:
                outcome.code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except CaseTimeout:
        outcome.code = None
        outcome.problems.append(f"still running after {CASE_SECONDS} s (unbounded work)")
    except Exception:  # noqa: BLE001 - an exception escaping main() is exactly what the sweep looks for
        outcome.code = 1
        outcome.traceback = True
        err.write(traceback.format_exc())
    finally:
        signal.alarm(0)
        sys.argv, sys.stdin = argv, old_stdin
        os.chdir(here)
    outcome.seconds = time.monotonic() - started
    outcome.stdout, outcome.stderr = out.getvalue(), err.getvalue()
    return outcome


def run_cli_subprocess(args: list, cwd: Path) -> Outcome:
    """A real argv (bytes that are not UTF-8 reach Python as the OS hands them on)."""
    cmd = [sys.executable, "-m", "latentspace.cli.app", *[a if isinstance(a, bytes) else str(a) for a in args]]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, cwd=cwd, timeout=CASE_SECONDS + 30,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    except subprocess.TimeoutExpired:
        return Outcome(code=None, problems=["still running (unbounded work)"])
    return Outcome(code=proc.returncode, stdout=proc.stdout.decode("utf-8", "replace"),
                   stderr=proc.stderr.decode("utf-8", "replace"), seconds=time.monotonic() - started)


def cli(area: str, group: str, *args, expect: str = "refused", setup: Callable | None = None,
        check: Callable | None = None, argv: bool = False, name: str | None = None, stdin: str = "") -> Case:
    """A CLI case. ``args`` items may be callables of the Sandbox (for paths made per case);
    ``setup(sb)`` runs first, ``check(sb, outcome)`` returns extra problems."""

    def prepare_(sb: Sandbox) -> Callable[[], Outcome]:
        if setup:
            setup(sb)
        real = [a(sb) if callable(a) else a for a in args]

        def run() -> Outcome:
            outcome = run_cli_subprocess(real, sb.work) if argv else run_cli_here(real, sb.work, stdin)
            if check:
                outcome.problems.extend(p for p in check(sb, outcome) if p)
            return outcome
        return run

    shown = name or " ".join(_show(a) for a in args)
    return Case(area, group, shown, prepare_, expect)


def _show(arg) -> str:
    if callable(arg):
        return getattr(arg, "label", "PATH")
    if isinstance(arg, bytes):
        return repr(arg)
    text = str(arg)
    if len(text) > 40:
        text = f"<{len(text)} chars>"
    return repr(text) if (not text or " " in text or not text.isprintable()) else text


# path helpers: each is a callable of the sandbox with a label for the table

def inp(key: str):
    f = lambda sb: str(sb.inputs[key])  # noqa: E731
    f.label = f"<{key}>"
    return f


def want(name: str):
    f = lambda sb: sb.want(name)  # noqa: E731
    f.label = f"OUT/{name}"
    return f


def store(name: str = "store"):
    f = lambda sb: str(sb.store(name))  # noqa: E731
    f.label = "STORE"
    return f


def outpath(rel: str, label: str | None = None):
    """A path under out/ that is NOT a requested output (a bad destination: nothing may appear)."""
    f = lambda sb: str(sb.out / rel)  # noqa: E731
    f.label = label or f"OUT/{rel}"
    return f


def victim_path():
    f = lambda sb: str(sb.victim)  # noqa: E731
    f.label = "VICTIM"
    return f


# ---- crafted memory stores -------------------------------------------------------------------------


def crafted_store(sb: Sandbox, edit: Callable[[Path, sqlite3.Connection, str], None]) -> Path:
    """A copy of the prepared store whose index (or blobs) ``edit`` changes."""
    path = sb.store()
    db = sqlite3.connect(path / "index.sqlite")
    memory_id = db.execute("SELECT id FROM memories").fetchone()[0]
    edit(path, db, memory_id)
    db.commit()
    db.close()
    return path


def blob_row(value_of: Callable[[Sandbox], str]):
    def setup(sb):
        crafted_store(sb, lambda p, db, mid: db.execute("UPDATE memories SET blob = ?", (value_of(sb),)))
    return setup


def symlink_blob(sb):
    def edit(path, db, mid):
        blob = path / "blobs" / db.execute("SELECT blob FROM memories").fetchone()[0]
        blob.unlink()
        blob.symlink_to(sb.victim)
    crafted_store(sb, edit)


def set_column(column: str, value):
    def setup(sb):
        crafted_store(sb, lambda p, db, mid: db.execute(f"UPDATE memories SET {column} = ?", (value,)))
    return setup


def store_without_index(sb):
    path = sb.store()
    for name in ("index.sqlite", "index.sqlite-wal", "index.sqlite-shm"):
        (path / name).unlink(missing_ok=True)


def store_with_empty_index(sb):
    crafted_store(sb, lambda p, db, mid: db.execute("DELETE FROM memories"))


def dir_in_blobs(sb):
    path = sb.store()
    (path / "blobs" / "adir").mkdir()
    (path / "blobs" / "adir" / "inner.txt").write_text("x")


def symlinked_dir_in_blobs(sb):
    path = sb.store()
    (path / "blobs" / "linkdir").symlink_to(sb.root / "victim_dir", target_is_directory=True)


def symlinked_stray_file(sb):
    path = sb.store()
    (path / "blobs" / "stray.safetensors").symlink_to(sb.victim)


def victim_intact(sb, outcome):
    problems = []
    if not sb.victim.exists() or sb.victim.read_text() != "do not delete me\n":
        problems.append("VICTIM FILE DELETED OR CHANGED")
    if not (sb.root / "victim_dir" / "keep.txt").exists():
        problems.append("victim folder emptied")
    return problems


def nothing_deleted_without_force(sb, outcome):
    blobs = sb.out / "store" / "blobs"
    left = [p for p in blobs.iterdir()] if blobs.exists() else []
    return [] if left else ["gc deleted every blob of a store whose index was missing/empty"]


def store_not_created(where: str):
    def check(sb, outcome):
        return [f"created a store at {where}"] if (sb.out / where).exists() else []
    return check


def no_raw_escape(sb, outcome):
    return ["printed a raw ANSI escape from a title"] if "\x1b[" in outcome.stdout else []


def ansi_title_store(sb):
    crafted_store(sb, lambda p, db, mid: db.execute("UPDATE memories SET title = ?", ("\x1b[2J\x1b[31mred",)))


def nan_key_store(sb):
    def edit(path, db, mid):
        n = len(db.execute("SELECT retrieval_key FROM memories").fetchone()[0])
        db.execute("UPDATE memories SET retrieval_key = ?", (b"\x00\x00\xc0\x7f" * (n // 4),))  # float32 NaN
    crafted_store(sb, edit)


def mentions(word: str):
    def check(sb, outcome):
        return [] if word in outcome.stderr else [f"message does not name {word!r}"]
    return check


def no_tmp_files(sb, outcome):
    leftovers = [p.name for p in sb.out.rglob("*") if p.name.endswith(".tmp") or ".tmp" in p.name]
    return [f"temp file left: {leftovers[0]}"] if leftovers else []


def bench_torn_row(sb):
    folder = sb.out / "bench"
    out = run_cli_here(["bench", "--task", "arithmetic", "--strategies", "direct", "--n", "2", *TINY, "--out",
                        str(folder), "--set", "max_new_tokens=2"], sb.work)
    if out.code != 0:
        raise RuntimeError(f"bench setup failed: {out.stderr[-300:]}")
    rows = next(folder.glob("rows*.jsonl"))
    rows.write_text(rows.read_text().splitlines()[0] + "\n" + '{"task": "arith')
    sb.requested.append(folder)


# ---- the server --------------------------------------------------------------------------------------


class Served:
    """The server on the tiny model, in this process, over a prepared data dir (made once)."""

    def __init__(self, data_dir: Path, api_key: str | None = None):
        from fastapi.testclient import TestClient

        from latentspace.model.latent_model import LatentModel
        from latentspace.serve import ServeConfig, create_app

        self.lm = LatentModel.load("tiny", show_progress=False)
        app = create_app([self.lm], ServeConfig(data_dir=data_dir, api_key=api_key, max_tokens_limit=64,
                                                request_timeout=60))
        self.client = TestClient(app, raise_server_exceptions=False)
        self.client.__enter__()

    def close(self):
        self.client.__exit__(None, None, None)


SERVERS: dict[str, Served] = {}


def http(group: str, name: str, method: str, path: str, body=None, raw: bytes | None = None,
         expect: str = "refused", headers: dict | None = None, server: str = "main",
         check: Callable | None = None, stream: bool = False) -> Case:
    def run(sb: Sandbox) -> Outcome:
        client = SERVERS[server].client
        started = time.monotonic()
        kw = {"headers": {"content-type": "application/json", **(headers or {})}}
        if raw is not None or body is not None:
            kw["content"] = raw if raw is not None else json.dumps(body).encode()
        outcome = Outcome(http=True)
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(CASE_SECONDS)
        try:
            if stream:
                with client.stream(method, path, **kw) as res:
                    outcome.code = res.status_code
                    lines = list(res.iter_lines())
                datas = [ln[6:] for ln in lines if ln.startswith("data: ") and ln != "data: [DONE]"]
                outcome.stdout = "\n".join(datas)
                verdicts = [json_is_strict(d) for d in datas]
                outcome.strict_json = None if not datas else all(v is True for v in verdicts)
            else:
                res = client.request(method, path, **kw)
                outcome.code = res.status_code
                outcome.stdout = res.text
                outcome.strict_json = json_is_strict(res.text) if res.text.strip() else None
        except CaseTimeout:
            outcome.problems.append(f"request still running after {CASE_SECONDS} s")
        finally:
            signal.alarm(0)
        outcome.traceback = "Traceback" in outcome.stdout
        outcome.seconds = time.monotonic() - started
        if check:
            outcome.problems.extend(p for p in check(outcome) if p)
        return outcome

    return Case("server", group, name, lambda sb: lambda: run(sb), expect)


def error_type_is_not(kind: str):
    def check(outcome):
        try:
            got = json.loads(outcome.stdout)["error"]["type"]
        except (ValueError, KeyError, TypeError):
            return ["no error object"]
        return [f"error typed {kind}"] if got == kind else []
    return check


def body_mentions(word: str):
    return lambda outcome: [] if word in outcome.stdout else [f"error does not name {word!r}"]


def listed_only_if_usable(kind: str, name: str, path: str):
    """An object the server lists must be loadable: listed-then-failing is a finding."""
    def check(outcome):
        listing = SERVERS["main"].client.get(path)
        try:
            listed = any(o.get("id") == name and o.get("usable", True) for o in listing.json().get(kind, []))
        except (ValueError, AttributeError):
            listed = False
        return [f"{name} listed as usable by GET {path} but refused on use"] if listed and outcome.code >= 400 else []
    return check


def chat(content="hi", **extra):
    return {"model": "tiny", "max_tokens": 3, "messages": [{"role": "user", "content": content}], **extra}


def completion(prompt="hi", **extra):
    return {"model": "tiny", "max_tokens": 3, "prompt": prompt, **extra}


# ---- prepared inputs (made once) ------------------------------------------------------------------------


def prepare(root: Path) -> dict:
    """Good inputs made by the CLI itself, bad ones written by hand next to them."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    f: dict = {}
    root.mkdir(parents=True, exist_ok=True)
    work = root / "work"
    work.mkdir()

    def write(name, text):
        f[name.split(".")[0]] = root / name
        (root / name).write_text(text)

    write("pairs.jsonl", "\n".join(json.dumps({"positive": f"good thing {i}", "negative": f"bad thing {i}"})
                                   for i in range(4)))
    write("doc.txt", "Project notes\nthe red fox lives in the old forest by the river\n")
    write("prompts.txt", "hello\nhow are you\n")
    write("probe_data.jsonl", "\n".join(json.dumps({"text": f"{w} {i}", "label": w}) for i in range(6) for w in "ab"))
    write("huge_labels.jsonl", "\n".join(json.dumps({"text": f"n {i}", "label": (-1) ** i * 1e300 * i})
                                         for i in range(12)))
    write("config.yaml", "epochs: 1\nn_train: 4\n")
    write("config_list.yaml", "- 1\n- 2\n")
    write("config_nested.yaml", "epochs: {a: 1}\n")
    write("task.jsonl", "\n".join(json.dumps({"question": f"{i}+1=?", "answer": str(i + 1)}) for i in range(4)))
    write("pipeline.yaml", "agents:\n  - name: a\n    role: think\n  - name: b\n    role: answer\n")
    write("empty.txt", "")
    write("blank.txt", "  \n\n")
    (root / "not_utf8.txt").write_bytes(b"caf\xe9 \xff\xfe some text\n")
    (root / "not_utf8.jsonl").write_bytes(b'{"positive": "caf\xe9", "negative": "b"}\n')
    (root / "not_utf8.yaml").write_bytes(b"epochs: 1\n# caf\xe9\n")
    (root / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (root / "binary.yaml").write_bytes(b"\x00\x01\x02\xff\xfe" * 100)
    (root / "binary.jsonl").write_bytes(b"\x00\x01\x02\xff\xfe" * 100)
    (root / "folder").mkdir()
    f.update(not_utf8=root / "not_utf8.txt", not_utf8_jsonl=root / "not_utf8.jsonl",
             not_utf8_yaml=root / "not_utf8.yaml", binary=root / "binary.bin", binary_yaml=root / "binary.yaml",
             binary_jsonl=root / "binary.jsonl", folder=root / "folder", missing=root / "missing.txt", work=work)

    def run(*args):
        out = run_cli_here([str(a) for a in args], work)
        if out.code != 0:
            raise RuntimeError(f"preparing inputs: {' '.join(map(str, args))}: {out.stderr[-500:]}")
        return out

    f["vector"] = root / "v.safetensors"
    run("steer", "train", "--pairs", f["pairs"], *TINY, "--layers", "1", "--out", f["vector"])
    f["gguf"] = root / "v.gguf"
    run("steer", "export-gguf", f["vector"], f["gguf"], *TINY)
    f["lens"] = root / "lens.safetensors"
    run("lens", "train", *TINY, "--out", f["lens"], "--steps", "1", "--text", f["doc"], "--seq-len", "8")
    f["probe"] = root / "probe.safetensors"
    run("probe", "fit", "--data", f["probe_data"], *TINY, "--out", f["probe"])
    f["memory"] = root / "wm.safetensors"
    run("agents", "hi", *TINY, "-n", "1", "--agent-tokens", "1", "--raw", "--save-memory", f["memory"])
    f["store"] = root / "store"
    f["memory_id"] = json.loads(run("memory", "add", f["doc"], *TINY, "--store", f["store"], "--json").stdout)["id"]

    # vectors made by hand: huge, NaN, without metadata, with malformed metadata JSON
    with safe_open(str(f["vector"]), "pt") as src:
        meta = src.metadata() or {}
        tensors = {k: src.get_tensor(k) for k in src.keys()}
    save_file({k: torch.full_like(v, 1e30) for k, v in tensors.items()}, str(root / "huge.safetensors"), meta)
    save_file({k: v.clone().fill_(float("nan")) for k, v in tensors.items()}, str(root / "nan_vec.safetensors"), meta)
    save_file(tensors, str(root / "nometa.safetensors"))
    save_file(tensors, str(root / "badmeta.safetensors"), {k: "{not json" for k in meta} or {"fingerprint": "{"})
    with safe_open(str(f["lens"]), "pt") as src:
        lmeta = src.metadata() or {}
        ltensors = {k: src.get_tensor(k) for k in src.keys()}
    save_file({k: v.clone().fill_(float("nan")) for k, v in ltensors.items()}, str(root / "nan_lens.safetensors"),
              lmeta)
    for name in ("huge", "nan_vec", "nometa", "badmeta", "nan_lens"):
        f[name] = root / f"{name}.safetensors"

    # the server's data dir: a good vector, one without metadata, one with broken metadata, bad pipelines
    data = root / "serve-data"
    (data / "vectors").mkdir(parents=True)
    (data / "pipelines").mkdir()
    shutil.copy(f["vector"], data / "vectors" / "good.safetensors")
    shutil.copy(root / "nometa.safetensors", data / "vectors" / "nometa.safetensors")
    shutil.copy(root / "badmeta.safetensors", data / "vectors" / "badmeta.safetensors")
    shutil.copy(root / "huge.safetensors", data / "vectors" / "huge.safetensors")
    (data / "vectors" / "junk.safetensors").write_bytes(b"\x00" * 64)
    (data / "pipelines" / "binary.yaml").write_bytes(b"\x00\x01\xff\xfe" * 50)
    (data / "pipelines" / "latin1.yaml").write_bytes(b"agents:\n  - name: caf\xe9\n    role: x\n")
    (data / "pipelines" / "empty.yaml").write_text("")
    f["serve_data"] = data
    return f


# ---- the cases -----------------------------------------------------------------------------------------


def cases() -> list[Case]:
    big = [str(2**64), str(10**30), "-1"]
    c: list[Case] = []
    M, T, S, R = "memory", "training", "server", "model"

    # -- seeds and huge integers (every command with a --seed or a count) --
    for value in (str(2**64), "-1"):
        c += [cli(R, "seed out of range", "generate", "hi", *TINY, "-n", "2", "--seed", value),
              cli(R, "seed out of range", "think", "hi", *TINY, "-n", "2", "--seed", value),
              cli(R, "seed out of range", "agents", "hi", *TINY, "-n", "2", "--seed", value),
              cli(T, "seed out of range", "lens", "train", *TINY, "--out", want("l.safetensors"), "--steps", "1",
                  "--text", inp("doc"), "--seed", value),
              cli(T, "seed out of range", "probe", "fit", "--data", inp("probe_data"), *TINY, "--seed", value),
              cli(T, "seed out of range", "train", "run", "nocot", "--out", want("run"), "--seed", value),
              cli(T, "seed out of range", "bench", "--task", "arithmetic", *TINY, "--n", "2", "--out", want("b"),
                  "--seeds", value)]
    for value in big:
        c += [cli(R, "huge counts", "generate", "hi", *TINY, "-n", value),
              cli(R, "huge counts", "think", "hi", *TINY, "--steps", value, "-n", "2"),
              # a cache bound past any context is no bound (harmless); a negative one must be refused
              cli(R, "huge counts", "generate", "hi", *TINY, "-n", "2", "--max-cache", value,
                  expect="refused" if value == "-1" else "either"),
              cli(M, "huge counts", "memory", "search", "fox", *TINY, "--store", store(), "-k", value)]
    c += [cli(T, "huge counts", "lens", "train", *TINY, "--out", want("l.safetensors"), "--steps", str(10**30),
              "--text", inp("doc")),
          cli(T, "huge counts", "lens", "train", *TINY, "--out", want("l.safetensors"), "--seq-len", str(2**64),
              "--steps", "1", "--text", inp("doc")),
          cli(R, "huge counts", "lens", "hello", *TINY, "-k", str(2**64), "--png", want("l.png")),
          cli(T, "huge counts", "train", "run", "nocot", "--out", want("run"), "--set", f"n_train={10**30}"),
          cli(T, "huge counts", "train", "run", "nocot", "--out", want("run"), "--set", f"epochs={2**64}")]

    # -- non-finite and out-of-range floats --
    for value in ("nan", "inf", "-inf", "1e999"):
        c += [cli(R, "non-finite floats", "generate", "hi", *TINY, "-n", "2", "--temperature", value),
              cli(R, "non-finite floats", "generate", "hi", *TINY, "-n", "2", "--top-p", value),
              cli(R, "non-finite floats", "generate", "hi", *TINY, "-n", "2", "--steer", inp("vector"),
                  "--strength", value),
              cli(R, "non-finite floats", "steer", "apply", inp("vector"), "hi", *TINY, "-n", "2", "-s", value),
              cli(M, "non-finite floats", "memory", "add", inp("doc"), *TINY, "--store", want("st"), "--press",
                  "knorm", "--ratio", value),
              cli(T, "non-finite floats", "lens", "train", *TINY, "--out", want("l.safetensors"), "--steps", "1",
                  "--text", inp("doc"), "--lr", value)]
    c += [cli(R, "non-finite floats", "steer", "eval", inp("vector"), *TINY, "-n", "2", "--prompts", inp("prompts"),
              "--strengths", "nan"),
          cli(R, "non-finite floats", "steer", "eval", inp("vector"), *TINY, "-n", "2", "--prompts", inp("prompts"),
              "--strengths", "inf,1"),
          cli(R, "non-finite floats", "think", "hi", *TINY, "-n", "2", "--press", "knorm", "--ratio", "nan")]

    # -- strategy options (--set): declared ranges --
    for opt in ("top_k=0", "top_k=-5", "top_p=2", "min_p=-1", "early_stop=2", "max_norm_ratio=-1",
                "max_norm_ratio=nan", "top_k=1e999", "lens_k=-1", "answer_temperature=inf", "nosuch=1",
                f"max_latent_steps={10**9}", "max_new_tokens=-1", "cold_stop_window=-1"):
        budget = [] if opt.startswith(("max_latent_steps", "max_new_tokens")) else ["--steps", "1", "-n", "2"]
        c.append(cli(R, "think --set out of range", "think", "hi", *TINY, "--mode", "soft", *budget, "--set", opt))
    c += [cli(R, "think --set out of range", "think", "hi", *TINY, "--mode", "continuous", "--steps", "1", "-n", "2",
              "--set", "temperature=nan"),
          cli(R, "think --set out of range", "think", "hi", *TINY, "--mode", "continuous", "--steps", "1", "-n", "2",
              "--set", "alignment=bogus"),
          cli(R, "unbounded work", "think", "hi", *TINY, "--mode", "loop", "-n", "2", "--set", "repeats=1000000"),
          cli(R, "unbounded work", "think", "hi", *TINY, "--mode", "optimize", "-n", "2", "--set",
              "opt_steps=100000000"),
          cli(R, "strict JSON with infinite options", "think", "hi", *TINY, "--steps", "1", "-n", "2", "--set",
              "max_norm_ratio=Infinity", "--json", expect="either"),
          cli(R, "strict JSON with infinite options", "think", "hi", *TINY, "--steps", "1", "-n", "2", "--set",
              "max_norm_ratio=1e999", "--json", expect="either"),
          cli(R, "ignored options", "think", "hi", *TINY, "--steps", "1", "-n", "2", "--ratio", "7"),
          cli(R, "ignored options", "generate", "hi", *TINY, "-n", "2", "--ratio", "7"),
          cli(R, "ignored options", "think", "hi", *TINY, "--steps", "1", "-n", "2", "--set", "max_latent_steps=3"),
          cli(R, "ignored options", "info", "tiny", "-m", "tiny-gpt2"),
          cli(R, "ignored options", "generate", "hi", *TINY, "-n", "2", "--press", "zip")]

    # -- text: empty, lone surrogates (in-process), over-long --
    for text in ("", " \t\n", "\ud800", "a" + SURROGATE + "b", LONG):
        c += [cli(R, "bad text", "generate", text, *TINY, "-n", "2"),
              cli(R, "bad text", "think", text, *TINY, "--steps", "1", "-n", "2"),
              cli(R, "bad text", "agents", text, *TINY, "-n", "2", "--agent-tokens", "2"),
              cli(R, "bad text", "lens", text, *TINY, "--png", want("l.png")),
              cli(M, "bad text", "memory", "search", text, *TINY, "--store", store()),
              cli(M, "bad text", "memory", "ask", text, *TINY, "--store", store(), "-n", "2")]
    c += [cli(R, "bad text", "generate", "hi", *TINY, "-n", "2", "--stop", SURROGATE),
          cli(R, "bad text", "lens", "hi", *TINY, "--target", SURROGATE, "--png", want("l.png")),
          cli(M, "bad text", "memory", "add", inp("doc"), *TINY, "--store", want("st"), "--title", "t\udce9",
              check=lambda sb, o: ["orphan blob left"] if list((sb.out / "st").rglob("*.safetensors")) else []),
          cli(M, "bad text", "memory", "add", inp("doc"), *TINY, "--store", want("st"), "--tag", SURROGATE),
          cli(M, "bad text", "memory", "add", "-", *TINY, "--store", want("st"), stdin=LONG * 3, name="memory add - "
              "(stdin: 14k chars) --store OUT/st"),
          cli(M, "bad text", "memory", "rm", SURROGATE, "--store", store()),
          cli(M, "bad text", "memory", "rm", "../x", "--store", store())]
    # a real non-UTF-8 argv (subprocess)
    c += [cli(R, "non-UTF-8 argv", "generate", b"caf\xe9", *TINY, "-n", "2", argv=True),
          cli(R, "non-UTF-8 argv", "think", b"\xff\xfe", *TINY, "-n", "2", argv=True),
          cli(M, "non-UTF-8 argv", "memory", "add", inp("doc"), *TINY, "--store", want("st"), "--title", b"t\xe9",
              argv=True, check=lambda sb, o: ["orphan blob left"] if list((sb.out / "st").rglob("*.safetensors"))
              else [])]

    # -- input files: missing, a folder, empty, not UTF-8, binary, wrong kind --
    file_options = [
        (R, "agents", ["agents", "hi", *TINY, "-n", "2", "--pipeline"], ["not_utf8_yaml", "binary_yaml", "missing",
                                                                        "folder", "empty"]),
        (R, "agents --memory", ["agents", "hi", *TINY, "-n", "2", "--memory"], ["binary", "vector", "nan_vec",
                                                                              "missing"]),
        (R, "steer train", ["steer", "train", *TINY, "--layers", "1", "--out", want("v.safetensors"), "--pairs"],
         ["not_utf8_jsonl", "binary_jsonl", "empty", "folder"]),
        (R, "steer eval", ["steer", "eval", inp("vector"), *TINY, "-n", "2", "--prompts"], ["not_utf8", "binary",
                                                                                           "empty"]),
        (T, "lens train", ["lens", "train", *TINY, "--out", want("l.safetensors"), "--steps", "1", "--text"],
         ["not_utf8", "binary", "empty", "folder"]),
        (T, "probe fit", ["probe", "fit", *TINY, "--data"], ["not_utf8", "binary", "empty", "folder", "prompts"]),
        (T, "train", ["train", "run", "nocot", "--out", want("run"), "--config"], ["not_utf8_yaml", "binary_yaml",
                                                                                 "config_list", "config_nested"]),
        (T, "train --task", ["train", "run", "nocot", "--out", want("run"), "--task"], ["not_utf8_jsonl",
                                                                                       "binary_jsonl"]),
        (T, "bench", ["bench", *TINY, "--n", "2", "--out", want("b"), "--task"], ["not_utf8_jsonl", "binary_jsonl"]),
        (M, "memory add", ["memory", "add", *TINY, "--store", want("st")], ["not_utf8", "binary", "empty", "blank"]),
        (R, "vector files", ["generate", "hi", *TINY, "-n", "2", "--steer"], ["nometa", "badmeta", "binary",
                                                                             "lens", "nan_vec"]),
        (R, "vector files", ["steer", "apply", "", "hi", *TINY, "-n", "2"], ["nometa", "badmeta", "binary"]),
        (R, "vector files", ["steer", "export-gguf", "", want("x.gguf"), *TINY], ["nometa", "binary", "nan_vec"]),
        (R, "vector files", ["steer", "import-gguf", "", want("x.safetensors"), *TINY], ["binary", "vector"]),
        (R, "lens files", ["lens", "hi", *TINY, "--png", want("l.png"), "--tuned"], ["nan_lens", "binary", "vector"]),
    ]
    for area, group, base, keys in file_options:
        for key in keys:
            if "" in base:  # a positional file slot
                args = [inp(key) if a == "" else a for a in base]
            elif base[:2] == ["memory", "add"]:
                args = ["memory", "add", inp(key), *base[2:]]
            else:
                args = [*base, inp(key)]
            c.append(cli(area, f"input files: {group}", *args))

    # -- output paths: a folder where a file goes, a missing parent, a file as parent; checked before work --
    bad_outs = [("a_folder", "OUT/a_folder (a folder)"), ("no/such/x", "OUT/no/such/x"),
                ("a_file/x", "OUT/a_file/x (file parent)")]
    for rel, label in bad_outs:
        o = outpath(rel, label)
        c += [cli(R, "output paths", "agents", "hi", *TINY, "-n", "2", "--save-memory", o, check=no_tmp_files),
              cli(T, "output paths", "lens", "train", *TINY, "--out", o, "--steps", "1", "--text", inp("doc"),
                  check=no_tmp_files),
              cli(T, "output paths", "probe", "fit", "--data", inp("probe_data"), *TINY, "--out", o, check=no_tmp_files),
              cli(R, "output paths", "steer", "export-gguf", inp("vector"), o, *TINY, check=no_tmp_files),
              cli(R, "output paths", "steer", "import-gguf", inp("gguf"), o, *TINY, check=no_tmp_files),
              cli(R, "output paths", "steer", "train", "--pairs", inp("pairs"), *TINY, "--layers", "1", "--out", o),
              cli(R, "output paths", "steer", "eval", inp("vector"), *TINY, "-n", "2", "--png", o),
              cli(R, "output paths", "lens", "hi", *TINY, "--png", outpath(rel + "/l.png" if rel == "no/such/x"
                                                                          else rel, label)),
              cli(T, "output paths", "train", "run", "nocot", "--out", outpath("a_file", "OUT/a_file (a file)")
                  if rel == "a_folder" else o)]
    c += [cli(R, "output paths", "steer", "eval", inp("vector"), *TINY, "--strengths", "-1,1", "-n", "2", "--png",
              outpath("nonexist/x.png", "OUT/nonexist/x.png (a missing folder)")),  # a file's folder must exist
          cli(R, "output paths", "lens", "hi", *TINY, "--png", want("pngdir"), expect="either",
              setup=lambda sb: (sb.out / "pngdir").mkdir(), name="lens hi --png OUT/pngdir (a folder)"),
          cli(R, "output paths", "lens", "hi", *TINY, "--png", want("l.png"), "--html", outpath("no/such/x.html")),
          cli(T, "output paths", "lens", "train", *TINY, "--out", want("l.safetensors"), "--steps", "1", "--text",
              inp("doc"), "--png", outpath("no/such/k.png")),
          cli(T, "output paths", "bench", "--task", "arithmetic", *TINY, "--n", "2", "--out",
              outpath("a_file", "OUT/a_file (a file)")),
          cli(R, "json flags", "steer", "export-gguf", inp("vector"), want("x.gguf"), *TINY, "--json", expect="ok"),
          cli(R, "json flags", "steer", "import-gguf", inp("gguf"), want("x.safetensors"), *TINY, "--json",
              expect="ok")]

    # -- numerics: diverging training, huge steering, collapse --
    c += [cli(T, "diverging training", "lens", "train", *TINY, "--out", want("l.safetensors"), "--steps", "3",
              "--text", inp("doc"), "--lr", "1e30"),
          cli(T, "diverging training", "lens", "train", *TINY, "--out", want("l.safetensors"), "--steps", "3",
              "--text", inp("doc"), "--lr", "1e30", "--json"),
          cli(T, "diverging training", "train", "run", "cot", "--out", want("run"), "--set", "lr=1e30", "--set",
              "n_train=4", "--set", "epochs=1", "--quiet", check=mentions("lr")),
          cli(T, "diverging training", "train", "run", "coconut", "--out", want("run"), "--set", "lr=1e30", "--set",
              "n_train=4", "--quiet"),
          cli(T, "diverging training", "train", "run", "nocot", "--out", want("run"), "--set", "lr=nan"),
          cli(T, "diverging training", "train", "run", "nocot", "--out", want("run"), "--set", "lr=inf"),
          cli(T, "diverging training", "train", "run", "nocot", "--out", want("run"), "--set", "weight_decay=nan"),
          cli(T, "diverging training", "probe", "fit", "--data", inp("huge_labels"), *TINY, "--out",
              want("p.safetensors"), expect="either"),
          cli(T, "diverging training", "probe", "fit", "--data", inp("probe_data"), *TINY, "--task", "regression"),
          cli(R, "huge steering", "generate", "hi", *TINY, "-n", "3", "--steer", inp("vector"), "--strength", "1e38"),
          cli(R, "huge steering", "generate", "hi", *TINY, "-n", "3", "--steer", inp("huge")),
          cli(R, "huge steering", "steer", "apply", inp("vector"), "hi", *TINY, "-n", "3", "-s", "1e38"),
          cli(R, "huge steering", "steer", "apply", inp("huge"), "hi", *TINY, "-n", "3"),
          cli(R, "huge steering", "think", "hi", *TINY, "--mode", "continuous", "--steps", "2", "-n", "2", "--steer",
              inp("vector"), "--strength", "1e38", "--json"),
          cli(R, "huge steering", "think", "hi", *TINY, "--mode", "soft", "--steps", "2", "-n", "2", "--steer",
              inp("huge"), "--json"),
          cli(R, "huge steering", "steer", "eval", inp("vector"), *TINY, "-n", "2", "--prompts", inp("prompts"),
              "--strengths", "1e38")]

    # -- training and bench settings --
    for opt in ("batch_size=0", "epochs=-1", "n_train=0", "n_valid=-1", "lr=-1", "batch_size=x", "epochs=1.5"):
        c.append(cli(T, "train settings", "train", "run", "nocot", "--out", want("run"), "--set", opt))
    c += [cli(T, "train settings", "train", "run", "nocot", "--out", want("run"), "--until-epoch", "-1"),
          cli(T, "train settings", "train", "run", "nocot", "--out", want("run"), "--task", ""),
          cli(T, "train settings", "train", "run", "magic", "--out", want("run")),
          cli(T, "train settings", "train", "table", "--recipes", "", "--out", want("t")),
          cli(T, "train settings", "train", "table", "--recipes", ",", "--out", want("t")),
          cli(T, "train settings", "train", "table", "--profile", "smoke", "--recipes", "nocot", "--out", want("t"),
              "--set", "lr=1e30", "--set", "n_train=4"),
          cli(T, "bench settings", "bench", "--task", "", *TINY, "--n", "2", "--out", want("b")),
          cli(T, "bench settings", "bench", "--task", ",", *TINY, "--n", "2", "--out", want("b")),
          cli(T, "bench settings", "bench", "--task", "arithmetic", "--strategies", "", *TINY, "--n", "2", "--out",
              want("b")),
          cli(T, "bench settings", "bench", "--task", "arithmetic", "--strategies", "soft", *TINY, "--n", "2", "--out",
              want("b"), "--set", "top_k=0"),
          cli(T, "bench settings", "bench", "--task", "arithmetic", *TINY, "--n", "2", "--out", want("b"), "--seeds",
              "nan"),
          cli(T, "bench settings", "bench", "--task", "arithmetic", *TINY, "--n", "2", "--out", want("b"), "--shard",
              "5/2"),
          cli(T, "strict JSON with infinite options", "bench", "--task", "arithmetic", "--strategies", "soft", *TINY,
              "--n", "2", "--out", want("b"), "--set", "max_norm_ratio=Infinity", "--set", "max_new_tokens=2",
              "--json", expect="either"),
          cli(T, "bench settings", "bench", "--task", "arithmetic", "--strategies", "direct", *TINY, "--n", "2",
              "--out", lambda sb: str(sb.out / "bench"), "--set", "max_new_tokens=2", setup=bench_torn_row,
              expect="either", name="bench (resume over a torn last row in rows.jsonl)"),
          cli(T, "lens/probe settings", "probe", "fit", "--data", inp("probe_data"), *TINY, "--layers", "99"),
          cli(T, "lens/probe settings", "probe", "fit", "--data", inp("probe_data"), *TINY, "--site", "bogus"),
          cli(T, "lens/probe settings", "lens", "hi", *TINY, "--layers", "99", "--png", want("l.png"))]

    # -- the memory store: hostile indexes, gc safety --
    blob_rows = [("../../victim.txt", lambda sb: "../../victim.txt"), ("ABSOLUTE victim path", lambda sb: str(sb.victim)),
                 ("../victim_dir", lambda sb: "../../victim_dir"), ("blobs/ itself ('.')", lambda sb: ".")]
    for label, value in blob_rows:
        for command in (["memory", "gc", "--store", store_ref()], ["memory", "rm", inp("memory_id"), "--store",
                                                                    store_ref()],
                        ["memory", "list", "--store", store_ref()], ["memory", "ask", "fox", *TINY, "--store",
                                                                      store_ref(), "-n", "2"]):
            c.append(cli(M, "index row pointing outside the store", *command, setup=blob_row(value), check=victim_intact,
                         expect="either", name=f"{' '.join(_show(a) for a in command)}  [blob = {label}]"))
    for command in (["memory", "gc", "--store", store_ref()], ["memory", "rm", inp("memory_id"), "--store", store_ref()]):
        c.append(cli(M, "index row pointing outside the store", *command, setup=symlink_blob, check=victim_intact,
                     expect="either", name=f"{' '.join(_show(a) for a in command)}  [blob is a symlink to VICTIM]"))
    c += [cli(M, "gc safety", "memory", "gc", "--store", store_ref(), setup=store_without_index,
              check=nothing_deleted_without_force, name="memory gc --store STORE  [index.sqlite missing]"),
          cli(M, "gc safety", "memory", "gc", "--store", store_ref(), setup=store_with_empty_index,
              check=nothing_deleted_without_force, name="memory gc --store STORE  [index has no rows]"),
          cli(M, "gc safety", "memory", "gc", "--store", store_ref(), setup=dir_in_blobs, expect="either",
              check=lambda sb, o: [] if (sb.out / "store" / "blobs" / "adir" / "inner.txt").exists()
              else ["gc deleted a folder inside blobs/"], name="memory gc --store STORE  [a folder in blobs/]"),
          cli(M, "gc safety", "memory", "gc", "--store", store_ref(), setup=symlinked_dir_in_blobs, expect="either",
              check=victim_intact, name="memory gc --store STORE  [blobs/linkdir -> a folder outside]"),
          cli(M, "gc safety", "memory", "gc", "--store", store_ref(), setup=symlinked_stray_file, expect="either",
              check=victim_intact, name="memory gc --store STORE  [blobs/stray.safetensors -> VICTIM]"),
          cli(M, "gc safety", "memory", "gc", "--store", outpath("typo"), check=store_not_created("typo"),
              name="memory gc --store OUT/typo  [no store there]"),
          cli(M, "gc safety", "memory", "list", "--store", outpath("typo"), check=store_not_created("typo"),
              name="memory list --store OUT/typo  [no store there]"),
          cli(M, "gc safety", "memory", "search", "fox", *TINY, "--store", outpath("typo"),
              check=store_not_created("typo"), name="memory search fox --store OUT/typo  [no store there]")]
    for value in ("-1", "nan", "1e999", "10XB", ""):
        c.append(cli(M, "gc safety", "memory", "gc", "--store", store(), "--max-size", value))
    malformed = [("model", "{not json"), ("model", "[1, 2]"), ("tags", "{oops"), ("retrieval_key", b"\x00\x01\x02"),
                 ("tokens", "many"), ("key_layer", 999), ("title", b"\xff\xfe")]
    for column, value in malformed:
        for command in (["memory", "list", "--store", store_ref(), "--json"],
                        ["memory", "search", "fox", *TINY, "--store", store_ref()],
                        ["memory", "gc", "--store", store_ref()]):
            c.append(cli(M, "malformed index rows", *command, setup=set_column(column, value), expect="either",
                         name=f"{' '.join(_show(a) for a in command)}  [{column} = {value!r}]"))
    c += [cli(M, "malformed index rows", "memory", "ask", "fox", *TINY, "--store", store_ref(), "-n", "2",
              setup=set_column("retrieval_key", b"\x00" * 12), expect="either",
              name="memory ask fox  [retrieval key of the wrong length]"),
          cli(M, "malformed index rows", "memory", "search", "fox", *TINY, "--store", store_ref(), "--json",
              setup=nan_key_store, expect="either", name="memory search fox --json  [retrieval key all NaN]"),
          cli(M, "malformed index rows", "memory", "list", "--store", store_ref(), setup=ansi_title_store,
              check=no_raw_escape, expect="ok", name="memory list  [title holds ANSI escapes]"),
          cli(M, "malformed index rows", "memory", "ask", "fox", *TINY, "--store", store(), "--memory", "nosuch")]

    # -- the server --
    inf_opts = {"strategy": "soft", "steps": 1, "options": {"max_norm_ratio": 1e999}, "trace": True}
    raw_inf = json.dumps(chat(latent=inf_opts)).replace("Infinity", "1e999").encode()
    raw_inf_stream = json.dumps(chat(latent=inf_opts, stream=True)).replace("Infinity", "1e999").encode()
    raw_inf_c = json.dumps(completion(latent={"trace": True, "strategy": "continuous", "steps": 1,
                                              "options": {"temperature": 1e999}})).replace("Infinity", "1e999").encode()
    c += [http("lone surrogates", "chat content '\\ud800'", "POST", "/v1/chat/completions", chat("\ud800")),
          http("lone surrogates", "chat content 'a\\udcffb'", "POST", "/v1/chat/completions", chat("a\udcffb")),
          http("lone surrogates", "chat content parts with '\\ud800'", "POST", "/v1/chat/completions",
               chat([{"type": "text", "text": "\ud800"}])),
          http("lone surrogates", "completions prompt '\\ud800'", "POST", "/v1/completions", completion("\ud800")),
          http("lone surrogates", "completions stream prompt '\\ud800'", "POST", "/v1/completions",
               completion("\ud800", stream=True), stream=True),
          http("lone surrogates", "stop ['\\ud800']", "POST", "/v1/chat/completions", chat(stop=["\ud800"])),
          http("lone surrogates", "lens text '\\ud800'", "POST", "/v1/lens", {"model": "tiny", "text": "\ud800"}),
          http("lone surrogates", "memories add text '\\ud800'", "POST", "/v1/memories",
               {"model": "tiny", "text": "\ud800"}),
          http("lone surrogates", "memories add title '\\ud800'", "POST", "/v1/memories",
               {"model": "tiny", "text": "hello", "title": "\ud800"}),
          http("lone surrogates", "memories search '\\ud800'", "POST", "/v1/memories/search",
               {"model": "tiny", "query": "\ud800"}),
          http("lone surrogates", "vectors pairs with '\\ud800'", "POST", "/v1/vectors",
               {"model": "tiny", "id": "sur", "pairs": [{"positive": "\ud800", "negative": "b"}] * 2, "layers": [1]}),
          http("lone surrogates", "agents/run question '\\ud800'", "POST", "/v1/agents/run",
               {"model": "tiny", "question": "\ud800", "max_tokens": 2}),
          http("lone surrogates", "model name '\\ud800'", "POST", "/v1/chat/completions",
               {**chat(), "model": "\ud800"}),
          http("infinite options with trace", "chat soft max_norm_ratio=1e999 trace", "POST", "/v1/chat/completions",
               raw=raw_inf, expect="either"),
          http("infinite options with trace", "chat stream soft max_norm_ratio=1e999 trace", "POST",
               "/v1/chat/completions", raw=raw_inf_stream, expect="either", stream=True),
          http("infinite options with trace", "completions continuous temperature=1e999 trace", "POST",
               "/v1/completions", raw=raw_inf_c, expect="either"),
          http("infinite options with trace", "chat temperature 1e999", "POST", "/v1/chat/completions",
               raw=b'{"model": "tiny", "max_tokens": 2, "temperature": 1e999, "messages": [{"role": "user", '
                   b'"content": "hi"}]}'),
          http("infinite options with trace", "chat top_p NaN", "POST", "/v1/chat/completions",
               raw=b'{"model": "tiny", "max_tokens": 2, "top_p": NaN, "messages": [{"role": "user", "content": "hi"}]}'),
          http("infinite options with trace", "chat steer strength 1e999", "POST", "/v1/chat/completions",
               raw=b'{"model": "tiny", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}], '
                   b'"latent": {"steer": [{"id": "good", "strength": 1e999}]}}'),
          http("broken objects in the data dir", "chat steer with a vector without metadata", "POST",
               "/v1/chat/completions", chat(latent={"steer": [{"id": "nometa", "strength": 1}]}),
               check=listed_only_if_usable("vectors", "nometa", "/v1/vectors")),
          http("broken objects in the data dir", "chat steer with a vector with malformed metadata", "POST",
               "/v1/chat/completions", chat(latent={"steer": [{"id": "badmeta", "strength": 1}]}),
               check=listed_only_if_usable("vectors", "badmeta", "/v1/vectors")),
          http("broken objects in the data dir", "chat steer with a zero-filled vector file", "POST",
               "/v1/chat/completions", chat(latent={"steer": [{"id": "junk", "strength": 1}]}),
               check=listed_only_if_usable("vectors", "junk", "/v1/vectors")),
          http("broken objects in the data dir", "chat steer with a 1e30 vector", "POST", "/v1/chat/completions",
               chat(latent={"steer": [{"id": "huge", "strength": 1}]})),
          http("broken objects in the data dir", "chat steer good vector strength 1000", "POST",
               "/v1/chat/completions", chat(latent={"steer": [{"id": "good", "strength": 1000}]}), expect="either"),
          http("broken objects in the data dir", "agents/run with a binary pipeline file", "POST", "/v1/agents/run",
               {"model": "tiny", "pipeline": "binary", "question": "hi", "max_tokens": 2},
               check=listed_only_if_usable("pipelines", "binary", "/v1/pipelines")),
          http("broken objects in the data dir", "chat strategy agents:binary", "POST", "/v1/chat/completions",
               chat(latent={"strategy": "agents:binary"})),
          http("broken objects in the data dir", "agents/run with a latin-1 pipeline file", "POST", "/v1/agents/run",
               {"model": "tiny", "pipeline": "latin1", "question": "hi", "max_tokens": 2},
               check=listed_only_if_usable("pipelines", "latin1", "/v1/pipelines")),
          http("broken objects in the data dir", "agents/run with an empty pipeline file", "POST", "/v1/agents/run",
               {"model": "tiny", "pipeline": "empty", "question": "hi", "max_tokens": 2}),
          http("broken objects in the data dir", "GET /v1/vectors", "GET", "/v1/vectors", expect="ok"),
          http("broken objects in the data dir", "GET /v1/pipelines", "GET", "/v1/pipelines", expect="ok"),
          http("protocol", "GET /v1/chat/completions (405)", "GET", "/v1/chat/completions",
               check=error_type_is_not("server_error")),
          http("protocol", "DELETE /v1/models (405)", "DELETE", "/v1/models", check=error_type_is_not("server_error")),
          http("protocol", "PUT /v1/lens (405)", "PUT", "/v1/lens", body={}, check=error_type_is_not("server_error")),
          http("protocol", "lower-case 'bearer KEY'", "GET", "/v1/models", server="keyed", expect="ok",
               headers={"authorization": "bearer s3cret"}),
          http("protocol", "'BEARER KEY'", "GET", "/v1/models", server="keyed", expect="ok",
               headers={"authorization": "BEARER s3cret"}),
          http("protocol", "'Bearer  KEY' (two spaces)", "GET", "/v1/models", server="keyed", expect="either",
               headers={"authorization": "Bearer  s3cret"}),
          http("protocol", "wrong key", "GET", "/v1/models", server="keyed", headers={"authorization": "Bearer no"}),
          http("protocol", "agents:sequential:nosuch", "POST", "/v1/chat/completions",
               chat(latent={"strategy": "agents:sequential:nosuch"}), check=body_mentions("nosuch")),
          http("protocol", "agents:nosuch", "POST", "/v1/chat/completions", chat(latent={"strategy": "agents:nosuch"})),
          http("protocol", "DELETE /v1/vectors/..%2F..%2Fx", "DELETE", "/v1/vectors/..%2F..%2Fx"),
          http("protocol", "DELETE /v1/memories/..%2Fx", "DELETE", "/v1/memories/..%2Fx"),
          http("out-of-range values", "max_tokens 2**64", "POST", "/v1/chat/completions", chat(max_tokens=2**64)),
          http("out-of-range values", "seed 2**64", "POST", "/v1/chat/completions", chat(seed=2**64)),
          http("out-of-range values", "soft top_k 0", "POST", "/v1/chat/completions",
               chat(latent={"strategy": "soft", "options": {"top_k": 0}})),
          http("out-of-range values", "soft early_stop 2", "POST", "/v1/chat/completions",
               chat(latent={"strategy": "soft", "options": {"early_stop": 2}})),
          http("out-of-range values", "soft max_norm_ratio -1", "POST", "/v1/chat/completions",
               chat(latent={"strategy": "soft", "options": {"max_norm_ratio": -1}})),
          http("out-of-range values", "soft min_p -1", "POST", "/v1/chat/completions",
               chat(latent={"strategy": "soft", "options": {"min_p": -1}})),
          http("out-of-range values", "press knorm:7", "POST", "/v1/chat/completions", chat(latent={"press": "knorm:7"})),
          http("out-of-range values", "press knorm:nan", "POST", "/v1/chat/completions",
               chat(latent={"press": "knorm:nan"})),
          http("out-of-range values", "memories add press knorm:1e999", "POST", "/v1/memories",
               {"model": "tiny", "text": "hello there", "press": "knorm:1e999"}),
          http("out-of-range values", "lens text past the context (20000 chars)", "POST", "/v1/lens",
               {"model": "tiny", "text": "ab " * 6600}),
          http("out-of-range values", "chat content past the context", "POST", "/v1/chat/completions",
               chat("ab " * 3000)),
          http("out-of-range values", "memories add text past the context", "POST", "/v1/memories",
               {"model": "tiny", "text": "ab " * 3000}),
          http("out-of-range values", "lens layers [99]", "POST", "/v1/lens", {"model": "tiny", "text": "hi",
                                                                               "layers": [99]}),
          http("out-of-range values", "vectors create layers [99]", "POST", "/v1/vectors",
               {"model": "tiny", "id": "l99", "concept": "sentiment", "layers": [99]})]
    return c


def store_ref():
    """The store a crafted-store setup made (the setup copies it; the command only names it)."""
    f = lambda sb: str(sb.out / "store")  # noqa: E731
    f.label = "STORE"
    return f


# ---- running the sweep -------------------------------------------------------------------------------------


def judge(case: Case, out: Outcome, sb: Sandbox, before: dict, after: dict) -> Result:
    r = Result(case, out)
    text = out.stdout + out.stderr
    r.traceback = out.traceback or "Traceback (most recent call last)" in text
    if out.http:
        r.server_error = out.code is not None and out.code >= 500
        ok, refused = out.code is not None and out.code < 300, out.code is not None and 400 <= out.code < 500
    else:
        ok, refused = out.code == 0, out.code == 2
        r.multiline = out.code == 2 and len(out.stderr.strip().splitlines()) > 1
    r.unexpected = not ((case.expect == "ok" and ok) or (case.expect == "refused" and refused)
                        or (case.expect == "either" and (ok or refused)))
    if out.strict_json is None and not out.http and out.stdout.strip()[:1] in ("{", "["):
        out.strict_json = json_is_strict(out.stdout)
    r.bad_json = out.strict_json is False
    diff = changed(before, after)
    r.outside = [os.path.relpath(p, sb.root) for p in diff if not sb.is_requested(Path(p))
                 and not p.startswith(str(sb.work / "__pycache__"))]
    new_requested = [Path(p) for p in diff if sb.is_requested(Path(p)) and Path(p).exists()]
    if not ok:
        r.left = [os.path.relpath(p, sb.root) for p in diff if p not in before and Path(p).exists()
                  and Path(p).is_file()]
    nan_files = [p for p in new_requested + [Path(p) for p in diff if Path(p).exists()] if Path(p).is_file()
                 and nonfinite_file(Path(p))]
    if ok:
        shown = out.stdout if out.strict_json is not False else ""
        r.silent_nan = bool(nan_files) or out.strict_json is False or bool(
            NAN_TEXT.search(_non_generated(shown)))
    if nan_files:
        out.problems.append("non-finite tensors/JSON written: " + os.path.relpath(nan_files[0], sb.root))
    return r


def _non_generated(stdout: str) -> str:
    """The output less the model's own text (a random tiny model may well write 'nan')."""
    try:
        data = strict_loads(stdout)
    except ValueError:
        return stdout if len(stdout) < 20000 else ""
    found = []

    def walk(x, key=""):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, k)
        elif isinstance(x, list):
            for v in x:
                walk(v, key)
        elif isinstance(x, float) and not math.isfinite(x):
            found.append("nan")

    walk(data)
    return " ".join(found)


def sweep(selected: list[Case], verbose: bool) -> tuple[list[Result], float]:
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="latentspace-sweep-"))
    home = base / "home"
    home.mkdir()
    os.environ["LATENTSPACE_HOME"] = str(home)
    inputs = prepare(base / "inputs")
    if any(c.area == "server" for c in selected):
        SERVERS["main"] = Served(inputs["serve_data"])
        SERVERS["keyed"] = Served(base / "keyed-data", api_key="s3cret")
    results = []
    try:
        for i, case in enumerate(selected):
            sb = Sandbox(base / f"case{i:03d}", inputs)
            watched = (sb.root, base / "inputs", home)
            try:
                command = case.prepare(sb)  # the setup's files (a crafted store) are the starting point
            except Exception as err:  # noqa: BLE001 - a setup that fails is a broken case, reported as such
                command = lambda err=err: Outcome(problems=[f"case setup failed: {type(err).__name__}: {err}"[:200]])  # noqa: E731
            before = snapshot(*watched)
            out = command()
            r = judge(case, out, sb, before, snapshot(*watched))
            results.append(r)
            mark = "FAIL" if r.failures else "ok"
            print(f"[{i + 1:3d}/{len(selected)}] {mark:4} {out.code!s:>4} {out.seconds:5.1f}s  {case.area:8} "
                  f"{case.name[:90]}" + (f"  <- {'; '.join(r.failures)[:200]}" if r.failures else ""),
                  file=sys.stderr, flush=True)
            if verbose and r.failures:
                print("      stderr: " + out.stderr.strip()[-600:].replace("\n", "\n      "), file=sys.stderr)
            if not r.failures:
                shutil.rmtree(sb.root, ignore_errors=True)
    finally:
        for s in SERVERS.values():
            s.close()
        SERVERS.clear()
    print(f"sandboxes of failing cases kept under {base}", file=sys.stderr)
    return results, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="write its section of docs/results.md")
    parser.add_argument("--only", help="only cases whose area or group contains this")
    parser.add_argument("--verbose", action="store_true", help="print the stderr of failing cases")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    args = parser.parse_args()
    all_cases = cases()
    selected = [c for c in all_cases if not args.only or args.only in c.area or args.only in c.group]
    if args.list:
        for c in selected:
            print(f"{c.area:8} {c.group:40} {c.expect:8} {c.name}")
        print(f"{len(selected)} cases")
        return
    results, seconds = sweep(selected, args.verbose)
    report(results, seconds)
    if args.write:
        if args.only:
            sys.exit("--write needs the whole sweep (no --only)")
        write_section(results, seconds)


def counts(results: list[Result]) -> dict:
    return {"cases": len(results), "tracebacks": sum(r.traceback for r in results),
            "silent_nan": sum(r.silent_nan for r in results), "server_5xx": sum(r.server_error for r in results),
            "outside_writes": sum(bool(r.outside) for r in results), "left_on_failure": sum(bool(r.left) for r in results),
            "non_strict_json": sum(r.bad_json for r in results), "multiline": sum(r.multiline for r in results),
            "unexpected": sum(r.unexpected for r in results), "failing": sum(bool(r.failures) for r in results)}


def report(results: list[Result], seconds: float) -> None:
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault((r.case.area, r.case.group), []).append(r)
    print(f"\n{'area':9} {'category':42} {'cases':>5} {'fail':>5} {'tb':>3} {'nan':>4} {'5xx':>4} {'out':>4}")
    for (area, group), rs in groups.items():
        k = counts(rs)
        print(f"{area:9} {group:42} {k['cases']:5} {k['failing']:5} {k['tracebacks']:3} {k['silent_nan']:4} "
              f"{k['server_5xx']:4} {k['outside_writes']:4}")
    k = counts(results)
    print(f"\n{k['cases']} cases in {seconds:.0f} s: {k['failing']} failing; tracebacks {k['tracebacks']}, silent NaN "
          f"{k['silent_nan']}, server 5xx {k['server_5xx']}, outside writes {k['outside_writes']}, left on failure "
          f"{k['left_on_failure']}, non-strict JSON {k['non_strict_json']}, multi-line stderr {k['multiline']}, "
          f"unexpected outcome {k['unexpected']}")
    failing = [r for r in results if r.failures]
    if failing:
        print("\nFailures:")
        for area in ("memory", "training", "server", "model"):
            rs = [r for r in failing if r.case.area == area]
            if rs:
                print(f"  {area}:")
            for r in rs:
                line = r.out.stderr.strip().splitlines()[-1:] if not r.out.http else [r.out.stdout[:160]]
                print(f"    - {r.case.name[:110]}  [{r.out.code}] {'; '.join(r.failures)[:220]}"
                      + (f"\n        said: {line[0][:200]}" if line else ""))


def write_section(results: list[Result], seconds: float) -> None:
    k = counts(results)
    groups: dict[tuple, list[Result]] = {}
    for r in results:
        groups.setdefault((r.case.area, r.case.group), []).append(r)
    rows = ["| area | category | cases | failing | tracebacks | silent NaN | 5xx | outside writes |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for (area, group), rs in groups.items():
        g = counts(rs)
        rows.append(f"| {area} | {group} | {g['cases']} | {g['failing']} | {g['tracebacks']} | {g['silent_nan']} | "
                    f"{g['server_5xx']} | {g['outside_writes']} |")
    failing = [f"- `{r.case.area}` {r.case.name.replace('|', '/')[:120]} → {r.out.code}: {'; '.join(r.failures)[:200]}"
               for r in results if r.failures]
    body = [
        "## Bad-input sweep (issue 18)",
        "",
        f"Command: `.venv/bin/python benchmarks/sweep_bad_input.py --write` ({time.strftime('%Y-%m-%d')}, tiny model, "
        f"{seconds:.0f} s). The cases are listed, grouped, in the script (`cases()`): CLI commands in-process "
        "(three with a real non-UTF-8 argv as subprocesses), the memory store with hand-crafted index rows "
        "(a blob of `../../victim.txt`, an absolute path, a symlink; gc on a missing or empty index, folders "
        "and links in `blobs/`), the server in-process (lone surrogates, infinite options with a trace, "
        "broken vector and pipeline files in the data dir, bearer casing, 405s) and the numerics (lr 1e30 "
        "for `lens train` and `train run`, strength 1e38, infinite strategy options). Each case runs in its "
        "own folder beside a victim file; a bad value is expected to be refused (exit 2, HTTP 4xx).",
        "",
        f"- Cases tried: **{k['cases']}**",
        f"- Tracebacks (goal 0): **{k['tracebacks']}**",
        f"- Silent NaN (goal 0): **{k['silent_nan']}**",
        f"- Server 5xx (goal 0): **{k['server_5xx']}**",
        f"- Files written outside the requested paths (goal 0): **{k['outside_writes']}**",
        f"- Also: files left by a failed command {k['left_on_failure']}, non-strict JSON {k['non_strict_json']}, "
        f"exit-2 messages over one line {k['multiline']}, outcome other than expected {k['unexpected']}; "
        f"{k['failing']} cases failing in all.",
        "",
        *rows,
    ]
    if failing:
        body += ["", "Failing cases:", "", *failing]
    start, end = "<!-- sweep_bad_input:start -->", "<!-- sweep_bad_input:end -->"
    replace_section("\n".join([start, *body, end]), start, end)


if __name__ == "__main__":
    main()
