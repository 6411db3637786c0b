"""``reconciler.yaml``: settings of a desired-state directory that are not endpoints.

Owns environments (cluster URL, names of the variables holding credentials,
``${var:NAME}`` values), the state index and state id, and how command-line
flags, environment variables and the file combine into one ``Connection``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

from reconciler.client import Connection
from reconciler.diagnostics import Diagnostic
from reconciler.errors import InputError
from reconciler.loader import SETTINGS_FILE, display_path, parse_documents, read_text
from reconciler.state import DEFAULT_INDEX

ENVIRONMENT_KEYS = {"url", "api_key_env", "username_env", "password_env", "ca_cert", "insecure",
                    "state_id", "variables"}
TOP_KEYS = {"state_index", "state_id", "environments", "variables"}


@dataclass(frozen=True, kw_only=True)
class Settings:
    state_index: str = DEFAULT_INDEX
    state_id: str = "default"
    environment: str | None = None
    url: str | None = None
    api_key_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    ca_cert: str | None = None
    insecure: bool = False
    variables: Mapping[str, str] = field(default_factory=dict)


def load_settings(directory: FsPath, environment: str | None) -> Settings:
    root = directory if directory.is_dir() else directory.parent
    path = root / SETTINGS_FILE
    if not path.exists():
        if environment:
            raise InputError(f"--env {environment}: no {SETTINGS_FILE} in {root} defines environments")
        return Settings()
    file = display_path(path)
    text, problem = read_text(path, root=None, file=file)
    documents, problems = parse_documents(text or "", file=file)
    problems = ([problem] if problem else []) + problems
    body: Any = documents[0].body if documents else {}
    source = documents[0].source if documents else None
    if problems or not isinstance(body, Mapping):
        raise InputError(f"{file} is not a valid settings file", problems or [
            Diagnostic(file=file, line=1, col=1, message="settings must be a mapping")])
    diagnostics = [Diagnostic(file=file, line=source.at((k,))[0], col=source.at((k,))[1],
                              message=f"unknown setting '{k}' (known: {', '.join(sorted(TOP_KEYS))})")
                   for k in body if k not in TOP_KEYS] if source else []
    environments = body.get("environments") or {}
    chosen: Mapping[str, Any] = {}
    if environment:
        if environment not in environments:
            known = ", ".join(sorted(environments)) or "none"
            raise InputError(f"unknown environment '{environment}' (defined in {file}: {known})")
        chosen = environments[environment] or {}
        for key in chosen:
            if key not in ENVIRONMENT_KEYS and source:
                line, col = source.at(("environments", environment, key))
                diagnostics.append(Diagnostic(file=file, line=line, col=col,
                                              message=f"unknown environment setting '{key}'"))
    if diagnostics:
        raise InputError(f"{file} has unknown settings", diagnostics)
    variables = {**{str(k): str(v) for k, v in (body.get("variables") or {}).items()},
                 **{str(k): str(v) for k, v in (chosen.get("variables") or {}).items()}}
    return Settings(
        state_index=str(body.get("state_index") or DEFAULT_INDEX),
        state_id=str(chosen.get("state_id") or body.get("state_id") or environment or "default"),
        environment=environment,
        url=chosen.get("url"),
        api_key_env=chosen.get("api_key_env"),
        username_env=chosen.get("username_env"),
        password_env=chosen.get("password_env"),
        ca_cert=chosen.get("ca_cert"),
        insecure=bool(chosen.get("insecure", False)),
        variables=variables,
    )


def connection_for(settings: Settings, *, url: str | None, api_key: str | None, username: str | None,
                   password: str | None, ca_cert: str | None, insecure: bool) -> Connection:
    """Flags win over environment variables, which win over reconciler.yaml."""
    env = os.environ
    resolved_url = url or env.get("ELASTICSEARCH_URL") or settings.url
    if not resolved_url:
        raise InputError("no cluster given: pass --url, set ELASTICSEARCH_URL, use --env, or try --sandbox")
    key = api_key or (env.get(settings.api_key_env) if settings.api_key_env else None) or env.get("ELASTIC_API_KEY")
    user = username or (env.get(settings.username_env) if settings.username_env else None) or env.get("ELASTICSEARCH_USERNAME")
    pw = password or (env.get(settings.password_env) if settings.password_env else None) or env.get("ELASTICSEARCH_PASSWORD")
    return Connection(url=resolved_url, api_key=key or None, username=user or None, password=pw,
                      ca_cert=ca_cert or settings.ca_cert, insecure=insecure or settings.insecure)
