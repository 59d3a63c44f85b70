"""JSON Schemas of the data files, for editors that validate YAML as it is typed."""

from __future__ import annotations

import json
from pathlib import Path

from builder.contract import Review, Study


def schemas() -> dict[str, dict]:
    out = {}
    for name, model in (("review.schema.json", Review), ("study.schema.json", Study)):
        schema = model.model_json_schema(mode="validation")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = f"{model.__name__} file of the living review"
        out[name] = schema
    return out


def schema_texts() -> dict[str, str]:
    return {
        name: json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        for name, schema in schemas().items()
    }


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in schema_texts().items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written
