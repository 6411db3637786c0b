"""Data package: the service catalog (catalog.json) and the JSON Schemas generated from it.

Installed as ``reconciler.schemas``; contains no code. See README.md in this folder.
"""
