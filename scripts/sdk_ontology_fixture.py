"""Dumps the DoPut schema of every ontology class registered by the official SDK (PyPI mosaicolabs),
one block per tag, in pyarrow's own text rendering. The Rust ontology test compares its schemas with
this file, so the fixture is regenerated (not hand-edited) when the SDK moves:

    python scripts/sdk_ontology_fixture.py > tests/fixtures/ontology/current.txt
"""
import importlib.metadata

import mosaicolabs  # noqa: F401  (registers every built-in class)
from mosaicolabs.models.core import serializable
from mosaicolabs.models.core.message import Message

print(f"# mosaicolabs {importlib.metadata.version('mosaicolabs')}")
for tag in sorted(serializable._SCHEMA_REGISTRY):
    cls = serializable._SCHEMA_REGISTRY[tag]
    schema = Message._get_schema(cls)
    fmt = cls.__serialization_format__.value
    print(f"[{tag}] format={fmt} fingerprint={cls.__schema_fingerprint__}")
    for field in schema:
        print(f"{field.name}: {field.type}{'' if field.nullable else ' not null'}")
    print()
