"""Documents -> endpoint specs: schema checks plus the checks no schema can make.

Owns the verdict on a desired-state directory: every problem, all at once,
each with file and line. Cross-document checks (an id used twice) and rules
JSON Schema cannot say (word overlap <= half of max_chunk_size) live here.
Old layouts that Elasticsearch still accepts are read as the server reads them
(``layouts``), each with a note showing the current layout, so that the schema
checks and the plan see the current layout. Without given variables
(``reconciler validate``, offline, no ``--env``), every
environment of reconciler.yaml is checked, and reconciler.yaml itself. Problems
are capped at ``MAX_PROBLEMS``, so that a huge broken file fails fast.
Does not talk to a cluster.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path as FsPath

from reconciler.catalog import Catalog, load_catalog
from reconciler.described import catalog_gaps, gap_warnings
from reconciler.diagnostics import Diagnostic, sort_diagnostics
from reconciler.loader import Document, load_directory
from reconciler.model import EndpointSpec
from reconciler.region_policy import RegionPolicySpec, is_policy_document
from reconciler.schema import check_document, check_region_policy
from reconciler.settings import secret_file_roots, settings_root
from reconciler.uris import uri_problem
from reconciler.variables import (
    Strings,
    file_references_outside,
    misplaced_references,
    substitute_variables,
)


@dataclass(frozen=True, kw_only=True)
class Validation:
    specs: tuple[EndpointSpec, ...]
    diagnostics: tuple[Diagnostic, ...]
    notes: tuple[Diagnostic, ...] = ()  # not problems: old layouts read as the current one
    # what the catalog does not know (a newer service or field): the cluster checks it at plan
    # time; ``validate --strict`` counts these as problems
    warnings: tuple[Diagnostic, ...] = ()
    skipped: tuple[str, ...] = ()  # YAML files that are not endpoint specs (``only_specs``)
    region_policy: RegionPolicySpec | None = None

    @property
    def ok(self) -> bool:
        return not self.diagnostics


MAX_PROBLEMS = 200


SPEC_KEYS = frozenset({"inference_id", "task_type", "service", "service_settings"})


def validate_directory(
    root: FsPath, *, variables: Mapping[str, str] | None = None, only_specs: bool = False
) -> Validation:
    """Validate with ``variables``; with None, with those of every environment of reconciler.yaml.
    ``only_specs``: a YAML file none of whose documents has a key of an endpoint spec (a
    docker-compose.yml, a CI file) is skipped and named in ``skipped``, not validated."""
    documents, diagnostics = load_directory(root)
    skipped: list[str] = []
    if only_specs:
        documents, skipped = _specs_only(documents)
        diagnostics = [d for d in diagnostics if d.file not in skipped]
    strings = Strings()  # one walk of each body for the reference checks and the variables
    diagnostics += misplaced_references(documents, strings)
    diagnostics += file_references_outside(
        documents, root=settings_root(root), allowed=secret_file_roots(root), strings=strings
    )
    documents, notes = current_layouts(documents)
    if variables is not None:
        documents, problems = substitute_variables(documents, variables, strings)
        check = _checked_ahead(documents)
        result = validate_documents(documents, diagnostics + problems, check=check)
    else:  # the documents as written: those no variable touches are the same in every environment
        result = _every_environment(
            root, documents, diagnostics, strings, _checked_ahead(documents)
        )
    return replace(result, notes=tuple(sort_diagnostics(notes)), skipped=tuple(skipped))


def _specs_only(documents: list[Document]) -> tuple[list[Document], list[str]]:
    """The documents of files that look like endpoint specs (or the region policy), and the
    other files."""
    files: dict[str, list[Document]] = {}
    for document in documents:
        files.setdefault(document.source.file, []).append(document)
    kept: list[Document] = []
    skipped: list[str] = []
    for file, found in files.items():
        if any(
            is_policy_document(d.body) or (isinstance(d.body, Mapping) and SPEC_KEYS & set(d.body))
            for d in found
        ):
            kept.extend(found)
        else:
            skipped.append(file)
    return kept, sorted(skipped)


def current_layouts(documents: list[Document]) -> tuple[list[Document], list[Diagnostic]]:
    """Each document in the layout the server reads it as, and a note per old-layout element.

    A moved value keeps its file:line: the new path points at the node the user wrote.
    """
    from reconciler.layouts import current_layout, may_have_old_layout

    catalog = load_catalog()
    result: list[Document] = []
    notes: list[Diagnostic] = []
    for document in documents:
        if not may_have_old_layout(document.body, catalog):
            result.append(document)
            continue
        layout = current_layout(document.body, catalog)
        if not layout.changes:
            result.append(document)
            continue
        source = document.source
        positions = dict(source.positions)
        for change in layout.changes:
            if change.applied and change.source in positions:
                positions[change.target] = positions[change.source]
            notes.append(source.problem(change.source, f"note: {change.message}"))
        moved = Document(body=layout.body, source=replace(source, positions=positions))
        result.append(moved)
    return result, notes


def _checked_ahead(documents: list[Document]) -> Callable[[Document], list[Diagnostic]]:
    """``_check_one`` with its answers remembered (a document no variable touched is checked
    once, whatever the number of environments); where there are many ``documents`` their
    answers are worked out at once by several processes (``forked``). Each process stops after
    ``MAX_PROBLEMS`` problems in its share: ``validate_documents`` stops there too, so a huge
    broken directory still fails fast; a document left unchecked is checked when asked."""
    from reconciler.catalog import load_catalog
    from reconciler.forked import in_order, workers_for

    def check_share(share: Sequence[Document]) -> list[list[Diagnostic] | None]:
        answers: list[list[Diagnostic] | None] = []
        found = 0
        for document in share:
            answer = _check_one(document) if found < MAX_PROBLEMS else None
            found += sum(not d.warning for d in answer or ())
            answers.append(answer)
        return answers

    ahead: dict[int, tuple[Document, list[Diagnostic] | None]] = {}
    if workers_for(len(documents)) > 1:
        load_catalog()  # read once, before the processes part, not once in each
        answers = in_order(check_share, documents)
        ahead.update((id(d), (d, a)) for d, a in zip(documents, answers, strict=True))

    def check(document: Document) -> list[Diagnostic]:
        known, answer = ahead.get(id(document), (None, None))
        if known is not document or answer is None:
            answer = _check_one(document)
            ahead[id(document)] = (document, answer)
        return answer

    return check


def _every_environment(
    root: FsPath,
    documents: list[Document],
    diagnostics: list[Diagnostic],
    strings: Strings,
    check: Callable[[Document], list[Diagnostic]],
) -> Validation:
    from reconciler.settings import read_settings_file

    settings = read_settings_file(root)
    names: list[str | None] = [str(name) for name in settings.environments] or [None]
    first: Validation | None = None
    problems = list(diagnostics) + list(settings.diagnostics)
    warnings: list[Diagnostic] = []
    for name in names:
        filled, missing = substitute_variables(documents, settings.variables(name), strings)
        if name is not None and len(names) > 1:
            missing = [replace(d, message=f"{d.message}; environment '{name}'") for d in missing]
        result = validate_documents(filled, missing, check=check)
        problems.extend(result.diagnostics)
        warnings.extend(result.warnings)
        first = first or result
    assert first is not None
    return Validation(
        specs=first.specs,
        diagnostics=tuple(sort_diagnostics(problems)),
        warnings=tuple(sort_diagnostics(warnings)),
        region_policy=first.region_policy,
    )


def validate_documents(
    documents: list[Document],
    diagnostics: list[Diagnostic],
    *,
    check: Callable[[Document], list[Diagnostic]] | None = None,
) -> Validation:
    problems = list(diagnostics)
    warnings: list[Diagnostic] = []
    specs: list[EndpointSpec] = []
    policies: list[RegionPolicySpec] = []
    for document in documents:
        if len(problems) >= MAX_PROBLEMS:
            source = document.source
            problems.append(
                Diagnostic(
                    file=source.file,
                    line=source.line,
                    col=source.col,
                    message=f"stopped checking after {MAX_PROBLEMS} problems; fix these first",
                )
            )
            break
        checked = (check or _check_one)(document)
        found = [d for d in checked if not d.warning] if checked else checked
        if checked:
            warnings.extend(d for d in checked if d.warning)
            problems.extend(found)
        if not found and is_policy_document(document.body):
            policies.append(
                RegionPolicySpec(policy=document.body["region_policy"], source=document.source)
            )
        elif not found:
            body = document.body
            specs.append(
                EndpointSpec(
                    inference_id=body["inference_id"],
                    task_type=body["task_type"],
                    service=body["service"],
                    body=body,
                    source=document.source,
                )
            )
    problems.extend(_duplicate_ids(documents))
    problems.extend(
        policy.source.problem(
            ("region_policy",),
            f"region_policy is declared twice: here and at {policies[0].source.file}:"
            f"{policies[0].source.at(('region_policy',))[0]} (one per directory)",
        )
        for policy in policies[1:]
    )
    return Validation(
        specs=tuple(specs),
        diagnostics=tuple(sort_diagnostics(problems)),
        warnings=tuple(sort_diagnostics(warnings)),
        region_policy=policies[0] if len(policies) == 1 else None,
    )


def _check_one(document: Document) -> list[Diagnostic]:
    source = document.source
    if not isinstance(document.body, Mapping):
        kind = "a list" if isinstance(document.body, list) else "a single value"
        return [
            Diagnostic(
                file=source.file,
                line=source.line,
                col=source.col,
                message=f"a spec document must be a mapping (an endpoint), not {kind}",
            )
        ]
    if is_policy_document(document.body):
        return check_region_policy(document)
    catalog = load_catalog()  # (the packaged catalog: validation never sees a cluster)
    problems = _schema_problems(document, catalog)
    problems += _chunking_overlap(document)
    problems += _unparsable_urls(document, catalog)
    return problems


def _schema_problems(document: Document, catalog: Catalog) -> list[Diagnostic]:
    """The schema's problems; where the spec uses a service, task type or service-settings field
    the catalog does not know, a warning for each instead of the problems it causes (the
    cluster's ``_services`` decides at plan time), with the catalog's nearest name."""
    gaps = catalog_gaps(document.body, catalog)
    problems = check_document(document, deferred=gaps)
    if gaps:
        problems += [
            replace(document.source.problem(path, message), warning=True)
            for path, message in gap_warnings(document.body, gaps, catalog)
        ]
    return problems


def _unparsable_urls(document: Document, catalog: Catalog) -> list[Diagnostic]:
    """URLs Elasticsearch's parser refuses at PUT (a placeholder such as ``<url>`` left in)."""
    settings = document.body.get("service_settings")
    if not isinstance(settings, Mapping):
        return []
    fields = (catalog.raw.get("uri_fields") or {}).get("fields", ())
    named = [name for name in fields if isinstance(settings.get(name), str)]
    if not named:
        return []
    facts = catalog.service(str(document.body.get("service")))
    problems = []
    for name in named:
        value = settings[name]
        if facts and facts.field("service_settings", name).get("templates"):
            continue
        problem = uri_problem(value)
        if problem:
            message = (
                f"service_settings.{name}: Elasticsearch cannot parse this URL ({problem}); "
                "a placeholder from an example left in?"
            )
            problems.append(document.source.problem(("service_settings", name), message))
    return problems


def _chunking_overlap(document: Document) -> list[Diagnostic]:
    chunking = document.body.get("chunking_settings")
    if not isinstance(chunking, Mapping) or chunking.get("strategy") != "word":
        return []
    size, overlap = chunking.get("max_chunk_size"), chunking.get("overlap")
    if not isinstance(size, int) or not isinstance(overlap, int) or overlap * 2 <= size:
        return []
    message = (
        f"chunking_settings.overlap: must be at most half of max_chunk_size "
        f"({size // 2}), got {overlap}"
    )
    return [document.source.problem(("chunking_settings", "overlap"), message)]


def _duplicate_ids(documents: list[Document]) -> list[Diagnostic]:
    first: dict[str, Document] = {}
    diagnostics = []
    for document in documents:
        body = document.body
        if not isinstance(body, Mapping) or not isinstance(body.get("inference_id"), str):
            continue
        inference_id = body["inference_id"]
        if inference_id not in first:
            first[inference_id] = document
            continue
        original = first[inference_id].source
        o_line, _ = original.at(("inference_id",))
        diagnostics.append(
            document.source.problem(
                ("inference_id",),
                (
                    f"inference_id '{inference_id}' is declared twice: here and at "
                    f"{original.file}:{o_line}"
                ),
            )
        )
    return diagnostics
