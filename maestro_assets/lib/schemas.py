"""The JSON Schemas of Maestro's YAML files, generated from their models.

``python -m maestro_assets.lib.schemas`` rewrites ``maestro_assets/schemas/*.schema.json``; a test
keeps the committed files equal to the models. The YAML files name their schema on their first
line (``# yaml-language-server: $schema=…``), so editors with the YAML language server check them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from .ingestion.sources import sources_json_schema
from .quality.rules import rules_json_schema
from .settings import PACKAGE_ROOT

SCHEMA_DIR = PACKAGE_ROOT / "schemas"
SCHEMAS: dict[str, Callable[[], dict]] = {"sources": sources_json_schema, "quality_rules": rules_json_schema}


def render(schema: dict) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in SCHEMAS.items():
        path = folder / f"{name}.schema.json"
        path.write_text(render(build()))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_schemas():
        print(path)
