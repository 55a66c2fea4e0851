"""Silver-layer validation and cleaning: declared rules per table, checked vectorised.

* :func:`load_rules` reads the rules (YAML, or the mapping it holds) into :class:`QualityRules`;
  ``.for_table(source, table)`` gives a table's :class:`TableRules` (None without rules).
* :func:`validate` splits a received frame into typed valid rows and quarantined rows (as
  received, with ``_failed_checks`` and ``_reason``) and returns one :class:`CheckResult` per
  check; ``rows_in == rows_valid + rows_quarantined`` always.
* :func:`clean` turns valid rows into the silver table: declared dtypes, deduplicated by the
  table's keys, each column's missing-value policy applied.

Check kinds — row-level (failing rows go to quarantine, whatever the severity; the severity
says whether the failure blocks): ``schema`` (implicit, one per declared column: readable as its
dtype, no null where not nullable, present if required), ``range``, ``categorical``,
``uniqueness`` (all but the first occurrence of a key) and ``future`` (implicit with each
freshness check: a timestamp after ``now`` plus a tolerance). Table-level (a result only):
``completeness``, ``freshness``, ``distribution``; plus ``schema:extra_columns`` (WARNING:
unexpected columns, kept in the valid output).
"""

from .cleaning import clean
from .engine import validate
from .results import FAILED_CHECKS, REASON, CheckResult, ValidationResult
from .rules import CheckRule, ColumnRule, QualityRules, RulesError, Severity, TableRules, load_rules, rules_json_schema
from .schema import pandera_schema

__all__ = [
    "FAILED_CHECKS",
    "REASON",
    "CheckResult",
    "CheckRule",
    "ColumnRule",
    "QualityRules",
    "RulesError",
    "Severity",
    "TableRules",
    "ValidationResult",
    "clean",
    "load_rules",
    "pandera_schema",
    "rules_json_schema",
    "validate",
]
