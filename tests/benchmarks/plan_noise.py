"""Measurement (run by hand) for issue #22: how many lines a plan spends on untracked secrets.

    python tests/benchmarks/plan_noise.py [--endpoints 72] [--repo PATH]

N endpoints made by hand on a sandbox, declared in one directory and adopted by one apply
(nothing sent: their secrets are "not tracked"); then ``reconciler plan`` of that directory.
Prints the plan's length and the lines that speak of untracked secrets. ``--repo`` runs the
reconciler of another checkout (an earlier commit, say) against the same scenario. Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import yaml

HERE = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(HERE))

from reconciler.sandbox import SandboxServer  # noqa: E402

SETTINGS = {"url": "https://rerank.example/v1", "model_id": "bge-reranker-v2-m3"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=72)
    parser.add_argument("--repo", type=Path, default=HERE)
    args = parser.parse_args()
    repo = args.repo.resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELASTIC", "RECONCILER"))}
    env.update(OPENSHIFT_AI_API_KEY="osk-measure", PYTHONPATH=str(repo))
    team = Path(tempfile.mkdtemp()) / "team"
    team.mkdir()
    with SandboxServer(port=0) as server:
        for i in range(args.endpoints):
            body = {"service": "openshift_ai", "service_settings": {**SETTINGS, "api_key": "k-1"}}
            httpx.put(f"{server.url}/_inference/rerank/hand-{i}", json=body).raise_for_status()
            spec = {
                "inference_id": f"hand-{i}",
                "task_type": "rerank",
                "service": "openshift_ai",
                "service_settings": {**SETTINGS, "api_key": "${env:OPENSHIFT_AI_API_KEY}"},
            }
            (team / f"hand-{i}.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")

        def run(*command: str) -> str:
            completed = subprocess.run(
                [sys.executable, "-m", "reconciler", *command, "--url", server.url],
                capture_output=True,
                text=True,
                env=env,
                cwd=repo,
                check=False,
            )
            return completed.stdout

        run("apply", str(team), "--auto-approve")
        plan = run("plan", str(team)).splitlines()
    noise = [line for line in plan if "not tracked" in line or "never sent" in line]
    print(
        f"{repo}: {args.endpoints} endpoints adopted; plan: {len(plan)} lines, "
        f"{len(noise)} of them about untracked secrets"
    )


if __name__ == "__main__":
    main()
