"""Fuzz the server with schemathesis against its own OpenAPI spec: no input may cause a 5xx.

schemathesis runs from its own virtual environment (.bench-venvs/schemathesis, built once from
PyPI), against a `latentspace serve` subprocess on loopback with the tiny model (the check is
about the API, not the model) and a small token limit so each case is quick.

    .venv/bin/python benchmarks/fuzz_serve.py                   # 100 cases per operation; docs/results.md
    .venv/bin/python benchmarks/fuzz_serve.py --max-examples 20 --quick
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_md import replace_section  # noqa: E402
from serve_process import rss_mb, serving  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".bench-venvs" / "schemathesis"
PIN = "schemathesis==4.32.5"


def ensure_venv() -> Path:
    st = VENV / "bin" / "st"
    if not st.exists():
        print(f"building {VENV} ({PIN}) ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([VENV / "bin" / "python", "-m", "pip", "install", "--quiet", PIN], check=True)
    return st


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="cases per API operation")
    parser.add_argument("--quick", action="store_true", help="print only; docs/results.md untouched")
    args = parser.parse_args()
    st = ensure_venv()
    with tempfile.TemporaryDirectory() as tmp, serving("tiny", Path(tmp), "--max-tokens", "16",
                                                       "--timeout", "60") as (url, pid):
        rss_before = rss_mb(pid)
        started = time.monotonic()
        run = subprocess.run([str(st), "--no-color", "run", f"{url}/openapi.json", "--checks", "not_a_server_error",
                              "--max-examples", str(args.max_examples), "--seed", "1", "--request-timeout", "120"],
                             capture_output=True, text=True)
        seconds = time.monotonic() - started
        rss_after = rss_mb(pid)
        import httpx

        metrics = httpx.get(url + "/metrics", timeout=30).text
    print(run.stdout[-6000:])
    print(run.stderr[-2000:], file=sys.stderr)
    statuses = {}
    for m in re.finditer(r'latentspace_requests_total\{route="[^"]*",status="(\d+)"\} (\d+)', metrics):
        statuses[m.group(1)] = statuses.get(m.group(1), 0) + int(m.group(2))
    total = sum(statuses.values())
    server_errors = sum(n for s, n in statuses.items() if s.startswith("5"))
    summary = (f"{total} requests in {seconds:.0f} s; statuses {dict(sorted(statuses.items()))}; "
               f"**{server_errors} 5xx**; schemathesis exit code {run.returncode}; "
               f"server RSS {rss_before:.0f} → {rss_after:.0f} MiB")
    print(summary)
    if not args.quick:
        command = "python benchmarks/fuzz_serve.py " + " ".join(sys.argv[1:])
        section = "\n".join(["<!-- fuzz_serve:start -->", "## Server fuzzing (schemathesis, OpenAPI spec)", "",
                             f"Command: `{command.strip()}` — {PIN} in its own venv, `--checks not_a_server_error`, "
                             f"{args.max_examples} cases per operation, tiny model, 16-token limit.", "",
                             summary, "<!-- fuzz_serve:end -->"])
        replace_section(section, "<!-- fuzz_serve:start -->", "<!-- fuzz_serve:end -->")
    sys.exit(0 if server_errors == 0 else 1)


if __name__ == "__main__":
    main()
