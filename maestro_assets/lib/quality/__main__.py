"""``python -m maestro_assets.lib.quality > maestro_assets/schemas/quality_rules.schema.json``:
the JSON Schema of a rules file, generated from the rules models."""

import json

from .rules import rules_json_schema

print(json.dumps(rules_json_schema(), indent=2))
