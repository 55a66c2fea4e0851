"""The silver validation and cleaning engine: each check kind passing and failing, the quarantine,
the report, cleaning policies, the rules loader, and a property test on injected faults."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pandas as pd
import pytest
import yaml

from maestro_assets.lib.errors import MaestroError
from maestro_assets.lib.quality import (
    FAILED_CHECKS,
    REASON,
    CheckRule,
    ColumnRule,
    RulesError,
    Severity,
    TableRules,
    ValidationResult,
    clean,
    load_rules,
    pandera_schema,
    validate,
)

NOW = pd.Timestamp("2025-06-01 12:00", tz="UTC")
EVENT_TYPES = [
    "created",
    "assigned",
    "started",
    "commented",
    "blocked",
    "unblocked",
    "review_requested",
    "completed",
    "reopened",
]
RULES_YAML = textwrap.dedent("""
    tables:
      demo_db/task_events:
        keys: [event_id]
        columns:
          event_id:   {dtype: int64, nullable: false}
          task_id:    {dtype: int64, nullable: false}
          user_id:    {dtype: int64, nullable: true, missing: zero}
          event_type: {dtype: string, nullable: false}
          event_time: {dtype: "datetime64[ns, UTC]", nullable: false}
          hours_logged: {dtype: float64, nullable: true, missing: zero}
        checks:
          - {kind: completeness, column: user_id, max_null_fraction: 0.05, severity: WARNING}
          - {kind: uniqueness, columns: [event_id], severity: ERROR}
          - {kind: range, column: hours_logged, min: 0, max: 24, severity: ERROR}
          - {kind: categorical, column: event_type, severity: ERROR,
             allowed: [created, assigned, started, commented, blocked, unblocked, review_requested, completed,
                       reopened]}
          - {kind: freshness, column: event_time, max_age_hours: 48, severity: WARNING}
          - {kind: distribution, column: hours_logged, max_ks: 0.2, severity: WARNING}
""")
RULES = load_rules(yaml.safe_load(RULES_YAML)).for_table("demo_db", "task_events")
ALL_CHECKS = [
    "schema:event_id",
    "schema:task_id",
    "schema:user_id",
    "schema:event_type",
    "schema:event_time",
    "schema:hours_logged",
    "schema:extra_columns",
    "completeness:user_id",
    "uniqueness:event_id",
    "range:hours_logged",
    "categorical:event_type",
    "future:event_time",
    "freshness:event_time",
    "distribution:hours_logged",
]


def events(rows: int = 40, seed: int = 0) -> pd.DataFrame:
    """A clean task_events frame, typed as a bronze parquet file would deliver it."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "event_id": np.arange(1, rows + 1, dtype=np.int64),
            "task_id": rng.integers(1, 50, rows),
            "user_id": rng.integers(1, 9, rows).astype(np.float64),
            "event_type": np.asarray(EVENT_TYPES, dtype=object)[rng.integers(0, len(EVENT_TYPES), rows)],
            "event_time": NOW - pd.to_timedelta(rng.integers(60, 20 * 3600, rows), unit="s"),
            "hours_logged": np.round(rng.uniform(0, 8, rows), 2),
        }
    )


def run(frame: pd.DataFrame, rules: TableRules = RULES, **kwargs) -> ValidationResult:
    """validate() with the invariants every result must keep checked."""
    kwargs.setdefault("now", NOW)
    result = validate(frame, rules, **kwargs)
    assert result.rows_in == len(frame) == result.rows_valid + result.rows_quarantined
    assert list(result.quarantine.columns) == [*frame.columns, FAILED_CHECKS, REASON]
    assert list(result.valid.columns) == list(frame.columns)
    assert set(result.valid.index).isdisjoint(result.quarantine.index) or not frame.index.is_unique
    json.dumps(result.to_report())
    return result


def failed(result: ValidationResult) -> set[str]:
    return {check.name for check in result.checks if not check.passed}


def reason_of(result: ValidationResult, label) -> str:
    return result.quarantine.loc[label, REASON]


# --- passing ---------------------------------------------------------------------------------------


def test_clean_frame_passes_every_check_and_comes_out_typed():
    result = run(events(200), reference=events(1000, seed=1))
    assert [check.name for check in result.checks] == ALL_CHECKS
    assert failed(result) == set()
    assert result.passed and result.blocking_failures == [] and result.rows_quarantined == 0
    assert result.valid.dtypes.astype(str).to_dict() == {
        "event_id": "int64",
        "task_id": "int64",
        "user_id": "Int64",
        "event_type": "string",
        "event_time": "datetime64[ns, UTC]",
        "hours_logged": "float64",
    }
    pandera_schema(RULES).validate(result.valid)  # the typed output is what the declared schema says


# --- schema ----------------------------------------------------------------------------------------


def test_mixed_types_in_an_int_column_quarantine_only_the_unreadable_rows():
    frame = events(5)
    frame["task_id"] = pd.Series(["12", "abc", 7, " 8 ", "2.5"], dtype=object)
    result = run(frame)
    assert list(result.quarantine.index) == [1, 4]
    assert reason_of(result, 1) == "task_id=abc is not a valid int64"
    assert reason_of(result, 4) == "task_id=2.5 is not a valid int64"
    assert result.quarantine.loc[1, "task_id"] == "abc"  # as received
    assert result.valid["task_id"].tolist() == [12, 7, 8]
    assert result.valid["task_id"].dtype == np.int64
    check = result.check("schema:task_id")
    assert (check.passed, check.severity, check.failing_rows) == (False, Severity.ERROR, 2)
    assert check.examples == [{"row": 1, "task_id": "abc"}, {"row": 4, "task_id": "2.5"}]


def test_null_in_a_non_nullable_column_is_quarantined_but_not_in_a_nullable_one():
    frame = events(4)
    frame.loc[1, "task_id"] = None
    frame.loc[2, "user_id"] = np.nan
    result = run(frame)
    assert list(result.quarantine.index) == [1]
    assert reason_of(result, 1) == "task_id is null but not nullable"
    assert result.valid["user_id"].isna().tolist() == [False, True, False]


def test_blanks_and_null_words_are_nulls_outside_string_columns():
    frame = events(6)
    frame["user_id"] = pd.Series(["4", "  ", None, "NaN", " null", "N/A"], dtype=object)
    frame["event_type"] = ["created", "created", "created", "created", "created", "NA"]
    result = run(frame)
    assert list(result.quarantine.index) == [5]  # "NA" is text in a string column: not an allowed type
    assert result.valid["user_id"].isna().tolist() == [False, True, True, True, True]


def test_missing_required_column_fails_the_schema_and_quarantines_every_row():
    frame = events(6).drop(columns="hours_logged")
    result = run(frame)
    check = result.check("schema:hours_logged")
    assert (check.passed, check.severity, check.failing_rows) == (False, Severity.ERROR, 6)
    assert "'task_events'" in check.message and "'hours_logged'" in check.message
    assert result.rows_valid == 0 and result.rows_quarantined == 6
    assert set(result.quarantine[REASON]) == {check.message}
    for name in ("range:hours_logged", "distribution:hours_logged"):
        assert not result.check(name).passed and "absent" in result.check(name).details["skipped"]
    assert check in result.blocking_failures


def test_optional_column_may_be_absent():
    rules = TableRules(
        "t",
        (ColumnRule("id", "int64", nullable=False), ColumnRule("note", "string", required=False)),
        (CheckRule("categorical", column="note", params={"allowed": ["a"]}),),
    )
    result = run(pd.DataFrame({"id": [1, 2]}), rules)
    assert failed(result) == set() and result.rows_valid == 2
    assert result.check("schema:note").details["absent"]


def test_unexpected_column_is_a_warning_and_kept():
    frame = events(3).assign(comment=["a", "b", "c"])
    result = run(frame)
    check = result.check("schema:extra_columns")
    assert (check.passed, check.severity) == (False, Severity.WARNING)
    assert check.details["extra_columns"] == ["comment"]
    assert result.passed and result.valid["comment"].tolist() == ["a", "b", "c"]


def test_timestamps_are_read_from_text_and_naive_ones_taken_as_utc():
    frame = events(4).set_axis([7, 7, 7, 7])  # repeated labels: rows are told apart by position
    frame["event_time"] = ["2025-06-01T10:00:00+02:00", "2025-06-01 09:30", "yesterday", "2025-06-01T11:00Z"]
    result = run(frame)
    assert result.quarantine[REASON].tolist() == ["event_time=yesterday is not a valid datetime64[ns, UTC]"]
    assert result.valid["event_time"].tolist() == [
        pd.Timestamp("2025-06-01 08:00", tz="UTC"),
        pd.Timestamp("2025-06-01 09:30", tz="UTC"),
        pd.Timestamp("2025-06-01 11:00", tz="UTC"),
    ]


def test_bool_and_category_columns():
    rules = TableRules("t", (ColumnRule("flag", "bool", nullable=False), ColumnRule("kind", "category")))
    frame = pd.DataFrame({"flag": ["yes", "False", "maybe", 1], "kind": ["a", "b", None, "a"]})
    result = run(frame, rules)
    assert list(result.quarantine.index) == [2]
    assert result.valid["flag"].tolist() == [True, False, True]
    assert result.valid["flag"].dtype == bool and result.valid["kind"].dtype == "category"


# --- row-level checks ------------------------------------------------------------------------------


def test_range_quarantines_values_outside_the_bounds():
    frame = events(5)
    frame["hours_logged"] = [1.0, 31.5, -1.0, 24.0, np.nan]
    result = run(frame)
    assert list(result.quarantine.index) == [1, 2]
    assert reason_of(result, 1) == "hours_logged=31.5 outside [0, 24]"
    assert reason_of(result, 2) == "hours_logged=-1.0 outside [0, 24]"
    assert result.check("range:hours_logged").failing_rows == 2


def test_categorical_quarantines_values_outside_the_allowed_set():
    frame = events(4)
    frame.loc[3, "event_type"] = "exploded"
    result = run(frame)
    assert reason_of(result, 3) == "event_type=exploded is not an allowed value"
    assert result.check("categorical:event_type").examples == [{"row": 3, "event_type": "exploded"}]


def test_duplicate_keys_keep_their_first_occurrence():
    frame = events(6)
    frame["event_id"] = [5, 1, 5, 2, 5, 1]
    result = run(frame)
    assert list(result.quarantine.index) == [2, 4, 5]
    assert reason_of(result, 2) == "duplicate key event_id=5"
    assert result.valid["event_id"].tolist() == [5, 1, 2]


def test_composite_keys():
    rules = TableRules(
        "t", (ColumnRule("a", "int64"), ColumnRule("b", "string")), (CheckRule("uniqueness", columns=("a", "b")),)
    )
    result = run(pd.DataFrame({"a": [1, 1, 1, 2], "b": ["x", "y", "x", "x"]}), rules)
    assert list(result.quarantine.index) == [2]
    assert result.quarantine.loc[2, REASON] == "duplicate key (a=1, b=x)"


def test_future_timestamps_beyond_the_tolerance_are_quarantined():
    frame = events(3)
    frame["event_time"] = [NOW - pd.Timedelta(hours=1), NOW + pd.Timedelta(minutes=3), NOW + pd.Timedelta(days=2)]
    result = run(frame)
    assert list(result.quarantine.index) == [2]
    assert reason_of(result, 2).startswith("event_time=2025-06-03 12:00:00+00:00 is in the future")
    assert result.check("future:event_time").severity is Severity.ERROR


def test_a_row_failing_several_checks_appears_once_with_all_of_them():
    frame = events(3)
    frame.loc[1, ["hours_logged", "event_type"]] = [99.0, "bogus"]
    frame.loc[1, "task_id"] = None
    result = run(frame)
    assert list(result.quarantine.index) == [1]
    row = result.quarantine.loc[1]
    assert row[FAILED_CHECKS] == "schema:task_id,range:hours_logged,categorical:event_type"
    assert row[REASON] == (
        "task_id is null but not nullable; hours_logged=99.0 outside [0, 24]; event_type=bogus is not an allowed value"
    )


def test_quarantine_keeps_the_received_index_and_values():
    frame = events(4).set_axis(["a", "b", "c", "d"])
    frame["hours_logged"] = pd.Series([1, "2", "x", 30], index=frame.index, dtype=object)
    result = run(frame)
    assert list(result.quarantine.index) == ["c", "d"]
    assert result.quarantine["hours_logged"].tolist() == ["x", 30]
    assert list(result.valid.index) == ["a", "b"]
    assert result.valid["hours_logged"].tolist() == [1.0, 2.0]


def test_many_failures_are_all_quarantined():
    frame = events(5000)
    frame.loc[frame.index % 3 == 0, "hours_logged"] = 50.0
    result = run(frame)
    assert result.rows_quarantined == len(range(0, 5000, 3))
    assert result.check("range:hours_logged").failing_rows == result.rows_quarantined


# --- table-level checks and severities ---------------------------------------------------------


def test_completeness_is_judged_on_every_received_row_and_does_not_quarantine():
    frame = events(20)
    frame.loc[:1, "user_id"] = np.nan  # 10% null, 5% allowed
    result = run(frame)
    check = result.check("completeness:user_id")
    assert (check.passed, check.failing_rows) == (False, 2)
    assert check.details["null_fraction"] == pytest.approx(0.1)
    assert result.rows_quarantined == 0
    assert result.passed and check in result.warnings  # WARNING: reported, not blocking


def test_freshness_passes_on_recent_data_and_fails_on_old_data():
    old = events(5).assign(event_time=NOW - pd.Timedelta(hours=72))
    check = run(old).check("freshness:event_time")
    assert not check.passed and check.details["age_hours"] == pytest.approx(72)
    assert run(events(5)).check("freshness:event_time").passed


def test_distribution_numeric_ks_against_the_reference():
    reference = events(500, seed=1)
    assert run(events(300), reference=reference).check("distribution:hours_logged").passed
    shifted = events(300).assign(hours_logged=lambda frame: frame["hours_logged"] + 10)
    check = run(shifted, reference=reference).check("distribution:hours_logged")
    assert not check.passed and check.details["ks_statistic"] > 0.2


def test_distribution_without_reference_is_skipped():
    check = run(events(5)).check("distribution:hours_logged")
    assert check.passed and check.details == {"skipped": "no reference frame"}


def test_distribution_categorical_psi_and_chi_square():
    rules = TableRules(
        "t",
        (ColumnRule("kind", "string"),),
        (CheckRule("distribution", Severity.INFO, column="kind", params={"max_psi": 0.1, "min_p_value": 0.01}),),
    )
    reference = pd.DataFrame({"kind": ["a"] * 500 + ["b"] * 500})
    same = run(pd.DataFrame({"kind": ["a"] * 100 + ["b"] * 100}), rules, reference=reference)
    assert same.check("distribution:kind").passed
    drifted = run(pd.DataFrame({"kind": ["a"] * 180 + ["c"] * 20}), rules, reference=reference)
    check = drifted.check("distribution:kind")
    assert not check.passed and check.details["psi"] > 0.1 and check.details["chi_square_p"] < 0.01
    assert drifted.passed and drifted.blocking_failures == []  # INFO never blocks


def test_error_severity_blocks_and_warning_does_not():
    frame = events(10)
    frame.loc[0, "hours_logged"] = 40.0
    assert [check.name for check in run(frame).blocking_failures] == ["range:hours_logged"]
    warning_rules = load_rules(
        yaml.safe_load(
            RULES_YAML.replace(
                "{kind: range, column: hours_logged, min: 0, max: 24, severity: ERROR}",
                "{kind: range, column: hours_logged, min: 0, max: 24, severity: WARNING}",
            )
        )
    ).for_table("demo_db", "task_events")
    result = run(frame, warning_rules)
    assert result.passed and result.rows_quarantined == 1  # still a row-level failure


def test_empty_frame_passes_everything_and_says_freshness_was_not_judged():
    """A day without rows is not stale data (the demo's first days have no events yet); a day whose
    rows are all invalid has no fresh valid record, and fails."""
    result = run(events(0))
    assert failed(result) == set()
    assert result.check("freshness:event_time").details == {"skipped": "no rows in this partition"}
    assert result.rows_in == result.rows_valid == result.rows_quarantined == 0
    all_bad = events(3).assign(event_time="not a time")
    assert "freshness:event_time" in failed(run(all_bad))


# --- report ----------------------------------------------------------------------------------------


def test_report_is_json_and_holds_every_check():
    frame = events(30).assign(extra=1)
    frame.loc[3, "hours_logged"] = 30.0
    frame.loc[4, "event_time"] = NOW + pd.Timedelta(days=1)
    report = json.loads(json.dumps(run(frame, reference=events(100, seed=2)).to_report()))
    assert [check["name"] for check in report["checks"]] == ALL_CHECKS
    assert (report["rows_in"], report["rows_valid"], report["rows_quarantined"]) == (30, 28, 2)
    assert report["blocking_failures"] == ["range:hours_logged", "future:event_time"]
    assert report["validated_at"] == "2025-06-01T12:00:00+00:00"
    future = next(check for check in report["checks"] if check["name"] == "future:event_time")
    assert future["examples"] == [{"row": 4, "event_time": "2025-06-02T12:00:00+00:00"}]
    freshness = next(check for check in report["checks"] if check["name"] == "freshness:event_time")
    assert isinstance(freshness["details"]["newest"], str)


# --- cleaning --------------------------------------------------------------------------------------


def test_clean_applies_zero_and_casts_to_declared_dtypes():
    frame = events(4)
    frame.loc[1, "user_id"] = np.nan
    frame.loc[2, "hours_logged"] = np.nan
    silver = clean(run(frame).valid, RULES)
    assert silver["user_id"].dtype == np.int64 and silver["user_id"].tolist()[1] == 0
    assert silver["hours_logged"].tolist()[2] == 0.0


def _policy_rules(missing: str, **column) -> TableRules:
    return TableRules(
        "t",
        (
            ColumnRule("id", "int64", nullable=False),
            ColumnRule("n", "int64", missing=missing, **column),
            ColumnRule("s", "string", missing="impute" if missing == "impute" else "keep"),
        ),
        keys=("id",),
    )


@pytest.mark.parametrize(
    ("missing", "column", "expected_n", "expected_s"),
    [
        ("impute", {}, [1, 3, 3, 10], ["a", "b", "b", "b"]),
        ("impute", {"impute_value": 7}, [1, 7, 3, 10], ["a", "b", "b", "b"]),
        ("zero", {}, [1, 0, 3, 10], ["a", "b", None, "b"]),
        ("drop", {}, [1, 3, 10], ["a", None, "b"]),
    ],
)
def test_clean_missing_value_policies(missing, column, expected_n, expected_s):
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "n": [1, None, 3, 10], "s": ["a", "b", None, "b"]})
    rules = _policy_rules(missing, **column)
    silver = clean(run(frame, rules).valid, rules)
    assert silver["n"].tolist() == expected_n and silver["n"].dtype == np.int64
    assert [None if pd.isna(value) else value for value in silver["s"]] == expected_s


def test_clean_keep_leaves_nulls_in_a_nullable_int():
    rules = _policy_rules("keep")
    silver = clean(pd.DataFrame({"id": [1, 2], "n": [1, None], "s": ["a", "b"]}), rules)
    assert str(silver["n"].dtype) == "Int64" and silver["n"].isna().tolist() == [False, True]


def test_clean_deduplicates_by_keys():
    rules = TableRules(
        "t",
        (ColumnRule("id", "int64"), ColumnRule("at", "datetime64[ns, UTC]"), ColumnRule("v", "int64")),
        keys=("id",),
    )
    frame = pd.DataFrame(
        {
            "id": [1, 2, 1, 1],
            "at": pd.to_datetime(["2025-01-02", "2025-01-01", "2025-01-03", "2025-01-01"], utc=True),
            "v": [10, 20, 30, 40],
        }
    )
    assert clean(frame, rules)["v"].tolist() == [10, 20]
    assert clean(frame, rules, keep="last")["v"].tolist() == [20, 40]
    assert clean(frame, rules, keep="latest")["v"].tolist() == [20, 30]


def test_clean_refuses_unvalidated_rows():
    with pytest.raises(MaestroError, match="task_id='abc' is not a valid int64"):
        clean(events(2).assign(task_id=["1", "abc"]), RULES)


# --- rules -----------------------------------------------------------------------------------------


def test_load_rules_from_a_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(RULES_YAML)
    assert load_rules(path).tables == {"demo_db/task_events": RULES}
    assert RULES.check("range:hours_logged").params == {"min": 0, "max": 24}
    assert RULES.check("uniqueness:event_id").columns == ("event_id",)


def _with_check(check: str) -> dict:
    return {
        "tables": {
            "db/events": {
                "columns": {"id": {"dtype": "int64"}, "at": {"dtype": "datetime64[ns, UTC]"}},
                "checks": [{"kind": "completeness", "column": "id"}, yaml.safe_load(check)],
            }
        }
    }


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("{kind: sameness, column: id}", r"table 'db/events': check 2 \(sameness:id\): unknown check kind 'sameness'"),
        ("{kind: range, column: id, min: 0, severity: FATAL}", r"check 2 \(range:id\): unknown severity 'FATAL'"),
        ("{kind: range, column: idd, min: 0}", r"table 'db/events': check 2 \(range:idd\): unknown column 'idd'"),
        ("{kind: range, column: id, minimum: 0}", r"unknown parameter\(s\) minimum for a range check"),
        ("{kind: range, column: id}", "a range check needs `min`, `max` or both"),
        ("{kind: range, column: id, min: 5, max: 1}", "min 5 is above max 1"),
        ("{kind: freshness, column: id, max_age_hours: 1}", "a freshness check needs a datetime column"),
        ("{kind: distribution, column: id, max_psi: 0.1}", "max_psi does not apply to a int64 column"),
        ("{kind: categorical, column: id, allowed: []}", "`allowed` must be a non-empty list"),
        (
            "{kind: completeness, column: id, max_null_fraction: 2}",
            "`max_null_fraction` must be a number between 0 and 1",
        ),
        ("{kind: completeness, column: id}", "completeness:id declared more than once"),
        ("{kind: schema, column: id}", "'schema' checks are implicit"),
        ("{kind: uniqueness}", r"check 2 \(uniqueness:\): a uniqueness check needs `columns`"),
    ],
)
def test_load_rules_errors_name_the_table_and_check(check, message):
    with pytest.raises(RulesError, match=message):
        load_rules(_with_check(check))


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"id": {"dtype": "int65"}}, r"table 'db/events': column 'id': unknown dtype 'int65'"),
        ({"id": {"dtype": "complex128"}}, "unsupported dtype 'complex128'"),
        ({"id": {"type": "int64"}}, r"column 'id': unknown field\(s\) type"),
        ({"id": {"dtype": "int64", "missing": "guess"}}, "unknown missing-value policy 'guess'"),
        ({"id": {"dtype": "string", "missing": "zero"}}, "missing: zero needs a numeric or bool column"),
        ({"id": {"dtype": "int64", "missing": "impute", "impute_value": "x"}}, "impute_value 'x' is not a valid int64"),
        ({"id": {"dtype": "int64", "nullable": "no"}}, "`nullable` must be true or false"),
    ],
)
def test_load_rules_column_errors(columns, message):
    with pytest.raises(RulesError, match=message):
        load_rules({"tables": {"db/events": {"columns": columns}}})


def test_load_rules_document_errors(tmp_path):
    with pytest.raises(RulesError, match="`tables` mapping"):
        load_rules({"task_events": {}})
    with pytest.raises(RulesError, match="cannot read rules file"):
        load_rules(tmp_path / "absent.yaml")
    (tmp_path / "broken.yaml").write_text("tables: [unclosed")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(tmp_path / "broken.yaml")
    with pytest.raises(RulesError, match=r"table 'db/events': key column\(s\) 'nope'"):
        load_rules({"tables": {"db/events": {"keys": ["nope"], "columns": {"id": {"dtype": "int64"}}}}})


def test_validate_refuses_a_frame_with_repeated_column_names():
    frame = pd.concat([events(2), events(2)[["task_id"]]], axis=1)
    with pytest.raises(MaestroError, match=r"repeated column names \['task_id'\]"):
        validate(frame, RULES, now=NOW)


# --- property: the quarantine is exactly the injected faults -------------------------------------

FAULTS = ("unreadable_task", "null_task", "hours", "event_type", "duplicate", "future", "fractional_user")


def _inject(frame: pd.DataFrame, rng: np.random.Generator) -> set[int]:
    """Break about a tenth of the rows, one fault each; return their positions."""
    positions = np.flatnonzero(rng.random(len(frame)) < 0.1)
    positions = positions[positions > 0]
    kinds = rng.integers(0, len(FAULTS), len(positions))
    task, user = frame["task_id"].astype(object).to_numpy(), frame["user_id"].to_numpy().copy()
    ids, hours = frame["event_id"].to_numpy().copy(), frame["hours_logged"].to_numpy().copy()
    types, times = frame["event_type"].to_numpy().copy(), frame["event_time"].copy()
    for position, kind in zip(positions, (FAULTS[k] for k in kinds)):
        if kind == "unreadable_task":
            task[position] = rng.choice(["x1", "1.5", "", "NaNa"]) if rng.random() < 0.8 else [1]
            if task[position] == "":
                task[position] = None  # a blank is a null, and task_id is not nullable either way
        elif kind == "null_task":
            task[position] = None
        elif kind == "hours":
            hours[position] = rng.choice([-0.5, 24.01, 1e9])
        elif kind == "event_type":
            types[position] = rng.choice(["Created", "deleted", ""])
        elif kind == "duplicate":
            ids[position] = ids[position - 1]  # in order: a chain of duplicates keeps its first row
        elif kind == "future":
            times.iloc[position] = NOW + pd.Timedelta(minutes=int(rng.integers(6, 10_000)))
        elif kind == "fractional_user":
            user[position] = 2.5
    frame[["event_id", "user_id", "hours_logged", "event_type"]] = np.array([ids, user, hours, types], dtype=object).T
    frame["task_id"], frame["event_time"] = task, times
    return set(positions.tolist())


@pytest.mark.parametrize("seed", range(12))
def test_quarantine_is_exactly_the_injected_rows(seed):
    rng = np.random.default_rng(seed)
    frame = events(int(rng.integers(1, 300)), seed=seed)
    frame = frame.astype({"event_id": object, "user_id": object, "hours_logged": object, "event_type": object})
    injected = _inject(frame, rng)
    if rng.random() < 0.5:  # stringly typed, as from a CSV
        frame = frame.astype({"event_id": str, "hours_logged": str})
    frame.index = frame.index + 1000
    result = run(frame)
    assert set(result.quarantine.index - 1000) == injected
    assert result.quarantine[REASON].str.len().gt(0).all()
    assert result.valid["event_id"].is_unique
