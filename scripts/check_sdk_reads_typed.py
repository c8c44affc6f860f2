"""Reads Arrow IPC files written by `mosaico_bridge`'s adapters the way the official SDK reads a topic
(`Message._extract_data_schema`, `resolve_ontology_class`, `Message._from_pa_record_batch`) and fails
unless every row comes back as the SDK's typed class (or this project's registered extension class):
a schema that differs in any name, order, type, nullability or list child makes the SDK fall back to
an untyped "schema variant", which this check reports.

    python scripts/check_sdk_reads_typed.py DIR     # DIR/<tag>.arrow files; run by tests/ros_adapters.rs

Needs `mosaicolabs` 0.7 and `python/` on PYTHONPATH (for `mosaico_bridge_ontology`).
"""
import pathlib
import sys

import pyarrow as pa

import mosaicolabs  # noqa: F401  (registers the built-in classes)
import mosaico_bridge_ontology  # noqa: F401  (registers this project's extensions)
from mosaicolabs.models.core import serializable
from mosaicolabs.models.core.helpers import resolve_ontology_class
from mosaicolabs.models.core.message import Message


def main(directory):
    files = sorted(pathlib.Path(directory).glob("*.arrow"))
    if not files:
        sys.exit(f"no .arrow files in {directory}")
    failures = []
    for path in files:
        tag = path.stem.split("__")[0]
        with pa.OSFile(str(path), "rb") as f:
            table = pa.ipc.open_file(f).read_all()
        registered = serializable._SCHEMA_REGISTRY.get(tag)
        cls = resolve_ontology_class(ontology_tag=tag, schema=Message._extract_data_schema(table.schema))
        if registered is None or cls is not registered:
            failures.append(f"{path.name}: tag {tag} resolves to {cls.__name__}, not the typed class")
            continue
        for batch in table.to_batches():
            for i in range(batch.num_rows):
                try:
                    msg = Message._from_pa_record_batch(batch.slice(i, 1), tag)
                except Exception as e:  # noqa: BLE001
                    failures.append(f"{path.name} row {i}: {e}")
                    continue
                if type(msg.data) is not registered:
                    failures.append(f"{path.name} row {i}: decoded as {type(msg.data).__name__}")
        print(f"ok {path.name}: {table.num_rows} rows as {registered.__name__}")
    if failures:
        sys.exit("\n".join(failures))


if __name__ == "__main__":
    main(sys.argv[1])
