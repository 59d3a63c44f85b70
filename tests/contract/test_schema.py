"""The JSON Schemas in docs/schema/ are exported from the models and must not drift from them."""

from __future__ import annotations

from conftest import ROOT

from builder.contract.schema import schema_texts


def test_committed_schemas_are_current():
    for name, text in schema_texts().items():
        committed = (ROOT / "docs/schema" / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/schema/{name} is stale: run `make schema`"


def test_schema_forbids_unknown_fields_and_names_outcome_data():
    import json

    study = json.loads(schema_texts()["study.schema.json"])
    assert study["additionalProperties"] is False
    assert {"id", "label", "citation", "design", "arms", "outcomes"} <= set(study["properties"])
    group = study["$defs"]["Group"]["properties"]
    assert {"arm", "events", "total", "mean", "sd"} <= set(group)
