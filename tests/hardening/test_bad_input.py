"""A corpus of bad input driven through the real CLI: each case fails cleanly and writes nothing.

Every case builds a desired-state directory (always with one valid spec, ``good.yaml``, so that a
partial apply would show), starts a sandbox on 127.0.0.1, and runs ``validate``, ``plan`` and
``apply --auto-approve`` in process (the commands that make sense for it). Each command must
exit 1, print ``Error:`` and the ``file:line`` of the problem where there is a file, print no
traceback, finish within ``TIME_BOUND`` seconds, and send no write request (the sandbox's request
log may hold reads and ``DELETE ...?dry_run=true`` only: no endpoint, no state document, no lock);
except for secret references (resolved only when a value is sent), no request at all.

All cases run once per module, a few at a time (``corpus.run_parallel``); each (case, command)
pair is then its own test item.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from reconciler.sandbox import SandboxServer
from tests.e2e.helpers import Run
from tests.hardening.corpus import AZURE, SECRET_ENV, SHIFT, run_parallel, timed_cli

TIME_BOUND = 10.0
WRITES = ("PUT", "POST", "DELETE")
Build = Callable[[Path, SandboxServer], None]


@dataclass(frozen=True)
class Case:
    name: str
    files: dict[str, str | bytes] = field(default_factory=dict)  # relative to specs/
    where: str | None = r"specs/bad\.yaml:\d+:\d+"  # a regex stderr must match
    message: str = ""  # a fragment stderr must contain (case-insensitive)
    commands: tuple[str, ...] = ("validate", "plan", "apply")
    args: tuple[str, ...] = ()  # extra options for plan / apply
    env: dict[str, str] = field(default_factory=dict)
    build: Build | None = None  # for what files cannot say (symlinks, saved plans)
    xfail: dict[str, str] = field(
        default_factory=dict
    )  # command -> reason (a bug outside this part)
    reads: bool = False  # found only after reading the cluster (which is fine: nothing is written)


def bad(
    text: str | bytes, line: int | None = None, message: str = "", **options: Any
) -> dict[str, Any]:
    where = rf"specs/bad\.yaml:{line}:\d+" if line else r"specs/bad\.yaml:\d+:\d+"
    return {"files": {"bad.yaml": text}, "where": where, "message": message, **options}


def settings(
    text: str | bytes, line: int | None = None, message: str = "", **options: Any
) -> dict[str, Any]:
    where = rf"specs/reconciler\.yaml:{line}:\d+" if line else r"specs/reconciler\.yaml"
    return {"files": {"reconciler.yaml": text}, "where": where, "message": message, **options}


def alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def block_nesting(depth: int) -> str:
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)) + f"{'  ' * depth}leaf\n"


def symlink(name: str, target: str | Callable[[Path], Path]) -> Build:
    def build(root: Path, cluster: SandboxServer) -> None:
        outside = root.parent / "outside"
        outside.mkdir(exist_ok=True)
        (outside / "stolen.yaml").write_text(
            SHIFT.replace("shift-rerank", "stolen"), encoding="utf-8"
        )
        (outside / "nested").mkdir(exist_ok=True)
        (outside / "nested" / "more.yaml").write_text(
            SHIFT.replace("shift-rerank", "more"), encoding="utf-8"
        )
        destination = target(root) if callable(target) else target
        os.symlink(destination, root / name)

    return build


def saved_plan(document: Any) -> Build:
    """Write specs/../plan.json."""

    def build(root: Path, cluster: SandboxServer) -> None:
        text = document if isinstance(document, (str, bytes)) else json.dumps(document)
        path = root.parent / "plan.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return build


SHIFT_BODY = {
    "inference_id": "shift-rerank",
    "task_type": "rerank",
    "service": "openshift_ai",
    "service_settings": {"url": "https://rerank.example/v1", "api_key": "${env:SHIFT_KEY}"},
}
PLAN_ONLY = ("apply-plan",)
SECRETS_AT_SEND: dict[str, Any] = {
    "commands": ("apply",),
    "reads": True,
}  # references are resolved only when a value is sent
ENVS = "environments:\n  staging:\n    url: {url}\n"

CASES: list[Case] = [
    # -- YAML syntax ---------------------------------------------------------------------------
    Case(
        "yaml-unclosed-flow",
        **bad(
            SHIFT.replace("  url: https://rerank.example/v1", "  url: [https://x"),
            None,
            "YAML syntax error",
        ),
    ),
    Case(
        "yaml-bad-indentation",
        **bad("inference_id: x\n  task_type: rerank\n", 2, "YAML syntax error"),
    ),
    Case("yaml-tab-indentation", **bad(SHIFT.replace("  url:", "\turl:"), 5, "YAML syntax error")),
    Case(
        "yaml-unclosed-quote",
        **bad(SHIFT.replace("bge-reranker-v2-m3", '"bge-reranker'), None, "YAML syntax error"),
    ),
    Case(
        "yaml-mapping-in-scalar",
        **bad(
            SHIFT.replace("model_id: bge", "model_id: a: bge"), 6, "mapping values are not allowed"
        ),
    ),
    Case(
        "yaml-python-tag",
        **bad("inference_id: !!python/object/apply:os.system ['true']\n", 1, "YAML"),
    ),
    Case("yaml-unknown-tag", **bad(SHIFT.replace("top_n: 3", "top_n: !Ref three"), 9, "YAML")),
    Case("yaml-undefined-alias", **bad(SHIFT.replace("top_n: 3", "top_n: *nothing"), 9, "alias")),
    Case(
        "yaml-bad-escape",
        **bad(SHIFT.replace("bge-reranker-v2-m3", '"bad \\q escape"'), 6, "escape"),
    ),
    Case("yaml-bad-directive", **bad("%YAML 2.0\n---\n" + SHIFT, 1, "YAML")),
    Case("yaml-garbage-after-end", **bad(SHIFT + "...\n]]] garbage\n", 11, "YAML syntax error")),
    Case("yaml-list-after-mapping", **bad(SHIFT + "- item\n", 10, "YAML syntax error")),
    # -- duplicate keys and ids ---------------------------------------------------------------------
    Case("dup-top-key", **bad(SHIFT + "service: openshift_ai\n", 10, "duplicate key 'service'")),
    Case(
        "dup-nested-key",
        **bad(
            SHIFT.replace("  model_id", "  url: https://other\n  model_id"),
            6,
            "duplicate key 'url'",
        ),
    ),
    Case("dup-quoted-key", **bad(SHIFT + '"task_type": rerank\n', 10, "duplicate key 'task_type'")),
    Case(
        "dup-secret-key",
        **bad(
            SHIFT.replace("task_settings:", "  api_key: ${env:AZURE_KEY}\ntask_settings:"),
            8,
            "duplicate key 'api_key'",
        ),
    ),
    Case(
        "dup-id-across-files",
        files={"a.yaml": SHIFT, "b.yaml": SHIFT},
        where=r"specs/b\.yaml:1:\d+",
        message="specs/a.yaml:1",
    ),
    Case("dup-id-same-file", **bad(SHIFT + "---\n" + SHIFT, 11, "declared twice")),
    Case(
        "dup-id-in-subfolder",
        files={"sub/deeper/bad.yaml": AZURE},
        where=r"specs/sub/deeper/bad\.yaml:1:\d+",
        message="declared twice",
    ),
    # -- documents that are not endpoints ------------------------------------------------------------
    Case("doc-list", **bad("- a\n- b\n", 1, "must be a mapping")),
    Case("doc-scalar", **bad("just a sentence\n", 1, "must be a mapping")),
    Case("doc-null", **bad("~\n", 1, "must be a mapping")),
    Case("doc-second-is-list", **bad(SHIFT + "---\n- x\n", 11, "must be a mapping")),
    Case("empty-file", **bad(b"", 1, "no document")),
    Case("comments-only", **bad("# nothing\n# here\n", 1, "no document")),
    Case("separator-only", **bad("---\n", 1, "no document")),
    Case("whitespace-only", **bad("   \n\n      \n", 1, "no document")),
    # -- encodings and binary files ---------------------------------------------------------------
    Case("utf16-le-bom", **bad(SHIFT.encode("utf-16"), 1, "UTF-16")),
    Case("utf16-be-no-bom", **bad(SHIFT.encode("utf-16-be"), 1, "UTF-16")),
    Case("utf32-bom", **bad(SHIFT.encode("utf-32"), 1, "UTF-32")),
    Case(
        "latin-1",
        **bad(SHIFT.replace("bge-reranker-v2-m3", "modèle").encode("latin-1"), 6, "UTF-8"),
    ),
    Case(
        "utf8-bom-keeps-lines",
        **bad(b"\xef\xbb\xbf" + (SHIFT + "service: x\n").encode(), 10, "duplicate key"),
    ),
    Case(
        "binary-png", **bad(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), 1, "binary")
    ),
    Case("binary-no-nul", **bad(bytes(range(128, 256)) * 4, 1, "UTF-8")),
    Case("binary-elf", **bad(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64, 1, "binary")),
    # -- size, depth, aliases -------------------------------------------------------------------------
    Case("file-5-mib", **bad(SHIFT + "# " + "x" * (5 * 1024 * 1024) + "\n", 1, "larger than")),
    Case("many-empty-documents", **bad("---\n{}\n" * 20_000, None, "")),
    Case(
        "deep-flow-sequence",
        **bad("inference_id: x\nservice_settings: " + "[" * 10_000 + "]" * 10_000 + "\n", None, ""),
    ),
    Case("deep-flow-mapping", **bad("{a: " * 10_000 + "1" + "}" * 10_000 + "\n", None, "")),
    Case("deep-block-nesting", **bad(block_nesting(200), None, "nesting")),
    Case("alias-bomb", **bad(alias_bomb(), None, "alias bomb")),
    Case("alias-recursive", **bad("inference_id: &a [*a]\n", 1, "")),
    Case("merge-key", **bad("base: &b {url: x}\nservice_settings:\n  <<: *b\n", 3, "merge keys")),
    # -- symbolic links ---------------------------------------------------------------------------------
    Case(
        "symlink-file-outside",
        build=symlink("bad.yaml", lambda root: root.parent / "outside" / "stolen.yaml"),
        message="outside",
    ),
    Case("symlink-to-etc-passwd", build=symlink("bad.yaml", "/etc/passwd"), message="outside"),
    Case(
        "symlink-dir-outside",
        build=symlink("linked", lambda root: root.parent / "outside"),
        where=r"specs/linked",
        message="outside",
    ),
    Case(
        "symlink-dangling", build=symlink("bad.yaml", "missing-target.yaml"), message="cannot read"
    ),
    Case("symlink-loop", build=symlink("bad.yaml", "bad.yaml"), message=""),
    # -- secret references (resolved only when sent: apply) ------------------------------------------
    Case(
        "secret-file-is-directory",
        files={
            "bad.yaml": SHIFT.replace("${env:SHIFT_KEY}", "${file:tokens}"),
            "tokens/readme.txt": "x",
        },
        where=r"specs/bad\.yaml:7:\d+",
        message="directory",
        **SECRETS_AT_SEND,
    ),
    Case(
        "secret-file-missing",
        **bad(
            SHIFT.replace("${env:SHIFT_KEY}", "${file:missing.token}"),
            7,
            "missing.token",
            **SECRETS_AT_SEND,
        ),
    ),
    Case(
        "secret-file-not-utf8",
        files={
            "bad.yaml": SHIFT.replace("${env:SHIFT_KEY}", "${file:key.bin}"),
            "key.bin": b"\xff\xfe\xfa",
        },
        where=r"specs/bad\.yaml:7:\d+",
        message="UTF-8",
        **SECRETS_AT_SEND,
    ),
    Case(
        "secret-env-undefined",
        **bad(
            SHIFT.replace("SHIFT_KEY", "NOT_SET_ANYWHERE_4711"),
            7,
            "NOT_SET_ANYWHERE_4711",
            **SECRETS_AT_SEND,
        ),
    ),
    Case(
        "secret-env-empty",
        **bad(
            SHIFT.replace("SHIFT_KEY", "EMPTY_SECRET"),
            7,
            "empty",
            **SECRETS_AT_SEND,
            env={"EMPTY_SECRET": ""},
        ),
    ),
    Case(
        "secret-file-empty",
        files={
            "bad.yaml": SHIFT.replace("${env:SHIFT_KEY}", "${file:empty.token}"),
            "empty.token": "",
        },
        where=r"specs/bad\.yaml:7:\d+",
        message="empty",
        **SECRETS_AT_SEND,
    ),
    Case(
        "secret-two-unresolvable",
        files={
            "bad.yaml": SHIFT.replace("SHIFT_KEY", "NOPE_ONE"),
            "bad2.yaml": AZURE.replace("azure-embed", "x").replace("AZURE_KEY", "NOPE_TWO"),
        },
        where=r"specs/bad2?\.yaml:[78]:\d+",
        message="NOPE_TWO",
        **SECRETS_AT_SEND,
    ),
    Case(
        "secret-literal",
        **bad(SHIFT.replace("${env:SHIFT_KEY}", "sk-literal-value"), 7, "is a secret"),
    ),
    Case(
        "secret-reference-empty-name",
        **bad(SHIFT.replace("${env:SHIFT_KEY}", "${env:}"), 7, "is a secret"),
    ),
    Case(
        "secret-reference-suffix",
        **bad(SHIFT.replace("${env:SHIFT_KEY}", "${env:SHIFT_KEY}-2"), 7, "is a secret"),
    ),
    Case(
        "secret-from-variable",
        files={
            "bad.yaml": SHIFT.replace("${env:SHIFT_KEY}", "${var:key}"),
            "reconciler.yaml": "variables:\n  key: sk-smuggled-in\n",
        },
        where=r"specs/bad\.yaml:7:\d+",
        message="is a secret",
    ),
    # -- variables, environments, reconciler.yaml ----------------------------------------------------
    Case(
        "variable-undefined",
        **bad(SHIFT.replace("rerank.example", "${var:nohost}"), 5, "undefined variable"),
    ),
    # references only where they belong: nothing is ever sent as a literal ${...}
    Case(
        "reference-env-in-url",
        **bad(SHIFT.replace("https://rerank.example/v1", "${env:HFURL}"), 5, "secret field"),
        env={"HFURL": "https://rerank.example/v1"},
    ),
    Case(
        "reference-file-in-model-id",
        **bad(SHIFT.replace("bge-reranker-v2-m3", "${file:model.txt}"), 6, "secret field"),
    ),
    Case(
        "reference-unterminated-variable",
        **bad(SHIFT.replace("bge-reranker-v2-m3", "${var:nope"), 6, "is not a reference"),
    ),
    Case(
        "reference-unknown-kind",
        **bad(SHIFT.replace("rerank.example", "${HOST}"), 5, "is not a reference"),
    ),
    Case(
        "reference-in-task-settings",
        **bad(
            AZURE.replace("azure-embed", "azure-two") + "task_settings:\n  user: ${env:USER}\n",
            10,
            "secret field",
        ),
    ),
    Case(
        "env-unknown",
        files={"reconciler.yaml": ENVS},
        commands=("plan", "apply"),
        args=("--env", "qa"),
        where=None,
        message="unknown environment 'qa'",
    ),
    Case(
        "env-without-settings-file",
        commands=("plan", "apply"),
        args=("--env", "staging"),
        where=None,
        message="--env staging",
    ),
    # credentials travel with their URL
    Case(
        "env-url-and-shell-url-differ",
        files={"reconciler.yaml": ENVS},
        commands=("plan", "apply"),
        args=("--env", "staging"),
        env={"ELASTICSEARCH_URL": "http://127.0.0.1:9"},
        where=None,
        message="two different clusters are named",
    ),
    Case(
        "env-api-key-env-unset",
        files={"reconciler.yaml": ENVS + "    api_key_env: NOPE_KEY\n"},
        commands=("plan", "apply"),
        args=("--env", "staging"),
        where=r"specs/reconciler\.yaml:4",
        message="NOPE_KEY (api_key_env), which is not set",
    ),
    Case(
        "settings-variable-holds-a-reference",
        **settings("variables:\n  host: ${env:HOST}\n", 2, "without '${'"),
    ),
    Case("settings-syntax-error", **settings("environments: [\n", 2, "YAML syntax error")),
    Case("settings-is-a-list", **settings("- staging\n- production\n", 1, "mapping")),
    Case("settings-unknown-key", **settings("colour: blue\n", 1, "unknown setting 'colour'")),
    Case(
        "settings-duplicate-key", **settings("state_index: a\nstate_index: b\n", 2, "duplicate key")
    ),
    Case("settings-utf16", **settings(("state_index: x\n").encode("utf-16"), 1, "UTF-16")),
    Case(
        "settings-environments-list",
        **settings("environments:\n  - staging\n", 1, "environments", args=("--env", "staging")),
    ),
    Case(
        "settings-environment-scalar",
        **settings("environments:\n  staging: 5\n", 2, "staging", args=("--env", "staging")),
    ),
    Case("settings-variables-list", **settings("variables: [a, b]\n", 1, "variables")),
    Case(
        "settings-url-not-string",
        **settings("environments:\n  staging:\n    url: 5\n", 3, "url", args=("--env", "staging")),
    ),
    Case(
        "settings-insecure-string",
        **settings(
            "environments:\n  staging:\n    url: {url}\n    insecure: 'no'\n",
            4,
            "insecure",
            args=("--env", "staging"),
        ),
    ),
    Case("settings-state-index-invalid", **settings("state_index: Bad Index\n", 1, "state_index")),
    Case(
        "settings-unknown-env-key",
        **settings(
            "environments:\n  staging:\n    url: {url}\n    colour: red\n",
            4,
            "unknown environment setting",
            args=("--env", "staging"),
            commands=("plan", "apply"),
        ),
    ),
    # -- schema: services, task types, ids, types, chunking ---------------------------------------
    Case(
        "unknown-service",
        **bad(SHIFT.replace("service: openshift_ai", "service: openshift"), 3, "service"),
    ),
    Case(
        "unknown-task-type",
        **bad(SHIFT.replace("task_type: rerank", "task_type: summarise"), 2, "task_type"),
    ),
    Case(
        "unsupported-task-type",
        **bad(SHIFT.replace("task_type: rerank", "task_type: sparse_embedding"), 2, "task_type"),
    ),
    Case("id-capitals", **bad(SHIFT.replace("shift-rerank", "Shift-Rerank"), 1, "inference_id")),
    Case(
        "id-leading-dot",
        **bad(
            SHIFT.replace("shift-rerank", ".shift-rerank"),
            1,
            "inference_id: '.shift-rerank' is reserved for Elasticsearch's preconfigured endpoints",
        ),
    ),
    Case("id-all", **bad(SHIFT.replace("shift-rerank", "_all"), 1, "inference_id")),
    Case("id-trailing-dash", **bad(SHIFT.replace("shift-rerank", "shift-"), 1, "inference_id")),
    Case(
        "id-with-space", **bad(SHIFT.replace("shift-rerank", "'shift rerank'"), 1, "inference_id")
    ),
    Case("id-empty", **bad(SHIFT.replace("shift-rerank", "''"), 1, "inference_id")),
    Case("id-integer", **bad(SHIFT.replace("shift-rerank", "12345"), 1, "inference_id")),
    Case("id-missing", **bad(SHIFT.replace("inference_id: shift-rerank\n", ""), 1, "inference_id")),
    Case(
        "wrong-type-top-n", **bad(SHIFT.replace("top_n: 3", "top_n: three"), 9, "expected integer")
    ),
    Case(
        "wrong-type-boolean-for-int",
        **bad(SHIFT.replace("top_n: 3", "top_n: yes"), 9, "expected integer"),
    ),
    Case(
        "wrong-type-settings-list",
        **bad(
            SHIFT.split("service_settings:")[0] + "service_settings: [a, b]\n",
            4,
            "service_settings",
        ),
    ),
    Case(
        "wrong-type-task-settings-scalar",
        **bad(SHIFT.replace("task_settings:\n  top_n: 3", "task_settings: 3"), 8, "task_settings"),
    ),
    Case(
        "wrong-type-date",
        **bad(
            AZURE.replace('"2024-02-01"', "2024-02-01").replace("azure-embed", "x"),
            7,
            "api_version",
        ),
    ),
    Case("unknown-field", **bad(SHIFT + "colour: blue\n", 10, "unknown field 'colour'")),
    Case(
        "chunking-on-rerank",
        **bad(SHIFT + "chunking_settings:\n  strategy: none\n", 10, "chunking_settings"),
    ),
    Case(
        "chunking-word-overlap",
        **bad(
            AZURE.replace("azure-embed", "x") + "chunking_settings:\n  strategy: word\n"
            "  max_chunk_size: 100\n  overlap: 60\n",
            12,
            "at most half",
        ),
    ),
    Case(
        "chunking-sentence-overlap",
        **bad(
            AZURE.replace("azure-embed", "x") + "chunking_settings:\n"
            "  strategy: sentence\n  max_chunk_size: 100\n  sentence_overlap: 2\n",
            12,
            "sentence_overlap",
        ),
    ),
    Case(
        "chunking-unknown-strategy",
        **bad(
            AZURE.replace("azure-embed", "x") + "chunking_settings:\n  strategy: paragraph\n",
            10,
            "strategy",
        ),
    ),
    Case(
        "chunking-size-too-small",
        **bad(
            AZURE.replace("azure-embed", "x") + "chunking_settings:\n"
            "  strategy: sentence\n  max_chunk_size: 19\n",
            11,
            ">= 20",
        ),
    ),
    Case(
        "rate-limit-zero",
        **bad(
            SHIFT.replace("  model_id", "  rate_limit:\n    requests_per_minute: 0\n  model_id"),
            7,
            "requests_per_minute",
        ),
    ),
    # -- saved plans ----------------------------------------------------------------------------------
    Case(
        "plan-file-garbage",
        commands=PLAN_ONLY,
        where=r"plan\.json",
        message="not a saved plan",
        build=saved_plan("this is not json {"),
    ),
    Case(
        "plan-file-binary",
        commands=PLAN_ONLY,
        where=r"plan\.json",
        message="not a saved plan",
        build=saved_plan(bytes(range(256))),
    ),
    Case(
        "plan-file-json-list",
        commands=PLAN_ONLY,
        where=r"plan\.json",
        message="not a saved plan",
        build=saved_plan([1, 2, 3]),
    ),
    Case(
        "plan-file-wrong-version",
        commands=PLAN_ONLY,
        where=r"plan\.json",
        message="version",
        build=saved_plan({"format_version": "1", "changes": [], "saved": {"version": 99}}),
    ),
    # -- the command line -------------------------------------------------------------------------------
    Case(
        "directory-missing",
        files={},
        build=lambda root, cluster: _remove(root),
        where=r"specs",
        message="no such file or directory",
    ),
    Case(
        "plan-out-unwritable",
        commands=("plan",),
        args=("--out", "no/such/folder/plan.json"),
        where=None,
        message="plan.json",
        reads=True,
    ),
    Case(
        "ca-cert-not-pem",
        files={"not-a-cert.pem": "hello"},
        commands=("plan", "apply"),
        args=("--ca-cert", "specs/not-a-cert.pem", "--url", "{https}"),
        where=None,
        message="not-a-cert.pem",
    ),
    Case(
        "url-garbage",
        commands=("plan", "apply"),
        args=("--url", "not a url"),
        where=None,
        message="url",
    ),
    Case(
        "timeout-zero",
        commands=("plan", "apply"),
        args=("--timeout", "0"),
        where=None,
        message="timeout",
    ),
]


# Schema problems reach plan and apply by the same road as any spec problem (load, then validate,
# then nothing): apply, the command that could write, is run for them, and validate; plan is not.
_SCHEMA = (
    [case.name for case in CASES].index("unknown-service"),
    [case.name for case in CASES].index("plan-file-garbage"),
)
CASES[_SCHEMA[0] : _SCHEMA[1]] = [
    replace(case, commands=("validate", "apply")) for case in CASES[_SCHEMA[0] : _SCHEMA[1]]
]
# What the catalog does not know, the cluster may (a newer release): offline validate warns, and
# the cluster's GET _inference/_services refuses it at plan time (docs/new-services.md).
_AT_PLAN = {
    "unknown-service": "unknown service 'openshift': neither in the catalog nor offered",
    "unsupported-task-type": "not for 'sparse_embedding'",
}
CASES[:] = [
    replace(case, commands=("plan", "apply"), reads=True, message=_AT_PLAN[case.name])
    if case.name in _AT_PLAN
    else case
    for case in CASES
]


def _remove(root: Path) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        path.unlink() if not path.is_dir() else path.rmdir()
    root.rmdir()


# -- running the corpus --------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    run: Run
    seconds: float
    writes: tuple[str, ...]
    requests: int


def command_line(case: Case, command: str, url: str) -> tuple[str, ...]:
    extra = tuple(
        a.replace("{url}", url).replace("{https}", url.replace("http://", "https://"))
        for a in case.args
    )
    if "--url" not in extra:
        extra += ("--url", url)
    if command == "validate":
        return ("validate", "specs")
    if command == "plan":
        return ("plan", "specs", *extra)
    if command == "apply":
        return ("apply", "specs", "--auto-approve", *extra)
    return ("apply", "--plan", "plan.json", "--auto-approve", *extra)


def run_case(case: Case, base: Path) -> dict[str, Outcome]:
    workdir = base / case.name
    root = workdir / "specs"
    root.mkdir(parents=True)
    (root / "good.yaml").write_text(AZURE, encoding="utf-8")
    outcomes = {}
    with SandboxServer(port=0) as cluster:
        for name, content in case.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                content = content.replace("{url}", cluster.url).encode("utf-8")
            path.write_bytes(content)
        if case.build is not None:
            case.build(root, cluster)
        for command in case.commands:
            cluster.clear_requests()
            run, seconds = timed_cli(
                *command_line(case, command, cluster.url),
                cwd=workdir,
                env={**SECRET_ENV, **case.env},
                timeout=60,
            )
            writes = tuple(
                f"{r['method']} {r['path']}"
                for r in cluster.requests
                if r["method"] in WRITES and "dry_run" not in r.get("query", {})
            )
            outcomes[command] = Outcome(
                run=run, seconds=seconds, writes=writes, requests=len(cluster.requests)
            )
    return outcomes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Outcome]]:
    base = tmp_path_factory.mktemp("bad-input")
    results = run_parallel([lambda case=case: run_case(case, base) for case in CASES])
    return {case.name: outcome for case, outcome in zip(CASES, results, strict=True)}


def items() -> list[Any]:
    params = []
    for case in CASES:
        for command in case.commands:
            marks = (
                [pytest.mark.xfail(strict=True, reason=case.xfail[command])]
                if command in case.xfail
                else []
            )
            params.append(pytest.param(case, command, id=f"{case.name}-{command}", marks=marks))
    return params


def test_the_corpus_is_large_enough() -> None:
    assert len({case.name for case in CASES}) == len(CASES) >= 50


@pytest.mark.parametrize(("case", "command"), items())
def test_bad_input_fails_cleanly_and_writes_nothing(
    corpus: dict[str, dict[str, Outcome]], case: Case, command: str
) -> None:
    outcome = corpus[case.name][command]
    run = outcome.run
    shown = f"{command}: exit {run.code}\n--- stdout\n{run.stdout[-3000:]}\n--- stderr\n{run.stderr[-3000:]}"
    assert run.code == 1, shown
    assert "Traceback" not in run.output, shown
    assert "internal error" not in run.stderr, shown
    assert "Error:" in run.stderr, shown
    if case.where:
        assert re.search(case.where, run.stderr), f"expected {case.where!r} in stderr\n{shown}"
    if case.message:
        assert case.message.lower() in run.stderr.lower(), f"expected {case.message!r}\n{shown}"
    assert outcome.seconds < TIME_BOUND, f"took {outcome.seconds:.1f}s\n{shown}"
    assert outcome.writes == (), f"write requests sent: {outcome.writes}\n{shown}"
    if not case.reads:  # a problem in the input is found before any request at all
        assert outcome.requests == 0, f"{outcome.requests} requests sent\n{shown}"
    for secret in SECRET_ENV.values():
        assert secret not in run.output


def test_validate_checks_every_environment_of_reconciler_yaml(tmp_path: Path) -> None:
    """Offline validate has no --env: a variable defined per environment is fine, one missing in any is not."""
    root = tmp_path / "specs"
    root.mkdir()
    (root / "shift.yaml").write_text(
        SHIFT.replace("rerank.example", "${var:host}"), encoding="utf-8"
    )
    (root / "reconciler.yaml").write_text(
        "environments:\n  staging:\n    variables:\n      host: staging.example\n"
        "  production:\n    variables:\n      host: prod.example\n",
        encoding="utf-8",
    )
    ok, _ = timed_cli("validate", "specs", cwd=tmp_path)
    assert ok.code == 0 and "1 endpoint spec valid" in ok.stdout, ok.output
    (root / "reconciler.yaml").write_text(
        "environments:\n  staging:\n    variables:\n      host: staging.example\n  production: {}\n",
        encoding="utf-8",
    )
    missing, _ = timed_cli("validate", "specs", cwd=tmp_path)
    assert missing.code == 1, missing.output
    assert "specs/shift.yaml:5:" in missing.stderr and "environment 'production'" in missing.stderr
    assert "staging" not in missing.stderr
