"""reconciler: declarative GitOps reconciler for Elasticsearch inference endpoints."""

__version__ = "0.1.0"
