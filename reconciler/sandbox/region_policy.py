"""The inference region policy (`GET`/`PUT`/`DELETE _inference/_region_policy`, 9.5.0+).

Owns the one cluster-wide policy document (`region_policy` plus its audit
fields), the strict parsing of a PUT body (exactly one of `allowed_geos` /
`allowed_regions`, unknown fields refused), the refusal of a policy that
would deny Elastic Inference Service endpoints in use by an ingest pipeline
or a `semantic_text` index (409 unless `force=true`), and which EIS
endpoints a policy denies. Where each EIS model runs (`metadata.regions` of
the preconfigured `.` endpoints) is the sandbox's own table: Elasticsearch
learns it from the service's authorization answer. A test may change it
with the `/_sandbox/eis_regions` knob. Facts and sources: docs/region-policy.md.
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping
from typing import Any

from .eis import denies
from .errors import EsError
from .indices import indices_using, pipelines_using
from .protocol import Request, Response, ok

USER = "elastic"  # the principal the sandbox reports in created_by / updated_by
_NOT_FOUND = "No region policy is configured for this deployment"


def now() -> str:
    moment = datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _parse_error(message: str) -> EsError:
    return EsError(400, "x_content_parse_exception", message)


def parse_policy(body: Mapping[str, Any]) -> dict[str, Any]:
    """`PutRegionPolicyAction.Request.PARSER`: strict, `region_policy` required."""
    for key in body:
        if key != "region_policy":
            raise _parse_error(f"[1:2] [put_region_policy_request] unknown field [{key}]")
    policy = body.get("region_policy")
    if not isinstance(policy, Mapping):
        raise _parse_error(
            "[1:2] Required one of fields [region_policy], but none were specified."
            if policy is None
            else "[region_policy] region_policy doesn't support values of type: VALUE_STRING"
        )
    for key in policy:
        if key not in ("allowed_geos", "allowed_regions"):
            raise _parse_error(f"[region_policy] unknown field [{key}]")
    if "allowed_geos" in policy and "allowed_regions" in policy:
        raise _parse_error(
            "[region_policy] The following fields are not allowed together: "
            "[allowed_geos, allowed_regions]"
        )
    if "allowed_geos" in policy:
        geos = policy["allowed_geos"]
        if not isinstance(geos, list) or not all(isinstance(g, str) for g in geos):
            raise _parse_error("[region_policy] failed to parse field [allowed_geos]")
        return {"allowed_geos": list(geos)}
    if "allowed_regions" in policy:
        regions = policy["allowed_regions"]
        if not isinstance(regions, list):
            raise _parse_error("[region_policy] failed to parse field [allowed_regions]")
        parsed = []
        for entry in regions:
            if not isinstance(entry, Mapping):
                raise _parse_error("[region_policy] failed to parse field [allowed_regions]")
            unknown = [k for k in entry if k not in ("csp", "region")]
            if unknown:
                raise _parse_error(f"[csp_region] unknown field [{unknown[0]}]")
            missing = [k for k in ("csp", "region") if not isinstance(entry.get(k), str)]
            if missing:
                raise _parse_error(f"[csp_region] Required [{', '.join(missing)}]")
            parsed.append({"csp": entry["csp"], "region": entry["region"]})
        return {"allowed_regions": parsed}
    return {}


def get_policy(cluster: Any, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        document = cluster.store.region_policy
        if document is None:
            raise EsError(404, "resource_not_found_exception", _NOT_FOUND)
        return ok(copy.deepcopy(document))


def put_policy(cluster: Any, req: Request, params: dict[str, str]) -> Response:
    body = req.json_object()
    assert body is not None
    policy = parse_policy(body)
    force = req.flag("force")
    with cluster.store.lock:
        if not force:
            _refuse_in_use(cluster, policy)
        existing = cluster.store.region_policy
        if existing is None:
            document: dict[str, Any] = {
                "region_policy": policy,
                "created_at": now(),
                "created_by": USER,
            }
        else:
            document = {
                "region_policy": policy,
                "created_at": existing["created_at"],
                "created_by": existing.get("created_by", USER),
                "updated_at": now(),
                "updated_by": USER,
            }
        cluster.store.region_policy = document
        cluster.store.save(region_policy=True)
        return ok(copy.deepcopy(document))


def delete_policy(cluster: Any, req: Request, params: dict[str, str]) -> Response:
    with cluster.store.lock:
        if cluster.store.region_policy is None:
            raise EsError(404, "resource_not_found_exception", _NOT_FOUND)
        cluster.store.region_policy = None
        cluster.store.save(region_policy=True)
    return ok({"acknowledged": True})


def _refuse_in_use(cluster: Any, policy: Mapping[str, Any]) -> None:
    """`TransportPutRegionPolicyAction.checkForDeniedInUseEndpoints`: 409 naming what it denies."""
    in_use: dict[str, tuple[list[str], list[str]]] = {}
    for endpoint in cluster.eis_endpoints():
        regions = endpoint.get("metadata", {}).get("regions", [])
        if not denies(policy, regions):
            continue
        inference_id = endpoint["inference_id"]
        pipelines = pipelines_using(cluster.store, inference_id)
        indexes = indices_using(cluster.store, inference_id)
        if pipelines or indexes:
            in_use[inference_id] = (pipelines, indexes)
    if not in_use:
        return
    ids = sorted(in_use)
    raise EsError(
        409,
        "status_exception",
        "Cannot put the region policy because it would deny access to the following in-use "
        f"inference endpoints: [{', '.join(ids)}]. Ensure that these inference endpoints are not "
        "in use, or use force to ignore this warning and proceed anyway.",
        extra={
            "denied_endpoint_ids": ids,
            "referencing_pipelines": sorted(f"{i}:{p}" for i in ids for p in in_use[i][0]),
            "referencing_indexes": sorted(f"{i}:{x}" for i in ids for x in in_use[i][1]),
        },
    )
