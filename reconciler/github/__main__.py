"""``python -m reconciler.github COMMAND``: the GitHub side of the reusable workflows.

The workflows' ``run:`` steps call these commands; each reads its inputs from environment
variables (the names beside each command) and the runner's files (``GITHUB_EVENT_PATH``,
``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``), so that a step passes no expression into a script.

- ``plan-comment``: the plan of one (directory, environment) pair as one pull-request comment,
  found again on the next push by its marker, which names both.
- ``find-plans``: after a merge, the merged pull request and the saved plan of each pair for the
  head commit that was reviewed (a matrix for the apply job).
- ``fetch-plan``: download a saved plan's artifact and check its digest.
- ``find-fresh``: the fresh plans waiting for approval (by digest, or those of this run).
- ``apply-comment``: the apply's outcome for a pair on the pull request, with the way forward
  when the reviewed plan was stale.
- ``drift-issue``: open, update or close the drift issue of a pair; comment only when the
  report changed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.github.api import GitHub, add_summary, event, scrub, set_output

PLAN_ARTIFACT = "reconciler-plan-{slug}-{sha}"
FRESH_ARTIFACT = "reconciler-fresh-plan-{digest}"
LIMIT = 65_000  # GitHub refuses comments over 65,535 characters
PLAN_MARKER = "<!-- reconciler-plan -->"


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def marker(kind: str, directory: str, environment: str, **extra: str) -> str:
    """A hidden line naming the pair (``--`` and ``>`` cannot end the HTML comment early)."""
    fields = {"directory": directory, "environment": environment, **extra}
    text = " ".join(f'{key}="{value}"' for key, value in fields.items())
    return f"<!-- reconciler-{kind} {text.replace('--', '-').replace('>', '')} -->"


def workdir() -> Path:
    """Where the steps keep plan.json, plan.md, plan.err, apply.log: $RUNNER_TEMP/reconciler."""
    return Path(env("RUNNER_TEMP", ".")) / "reconciler"


def digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def fence(text: str) -> str:
    ticks = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", text))])
    return f"{ticks}text\n{text.strip() or '(no output)'}\n{ticks}"


def run_url() -> str:
    return f"{env('GITHUB_SERVER_URL', 'https://github.com')}/{env('GITHUB_REPOSITORY')}/actions/runs/{env('GITHUB_RUN_ID')}"


def fit(head: str, content: str, footer: str) -> str:
    room = LIMIT - len(head) - len(footer) - 200
    if len(content) > room:
        content = content[:room] + "\n\n… (cut to fit a comment; see the job summary)"
    return head + content + footer


def upsert_comment(github: GitHub, number: int, head: str, body: str) -> None:
    """Edit the bot's comment that starts with ``head``, or post a new one."""
    comments = github.pages(f"/issues/{number}/comments")
    mine = next(
        (
            c
            for c in comments
            if (c.get("user") or {}).get("type") == "Bot" and (c.get("body") or "").startswith(head)
        ),
        None,
    )
    if mine:
        github.call("PATCH", f"/issues/comments/{mine['id']}", {"body": body})
        print(f"Updated comment {mine.get('html_url', mine['id'])}")
    else:
        created = github.call("POST", f"/issues/{number}/comments", {"body": body})
        print(f"Created comment {created.get('html_url', created.get('id'))}")


def strip_plan_marker(text: str) -> str:
    return text[len(PLAN_MARKER) :].lstrip("\r\n") if text.startswith(PLAN_MARKER) else text


# -- plan ------------------------------------------------------------------------------------


def plan_comment(github: GitHub) -> None:
    """DIRECTORY, ENV_LABEL, EXIT_CODE, ARTIFACT; plan.md, plan.err, plan.json in ``workdir()``."""
    directory, label, out = env("DIRECTORY"), env("ENV_LABEL"), workdir()
    code, artifact = env("EXIT_CODE"), env("ARTIFACT")
    pull = event().get("pull_request") or {}
    head = marker("plan", directory, label) + "\n"
    content = plan_section(out, code, f"`{directory}` in `{label}`")
    content = re.sub(
        r"^## (.*)$", rf"## \1: `{directory}` in `{label}`", content, count=1, flags=re.M
    )
    saved = out / "plan.json"
    where = (
        f"saved plan `{artifact}` (sha256 `{digest_of(saved)}`): the one the merge applies"
        if saved.is_file()
        else "no plan was saved"
    )
    sha = str(pull.get("head", {}).get("sha") or env("GITHUB_SHA"))[:12]
    footer = (
        f"\n\n---\n<sub>`{directory}` · environment `{label}` · commit {sha} · {where} · "
        f"[workflow run]({run_url()})</sub>"
    )
    body = fit(head, scrub(content), footer)
    add_summary(body)
    if pull.get("number"):
        upsert_comment(github, int(pull["number"]), head, body)


def plan_section(out: Path, code: str, what: str) -> str:
    plan_md = strip_plan_marker(read(out / "plan.md"))
    if code in ("0", "2"):
        return plan_md
    if code == "3":
        why = "\n".join(line for line in read(out / "plan.err").splitlines() if "Error: " in line)
        return (
            f"> [!CAUTION]\n> Apply of this plan would be refused (exit 3): a safety rule. "
            "An in-use replace or delete goes through only with `allow-destroy-in-use: true` "
            f"in both the plan and the apply workflow.\n\n{fence(why)}\n\n{plan_md}"
        )
    err = "\n".join(read(out / "plan.err").splitlines()[-60:])[-6000:]
    return f"## Inference endpoints: plan failed\n\n`reconciler plan` exited with code {code} for {what}.\n\n{fence(err)}"


# -- apply -----------------------------------------------------------------------------------


def merged_pull_request(github: GitHub, sha: str) -> dict[str, Any] | None:
    pulls = github.call("GET", f"/commits/{sha}/pulls") or []
    merged = [p for p in pulls if p.get("merge_commit_sha") == sha or p.get("merged_at")]
    return merged[0] if merged else None


def find_plans(github: GitHub) -> None:
    """TARGETS (``reconciler targets --format github-matrix`` of the merge), GITHUB_SHA.

    Every pair the merge touches is in the matrix; one without a reviewed plan has an empty
    ``artifact-id``, and its apply job fails saying so (nothing unreviewed is applied).
    """
    targets = json.loads(env("TARGETS") or '{"include": []}')["include"]
    pull = merged_pull_request(github, env("GITHUB_SHA"))
    head_sha = str(pull["head"]["sha"]) if pull else ""
    entries = []
    for target in targets:
        name = PLAN_ARTIFACT.format(slug=target["slug"], sha=head_sha) if pull else ""
        found = [
            a
            for a in (github.pages("/actions/artifacts", "artifacts", name=name) if name else [])
            if a.get("name") == name and not a.get("expired")
        ]
        newest = max(found, key=lambda a: str(a.get("created_at", "")), default=None)
        entries.append(
            {
                **target,
                "pull-request": str(pull["number"]) if pull else "",
                "head-sha": head_sha,
                "artifact": name,
                "artifact-id": str(newest["id"]) if newest else "",
            }
        )
    set_output("matrix", json.dumps({"include": entries}, separators=(",", ":")))
    set_output("count", str(len(entries)))
    set_output("pull-request", str(pull["number"]) if pull else "")
    lines = [f"## reconciler: reviewed plans for {env('GITHUB_SHA')[:12]}", ""]
    if pull:
        lines += [f"Merged pull request #{pull['number']}, head commit {head_sha[:12]}.", ""]
    for entry in entries:
        if entry["artifact-id"]:
            lines.append(f"- {entry['name']}: `{entry['artifact']}`")
        else:
            why = (
                "no merged pull request has this commit"
                if pull is None
                else "the pull request has no saved plan for its head commit"
            )
            lines.append(f"- **{entry['name']}: not applied**, {why}")
            print(
                f"::error title=no reviewed plan::{entry['name']}: {why}; nothing is applied there"
            )
    add_summary("\n".join(lines))


def fetch_plan(github: GitHub) -> None:
    """ARTIFACT_ID, DEST, and DIGEST when the plan must be exactly that one."""
    dest = Path(env("DEST"))
    data = github.download(f"/actions/artifacts/{env('ARTIFACT_ID')}/zip")
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for member in archive.namelist():
            if member in ("plan.json", "plan.md", "pair.json"):
                (dest / member).write_bytes(archive.read(member))
    if not (dest / "plan.json").is_file():
        raise ReconcilerError(f"artifact {env('ARTIFACT_ID')} holds no plan.json")
    digest = digest_of(dest / "plan.json")
    if env("DIGEST") and digest != env("DIGEST"):
        raise ReconcilerError(f"the plan's sha256 is {digest}, not the approved {env('DIGEST')}")
    set_output("digest", digest)
    pair = json.loads(read(dest / "pair.json") or "{}")
    for key in ("directory", "environment", "label", "pull-request"):
        set_output(key, str(pair.get(key, "")))


def find_fresh(github: GitHub) -> None:
    """PLAN_DIGEST (a dispatch names one fresh plan), else FRESH_RUN_ID (this run's)."""
    digest = env("PLAN_DIGEST").strip().lower()
    if digest:
        name = FRESH_ARTIFACT.format(digest=digest)
        found = [
            a
            for a in github.pages("/actions/artifacts", "artifacts", name=name)
            if a["name"] == name
        ]
        if not found:
            raise ReconcilerError(f"no fresh plan with sha256 {digest} (artifact {name})")
    elif env("FRESH_RUN_ID"):
        prefix = FRESH_ARTIFACT.format(digest="")
        found = [
            a
            for a in github.pages(f"/actions/runs/{env('FRESH_RUN_ID')}/artifacts", "artifacts")
            if a["name"].startswith(prefix)
        ]
    else:
        found = []
    entries = []
    for artifact in found:
        with zipfile.ZipFile(
            io.BytesIO(github.download(f"/actions/artifacts/{artifact['id']}/zip"))
        ) as archive:
            pair = (
                json.loads(archive.read("pair.json")) if "pair.json" in archive.namelist() else {}
            )
        entries.append(
            {
                "artifact-id": str(artifact["id"]),
                "digest": artifact["name"][len(FRESH_ARTIFACT.format(digest="")) :],
                **{
                    k: str(pair.get(k, ""))
                    for k in ("directory", "environment", "label", "pull-request")
                },
                "name": f"{pair.get('directory', '?')} ({pair.get('label', '?')})",
            }
        )
    set_output("matrix", json.dumps({"include": entries}, separators=(",", ":")))
    set_output("count", str(len(entries)))


APPLY_HEADLINES = {
    "0": "applied",
    "3": (
        "refused by a safety rule: nothing was written. To replace or delete an endpoint in "
        "use on purpose, set `allow-destroy-in-use: true` in both caller workflows in a pull "
        "request (a change of the workflows plans every pair again)"
    ),
    "4": "applied, but reading back shows the cluster differs from the plan",
}


def apply_comment(github: GitHub) -> None:
    """DIRECTORY, ENV_LABEL, APPLY_CODE, (apply.log and fresh/ in ``workdir()``), STALE, PULL_REQUEST,
    FRESH_DIGEST, FRESH_CODE, APPROVAL_ENVIRONMENT, PLAN_DIGEST (what was applied)."""
    directory, label, out = env("DIRECTORY"), env("ENV_LABEL"), workdir()
    code, stale = env("APPLY_CODE"), env("STALE") == "true"
    log = scrub(read(out / "apply.log"))
    applied = env("PLAN_DIGEST")
    head = marker("apply", directory, label, plan=applied[:16]) + "\n"
    if stale:
        lines = [
            f"## reconciler apply: `{directory}` in `{label}`: the reviewed plan is stale",
            "",
            "The cluster moved since the plan was reviewed, so **nothing was applied** there:",
            "",
            fence("\n".join(x for x in log.splitlines() if "Error: " in x) or log[-2000:]),
        ]
        lines += fresh_section(out, directory, label)
    else:
        outcome = APPLY_HEADLINES.get(
            code, f"failed (exit {code}): nothing more was written after the error"
        )
        lines = [f"## reconciler apply: `{directory}` in `{label}`: {outcome}", ""]
        if applied:
            lines += [f"Applied the saved plan with sha256 `{applied}`.", ""]
        lines += [
            "<details><summary>apply log</summary>",
            "",
            fence(log[-50000:]),
            "",
            "</details>",
        ]
    footer = f"\n\n---\n<sub>[workflow run]({run_url()})</sub>"
    body = fit(head, "\n".join(lines), footer)
    add_summary(body)
    if env("PULL_REQUEST"):
        upsert_comment(github, int(env("PULL_REQUEST")), head, body)


def fresh_section(out: Path, directory: str, label: str) -> list[str]:
    fresh, digest, code = out / "fresh", env("FRESH_DIGEST"), env("FRESH_CODE")
    if not digest:
        return [
            "",
            "A fresh plan could not be made:",
            "",
            plan_section(fresh, code, f"`{directory}` in `{label}`"),
        ]
    approval = env("APPROVAL_ENVIRONMENT")
    workflow = env("GITHUB_WORKFLOW", "the apply workflow")
    ways = [
        f"- run the workflow `{workflow}` by hand with `plan-digest: {digest}` "
        f"(`gh workflow run '{workflow}' -f plan-digest={digest}`)"
    ]
    if approval:
        ways.insert(
            0, f"- approve the waiting deployment to the `{approval}` environment of this run"
        )
    return [
        "",
        f"A fresh plan was made from the merged specs (sha256 `{digest}`). "
        "Review it below; it is applied only after approval:",
        "",
        *ways,
        "",
        plan_section(fresh, code, f"`{directory}` in `{label}`"),
    ]


# -- drift -----------------------------------------------------------------------------------


def drift_issue(github: GitHub) -> None:
    """DRIFT (true/false), DIRECTORY, ENV_LABEL, ISSUE_LABEL, ISSUE_TITLE; drift.md in ``workdir()``."""
    directory, label = env("DIRECTORY"), env("ENV_LABEL")
    issue_label = env("ISSUE_LABEL") or "reconciler-drift"
    title = env("ISSUE_TITLE") or f"Drift detected: {directory} ({label})"
    head = marker("drift", directory, label)
    found = [
        i
        for i in github.pages("/issues", state="open", labels=issue_label)
        if not i.get("pull_request") and (i.get("body") or "").startswith(head)
    ]
    existing = found[0] if found else None
    if env("DRIFT") != "true":
        if existing:
            github.call(
                "POST",
                f"/issues/{existing['number']}/comments",
                {
                    "body": f"No drift in `{directory}` ({label}) any more ([workflow run]({run_url()})). Closing."
                },
            )
            github.call(
                "PATCH",
                f"/issues/{existing['number']}",
                {"state": "closed", "state_reason": "completed"},
            )
            print(f"Closed issue #{existing['number']}")
        set_output("issue-number", "")
        return
    report = scrub(strip_plan_marker(read(workdir() / "drift.md")).strip())
    report_digest = hashlib.sha256(report.encode()).hexdigest()[:16]
    body = fit(
        f"{head}\n<!-- report {report_digest} -->\n",
        report,
        f"\n\n---\n<sub>`{directory}` · environment `{label}` · found by [workflow run]({run_url()}) · "
        "the next apply restores the declared state; this issue closes itself when a drift run finds none.</sub>",
    )
    if existing:
        if f"<!-- report {report_digest} -->" in (existing.get("body") or ""):
            print(f"Unchanged drift; issue #{existing['number']} stays open, no comment.")
        else:
            github.call("PATCH", f"/issues/{existing['number']}", {"title": title, "body": body})
            github.call(
                "POST",
                f"/issues/{existing['number']}/comments",
                {
                    "body": f"The drift report changed ([workflow run]({run_url()})); the issue body shows the latest."
                },
            )
            print(f"Updated issue #{existing['number']}")
        set_output("issue-number", str(existing["number"]))
        return
    labels = [x["name"] for x in github.pages("/labels")]
    if issue_label not in labels:
        github.call(
            "POST",
            "/labels",
            {
                "name": issue_label,
                "color": "d93f0b",
                "description": "Inference endpoints differ from the desired state",
            },
        )
    created = github.call(
        "POST", "/issues", {"title": title, "body": body, "labels": [issue_label]}
    )
    print(f"Opened issue #{created['number']}")
    set_output("issue-number", str(created["number"]))


COMMANDS = {
    "plan-comment": plan_comment,
    "find-plans": find_plans,
    "fetch-plan": fetch_plan,
    "find-fresh": find_fresh,
    "apply-comment": apply_comment,
    "drift-issue": drift_issue,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconciler.github", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    arguments = parser.parse_args(argv)
    try:
        COMMANDS[arguments.command](GitHub.from_environment())
    except ReconcilerError as error:
        print(f"::error title=reconciler {arguments.command}::{scrub(str(error))}", flush=True)
        print(f"Error: {scrub(str(error))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
