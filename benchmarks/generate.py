"""Benchmark LLM generation (issue: generate from OpenAI and OpenAI-compatible LLMs).

Generates 1,000 samples (2 labels x 500) with the generate stage against the local OpenAI-compatible test
server, which answers every request after 100 ms of simulated latency:

1. one sample per request, one request at a time (the way the tutorials do it);
2. the project's default from params.yaml (generate.samples_per_request texts per request,
   generate.concurrency requests in flight)          target: at least 10x faster than 1;
3. the default again with a warm response cache, as `python -m stages.generate` (process start
   included)                                          target: under 2 s, zero requests.

Usage: python benchmarks/generate.py [--samples 1000] [--latency 0.1]   (from the repository root, .venv active)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stages import generate  # noqa: E402
from stages.core import params  # noqa: E402
from testkit.openai_server import FakeOpenAI  # noqa: E402

KEY_ENV = "SYNTHBERT_BENCH_KEY"  # a dummy key for the local server; a real OPENAI_API_KEY is never used


def config(server: FakeOpenAI, n_per_label: int, **overrides: object) -> params.Generate:
    raw = {**params.read_params(ROOT / "params.yaml")["generate"], "task": str(ROOT / "data/tasks/clickbait.yaml")}
    raw.update(provider="openai", base_url=server.url, api_key_env=KEY_ENV, n_per_label=n_per_label, **overrides)
    return params.load_dict(raw, "generate")


def timed_run(cfg: params.Generate, tmp: Path, name: str) -> tuple[float, int]:
    start = time.perf_counter()
    report = generate.run(cfg=cfg, seed=42, out=tmp / name / "generated.csv", reports=tmp / name / "reports", cache_dir=tmp / name / "cache")
    return time.perf_counter() - start, report["rows_read"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1000, help="samples in all (split over 2 labels)")
    parser.add_argument("--latency", type=float, default=0.1, help="simulated seconds per request")
    args = parser.parse_args()
    os.environ[KEY_ENV] = "bench-not-a-real-key"
    n = args.samples // 2
    with FakeOpenAI(latency=args.latency) as server, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ["SYNTHBERT_LLM_STORE"] = str(tmp / "store")  # a store of its own: answers of earlier runs would skew it
        seq_s, seq_rows = timed_run(config(server, n, samples_per_request=1, concurrency=1), tmp, "sequential")
        seq_requests = server.total
        server.reset_counts()
        default = config(server, n)
        fast_s, fast_rows = timed_run(default, tmp, "default")
        fast_requests, overlap = server.total, server.max_in_flight
        server.reset_counts()
        section = {**params.read_params(ROOT / "params.yaml")["generate"], "task": str(ROOT / "data/tasks/clickbait.yaml"),
                   "provider": "openai", "base_url": server.url, "api_key_env": KEY_ENV, "n_per_label": n}
        (tmp / "params.yaml").write_text(yaml.safe_dump({"base": {"seed": 42}, "generate": section}))
        cmd = [sys.executable, "-m", "stages.generate", "--params", str(tmp / "params.yaml"),
               "--out", str(tmp / "default" / "generated.csv"), "--reports", str(tmp / "default" / "reports"),
               "--cache", str(tmp / "default" / "cache")]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
        warm_s, warm_requests = time.perf_counter() - start, server.total
    ratio = seq_s / fast_s
    print(f"{args.samples:,} samples, {args.latency * 1000:.0f} ms simulated latency per request")
    print(f"sequential, 1 sample/request     : {seq_s:7.2f} s  {seq_requests:5d} requests  {seq_rows} rows")
    print(f"default ({default.samples_per_request}/request, {default.concurrency} in flight): {fast_s:7.2f} s  "
          f"{fast_requests:5d} requests  {fast_rows} rows  (max {overlap} in flight at the server)")
    print(f"speed-up                         : {ratio:7.1f}x    (target >= 10x: {'ok' if ratio >= 10 else 'MISSED'})")
    print(f"warm-cache rerun (new process)   : {warm_s:7.2f} s  {warm_requests:5d} requests  "
          f"(target < 2 s, 0 requests: {'ok' if warm_s < 2 and warm_requests == 0 else 'MISSED'})")


if __name__ == "__main__":
    main()
