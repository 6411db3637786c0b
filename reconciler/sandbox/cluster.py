"""The emulated cluster as handlers see it: state, version, identity.

Owns the reported version (a knob; it decides which `_update` generation
and DELETE shape apply), the `GET /` cluster-info body, and the three
preconfigured in-cluster endpoints of docs/elasticsearch-api.md §7, which
are always listed (merged with the stored ones) and come back after a forced
delete, as Elasticsearch's default endpoints do.
"""

from __future__ import annotations

import threading
from typing import Any

from . import eis
from .chunking import default_chunking
from .protocol import at_least, version_tuple
from .store import Store, StoredEndpoint

_ADAPTIVE = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 32}


def _preconfigured() -> dict[str, dict[str, Any]]:
    def settings(model_id: str, **extra: Any) -> dict[str, Any]:
        return {
            "num_threads": 1,
            "model_id": model_id,
            "adaptive_allocations": dict(_ADAPTIVE),
            **extra,
        }

    return {
        ".elser-2-elasticsearch": {
            "inference_id": ".elser-2-elasticsearch",
            "task_type": "sparse_embedding",
            "service": "elasticsearch",
            "service_settings": settings(".elser_model_2_linux-x86_64"),
            "chunking_settings": default_chunking(),
        },
        ".multilingual-e5-small-elasticsearch": {
            "inference_id": ".multilingual-e5-small-elasticsearch",
            "task_type": "text_embedding",
            "service": "elasticsearch",
            # MultilingualE5SmallInternalServiceSettings writes only allocations, threads,
            # model and deployment: no dimensions, similarity or element_type in the listing
            "service_settings": settings(".multilingual-e5-small_linux-x86_64"),
            "chunking_settings": default_chunking(),
        },
        ".rerank-v1-elasticsearch": {
            "inference_id": ".rerank-v1-elasticsearch",
            "task_type": "rerank",
            "service": "elasticsearch",
            "service_settings": settings(".rerank-v1"),
            "task_settings": {"return_documents": True},
        },
    }


PRECONFIGURED_IDS = tuple(sorted(_preconfigured()))


class Cluster:
    """Shared by all request threads; the store's lock guards mutations."""

    def __init__(
        self, *, store: Store, version: str = "9.5.0", eis_connected: bool = False
    ) -> None:
        version_tuple(version)
        self.store = store
        self._version = version
        self._version_lock = threading.Lock()
        # Known Elasticsearch bugs to reproduce on purpose (off by default), e.g. "139574":
        # a first-generation _update of task settings rewrote chunking to word/250/100.
        self.bugs: set[str] = set()
        # Off like a self-managed cluster without Cloud Connect; on like Elastic Cloud / Serverless.
        self.eis_connected = eis_connected
        # Services `GET _inference/_services` leaves out, as a cluster whose licence or
        # serverless project does not offer them would.
        self.unlisted_services: set[str] = set()
        # Services and fields the sandbox's own table lacks, by service: `_services` entries
        # (offers.py), as a release newer than the reconciler's catalog would offer them.
        self.offers: dict[str, dict[str, Any]] = {}
        # Where EIS serves each model (metadata.regions of its `.` endpoints, 9.5.0+).
        self.eis_model_regions: dict[str, Any] = dict(eis.DEFAULT_MODEL_REGIONS)
        self.node_name = "sandbox-node-1"
        self.cluster_name = "reconciler-sandbox"

    @property
    def version(self) -> str:
        with self._version_lock:
            return self._version

    @version.setter
    def version(self, value: str) -> None:
        version_tuple(value)
        with self._version_lock:
            self._version = value

    def at_least(self, minimum: str) -> bool:
        return at_least(self.version, minimum)

    # -- endpoints --------------------------------------------------------------

    def defaults(self) -> dict[str, dict[str, Any]]:
        """The preconfigured endpoints this cluster lists: in-cluster ones, plus EIS's when connected."""
        merged = _preconfigured()
        merged.update(self._eis_preconfigured())
        return merged

    def _eis_preconfigured(self) -> dict[str, dict[str, Any]]:
        """EIS's `.` endpoints; from 9.5.0 with `metadata`: where each runs and whether the
        region policy denies it (`denied_by_region_policy`)."""
        endpoints = eis.preconfigured(self.version, connected=self.eis_connected)
        if not self.at_least(eis.REGION_POLICY_SINCE):
            return endpoints
        document = self.store.region_policy
        policy = document["region_policy"] if document else None
        for endpoint in endpoints.values():
            regions = eis.regions_of(
                self.eis_model_regions, endpoint["service_settings"]["model_id"]
            )
            endpoint["metadata"] = {
                "regions": regions,
                "denied_by_region_policy": eis.denies(policy, regions),
            }
        return endpoints

    def eis_endpoints(self) -> list[dict[str, Any]]:
        with self.store.lock:
            return list(self._eis_preconfigured().values())

    def lookup(self, inference_id: str) -> StoredEndpoint | None:
        with self.store.lock:
            stored = self.store.endpoints.get(inference_id)
            if stored is not None:
                return stored
            default = self.defaults().get(inference_id)
            return StoredEndpoint(config=default) if default is not None else None

    def all_endpoints(self) -> list[dict[str, Any]]:
        """Sorted by id. Stored configs are replaced, never changed in place, so no copy is needed."""
        with self.store.lock:
            merged = self.defaults()
            merged.update({key: ep.config for key, ep in self.store.endpoints.items()})
            return [merged[key] for key in sorted(merged)]

    def is_preconfigured(self, inference_id: str) -> bool:
        return inference_id in PRECONFIGURED_IDS or inference_id in self.defaults()

    # -- GET / ----------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        major, minor, _ = version_tuple(self.version)
        if major >= 9:
            lucene, wire, index = "10.2.2", "8.19.0", "8.0.0"
        else:
            lucene, wire, index = "9.12.0", "7.17.0", "7.0.0"
        return {
            "name": self.node_name,
            "cluster_name": self.cluster_name,
            "cluster_uuid": self.store.cluster_uuid,
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "0000000000000000000000000000000000000000",
                "build_date": "2026-01-01T00:00:00.000Z",
                "build_snapshot": False,
                "lucene_version": lucene,
                "minimum_wire_compatibility_version": wire,
                "minimum_index_compatibility_version": index,
            },
            "tagline": "You Know, for Search",
        }

    def health(self) -> dict[str, Any]:
        return {
            "cluster_name": self.cluster_name,
            "status": "green",
            "timed_out": False,
            "number_of_nodes": 1,
            "number_of_data_nodes": 1,
            "active_primary_shards": len(self.store.indices),
            "active_shards": len(self.store.indices),
            "relocating_shards": 0,
            "initializing_shards": 0,
            "unassigned_shards": 0,
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": 100.0,
        }
