"""The reserved `/_sandbox/...` control API: the knobs over HTTP.

Lets a test that runs the CLI (and therefore the sandbox) in another
process read the request log and set latency, faults and the reported
version. These requests skip latency, faults, credentials and the request
log. Routes:

    GET    /_sandbox/requests            {"requests": [...]}
    DELETE /_sandbox/requests            clear the log
    GET    /_sandbox/knobs               version, eis_connected, latency_ms, faults
    PUT    /_sandbox/latency             {"latency_ms": 25}
    PUT    /_sandbox/version             {"version": "8.18.0"}
    PUT    /_sandbox/eis                 {"connected": true}  connect to the Elastic Inference Service
    PUT    /_sandbox/eis_regions         {"models": {"rainbow-sprinkles": [["aws", "us-east-1", "us"]]}}
    PUT    /_sandbox/bugs                {"emulate": ["139574"]}  reproduce a known ES bug
    PUT    /_sandbox/unlisted_services   {"services": ["openai"]}  left out of GET _inference/_services
    PUT    /_sandbox/offered_services    {"services": ["mixedbread", {_services entry}]}  services and
                                          fields the sandbox's own table lacks (offers.py)
    GET    /_sandbox/faults              the active faults
    POST   /_sandbox/faults              {"method","path","status","count","retry_after","drop","after",
                                          "delay","body","echo","echo_as","seconds"}
    DELETE /_sandbox/faults              remove all faults
    POST   /_sandbox/reset               forget every endpoint, pipeline, index, fault and log entry
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .errors import bad_request, no_handler
from .knobs import Fault
from .offers import read_offers
from .protocol import Request, Response, ok, version_tuple

if TYPE_CHECKING:
    from .server import SandboxServer

ACK = {"acknowledged": True}


def _fault_from(body: dict[str, Any]) -> Fault:
    known = {
        "method",
        "path",
        "status",
        "count",
        "retry_after",
        "drop",
        "after",
        "delay",
        "body",
        "echo",
        "echo_as",
        "seconds",
    }
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_request(f"unknown fault fields {unknown}; known: {sorted(known)}")
    try:
        return Fault(**body)
    except (TypeError, ValueError, re.error) as error:
        raise bad_request(f"invalid fault: {error}") from None


KNOWN_BUGS = {
    "139574": "first-generation _update of task settings rewrites chunking to word/250/100",
}


def _model_regions(body: dict[str, Any]) -> dict[str, Any]:
    """`{"models": {"rainbow-sprinkles": [["aws", "us-east-1", "us"]]}}`: where EIS runs these
    models (the others keep their places)."""
    models = body.get("models")
    if not isinstance(models, dict) or not all(
        isinstance(places, list)
        and all(
            isinstance(p, list) and len(p) == 3 and all(isinstance(x, str) for x in p)
            for p in places
        )
        for places in models.values()
    ):
        raise bad_request("models must map a model id to a list of [csp, region, geo]")
    return {model: tuple(tuple(p) for p in places) for model, places in models.items()}


def control(sandbox: SandboxServer, req: Request) -> Response:
    route = (req.method, req.path.removeprefix("/_sandbox").strip("/"))
    if route == ("GET", "requests"):
        return ok({"requests": sandbox.requests})
    if route == ("DELETE", "requests"):
        sandbox.clear_requests()
        return ok(ACK)
    if route == ("GET", "knobs"):
        return ok(
            {
                "version": sandbox.version,
                "eis_connected": sandbox.eis,
                "latency_ms": sandbox.latency_ms,
                "unlisted_services": sorted(sandbox.cluster.unlisted_services),
                "offered_services": sorted(sandbox.cluster.offers),
                "faults": [f.to_json() for f in sandbox.faults.list()],
            }
        )
    if route == ("GET", "faults"):
        return ok({"faults": [f.to_json() for f in sandbox.faults.list()]})
    if route == ("POST", "faults"):
        sandbox.add_fault(_fault_from(req.json_object() or {}))
        return ok(ACK)
    if route == ("DELETE", "faults"):
        sandbox.clear_faults()
        return ok(ACK)
    if route == ("PUT", "latency"):
        value = (req.json_object() or {}).get("latency_ms")
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise bad_request("latency_ms must be a non-negative number")
        sandbox.latency_ms = float(value)
        return ok(ACK)
    if route == ("PUT", "version"):
        value = (req.json_object() or {}).get("version")
        try:
            version_tuple(str(value))
        except ValueError as error:
            raise bad_request(str(error)) from None
        sandbox.version = str(value)
        return ok(ACK)
    if route == ("PUT", "eis"):
        connected = (req.json_object() or {}).get("connected")
        if not isinstance(connected, bool):
            raise bad_request("connected must be true or false")
        sandbox.eis = connected
        return ok(ACK)
    if route == ("PUT", "unlisted_services"):
        names = (req.json_object() or {}).get("services")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise bad_request("services must be a list of service names")
        sandbox.cluster.unlisted_services = set(names)
        return ok(ACK)
    if route == ("PUT", "offered_services"):
        offers = (req.json_object() or {}).get("services")
        if not isinstance(offers, list):
            raise bad_request("services must be a list of _services entries or built-in names")
        try:
            sandbox.cluster.offers = read_offers(offers)
        except ValueError as error:
            raise bad_request(str(error)) from None
        return ok(ACK)
    if route == ("PUT", "eis_regions"):
        sandbox.cluster.eis_model_regions.update(_model_regions(req.json_object() or {}))
        return ok(ACK)
    if route == ("PUT", "bugs"):
        names = (req.json_object() or {}).get("emulate")
        if not isinstance(names, list) or not all(n in KNOWN_BUGS for n in names):
            raise bad_request(f"emulate must be a list drawn from {sorted(KNOWN_BUGS)}")
        sandbox.cluster.bugs = set(names)
        return ok(ACK)
    if route == ("POST", "reset"):
        sandbox.store.reset()
        sandbox.clear_faults()
        sandbox.clear_requests()
        return ok(ACK)
    raise no_handler(req.raw_uri, req.method)
