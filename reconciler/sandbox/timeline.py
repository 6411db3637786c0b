"""When each service, task type and field appeared in Elasticsearch, as the sandbox reads it.

Owns the sandbox's own dating of `services.py` (written from Elasticsearch's
transport-version constants and release notes; see docs/catalog-evidence.md),
kept apart from the reconciler's catalog so that one can catch the other's
mistakes. A date is a tuple of first releases, one per major line that needs
its own (`("8.19.0", "9.1.0")`: 9.0 lacks the 8.19 backport); a line without
an entry has the fact when an earlier line had it. Owns `exists_at`; the
checks that use it are in `validation.py` (create) and `catalog_api.py`
(`GET _inference/_services`).
"""

from __future__ import annotations

from .protocol import version_tuple

Dates = tuple[str, ...]
BACKPORT_819: Dates = ("8.19.0", "9.1.0")
RATE_LIMIT: Dates = ("8.15.0",)  # rate_limit settings arrived in 8.15 for every service
ADAPTIVE: Dates = ("8.16.0",)
# the first `_update` generation changes adaptive_allocations from here (PR 127994)
UPDATE_ADAPTIVE: Dates = BACKPORT_819

# service -> its own first release
SERVICE_SINCE: dict[str, Dates] = {
    "ai21": ("9.2.0",),
    "alibabacloud-ai-search": ("8.16.0",),
    "amazon_sagemaker": BACKPORT_819,
    "amazonbedrock": ("8.15.0",),
    "anthropic": ("8.15.0",),
    "azureaistudio": ("8.15.0",),
    "azureopenai": ("8.14.0",),
    "cohere": ("8.13.0",),
    "contextualai": ("9.2.0",),
    "custom": BACKPORT_819,
    "deepseek": BACKPORT_819,
    "elasticsearch": ("8.13.0",),
    "elser": ("8.11.0",),
    "fireworksai": ("9.4.0",),
    "googleaistudio": ("8.15.0",),
    "googlevertexai": ("8.15.0",),
    "groq": ("9.3.0",),
    "hugging_face": ("8.12.0",),
    "jinaai": ("8.18.0",),
    "llama": ("9.2.0",),
    "mistral": ("8.15.0",),
    "nvidia": ("9.3.0",),
    "openai": ("8.12.0",),
    "openshift_ai": ("9.3.0",),
    "voyageai": BACKPORT_819,
    "watsonxai": ("8.16.0",),
}

# (service, task type) -> first release, where later than the service
TASK_SINCE: dict[tuple[str, str], Dates] = {
    ("amazonbedrock", "chat_completion"): ("9.4.0",),
    ("anthropic", "chat_completion"): ("9.5.0",),
    ("azureopenai", "completion"): ("8.15.0",),
    ("cohere", "completion"): ("8.15.0",),
    ("googlevertexai", "completion"): BACKPORT_819,
    ("googlevertexai", "chat_completion"): BACKPORT_819,
    ("hugging_face", "rerank"): BACKPORT_819,
    ("hugging_face", "completion"): BACKPORT_819,
    ("hugging_face", "chat_completion"): BACKPORT_819,
    ("mistral", "completion"): BACKPORT_819,
    ("mistral", "chat_completion"): BACKPORT_819,
    ("openai", "chat_completion"): ("8.18.0",),
    # the `embedding` task type: openai in the 9.5.0 bundle (PR 145833), jinaai in the 9.4.0
    # one (PR 140323)
    ("openai", "embedding"): ("9.5.0",),
    ("jinaai", "embedding"): ("9.4.0",),
    # a single main-line transport id (ml_inference_azure_ai_studio_rerank_added): no 8.x
    ("azureaistudio", "rerank"): ("9.2.0",),
    ("azureopenai", "chat_completion"): ("9.3.0",),  # 9.3.0 notes, PR 138726
    ("amazon_sagemaker", "chat_completion"): BACKPORT_819,
    ("watsonxai", "rerank"): ("8.18.0",),
    ("watsonxai", "completion"): ("9.2.0",),
    ("watsonxai", "chat_completion"): ("9.2.0",),
}

# (service, field of service_settings or task_settings) -> first release
FIELD_SINCE: dict[tuple[str, str], Dates] = {
    ("openai", "rate_limit"): RATE_LIMIT,
    ("cohere", "rate_limit"): RATE_LIMIT,
    ("hugging_face", "rate_limit"): RATE_LIMIT,
    ("azureopenai", "rate_limit"): RATE_LIMIT,
    ("elasticsearch", "adaptive_allocations"): ADAPTIVE,
    ("elser", "adaptive_allocations"): ADAPTIVE,
    ("jinaai", "embedding_type"): BACKPORT_819,
    ("azureopenai", "client_id"): ("9.4.0",),
    ("azureopenai", "client_secret"): ("9.4.0",),
    ("azureopenai", "scopes"): ("9.4.0",),
    ("azureopenai", "tenant_id"): ("9.4.0",),
    ("azureopenai", "headers"): ("9.4.0",),
    ("openai", "client_id"): ("9.5.0",),
    ("openai", "client_secret"): ("9.5.0",),
    ("openai", "scopes"): ("9.5.0",),
    ("openai", "token_url"): ("9.5.0",),
    ("googlevertexai", "max_batch_size"): ("9.3.0",),
    ("jinaai", "late_chunking"): ("9.3.0",),  # 9.3.0 notes, PR 137263
}

# (service, field) -> the release that no longer has it
FIELD_UNTIL: dict[tuple[str, str], Dates] = {
    # contextual_ai_url_service_setting_removed = 9352000: between the 9.4 and 9.5 upper bounds
    ("contextualai", "url"): ("9.5.0",),
}
FIELD_SINCE[("contextualai", "url")] = ("9.2.0",)

# (service, field) -> values that arrived later than the field
VALUE_SINCE: dict[tuple[str, str], dict[str, Dates]] = {
    ("cohere", "embedding_type"): {"bit": BACKPORT_819, "binary": BACKPORT_819},
    # Model Garden providers, 9.3.0 notes (PR 135701)
    ("googlevertexai", "provider"): {
        "meta": ("9.3.0",),
        "mistral": ("9.3.0",),
        "hugging_face": ("9.3.0",),
        "ai21": ("9.3.0",),
    },
}


def exists_at(dates: Dates | None, version: str) -> bool:
    """Whether something first released at `dates` exists on a cluster of `version`."""
    if not dates:
        return True
    have = version_tuple(version)
    firsts = sorted(version_tuple(d) for d in dates)
    line = [first for first in firsts if first[0] == have[0]]
    if line:
        return have >= line[0]
    return any(first[0] < have[0] for first in firsts)


def service_exists(service: str, version: str) -> bool:
    return exists_at(SERVICE_SINCE.get(service), version)


def task_exists(service: str, task_type: str, version: str) -> bool:
    return exists_at(TASK_SINCE.get((service, task_type)), version)


def field_exists(service: str, name: str, version: str) -> bool:
    until = FIELD_UNTIL.get((service, name))
    if until is not None and exists_at(until, version):
        return False
    return exists_at(FIELD_SINCE.get((service, name)), version)


def value_exists(service: str, name: str, value: object, version: str) -> bool:
    dates = VALUE_SINCE.get((service, name), {}).get(str(value).lower())
    return exists_at(dates, version)
