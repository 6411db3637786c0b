"""Benchmark (run by hand) for issue #26: specs of a service only the cluster describes against
specs of a service the catalog knows.

    python tests/benchmarks/described_services.py [--specs 200] [--runs 5]

N specs of ``mixedbread`` (offered by the sandbox's built-in offer, unknown to the catalog) and
N of ``cohere`` rerank (in the catalog): offline ``validate``, then ``plan`` with nothing to
change after one apply, each run in process ``--runs`` times. Prints the median and fastest
wall time of each. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from reconciler.sandbox import SandboxServer  # noqa: E402
from tests.e2e.helpers import run_cli  # noqa: E402

SPECS = {
    "mixedbread (the cluster's description)": "service: mixedbread\nservice_settings:\n"
    "  model_id: mixedbread-ai/mxbai-rerank-xsmall-v1\n  api_key: ${env:BENCH_KEY}\n",
    "cohere (the catalog)": "service: cohere\nservice_settings:\n"
    "  model_id: rerank-english-v3.0\n  api_key: ${env:BENCH_KEY}\n",
}
ENV = {"BENCH_KEY": "bench-key-described-0001"}


def timed(runs: int, *args: str) -> str:
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        result = run_cli(*args, env=ENV)
        walls.append(time.perf_counter() - start)
        assert result.code == 0, result.output[-800:]
    return f"median {statistics.median(walls) * 1000:.0f} ms, fastest {min(walls) * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, body) in enumerate(SPECS.items()):
            folder = Path(scratch) / f"specs{index}"
            folder.mkdir()
            for i in range(args.specs):
                head = f"inference_id: bench-{index}-{i}\ntask_type: rerank\n"
                (folder / f"s{i}.yaml").write_text(head + body, encoding="utf-8")
            print(f"{args.specs} {name}")
            print(f"  validate: {timed(args.runs, 'validate', str(folder))}")
            with SandboxServer(port=0, offered_services=("mixedbread",)) as cluster:
                url = ("--url", cluster.url)
                timed(1, "apply", str(folder), *url, "--auto-approve")
                print(f"  plan, no changes: {timed(args.runs, 'plan', str(folder), *url)}")


if __name__ == "__main__":
    main()
