"""Tables in and out of the engine for ``maestro automl``: CSV or Parquet by the file's suffix,
and the predictions file (``pred`` and ``proba`` / ``proba_<class>``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .validation import AutoMLInputError

READERS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}


def read_table(path, option: str = "--data") -> pd.DataFrame:
    file = Path(path)
    reader = READERS.get(file.suffix.lower())
    if reader is None:
        raise AutoMLInputError(f"{option} {file}: not a .csv or .parquet file")
    if not file.is_file():
        raise AutoMLInputError(f"{option} {file}: no such file")
    try:
        frame = reader(file)
    except Exception as exc:  # the reader's own words say what is wrong with the file
        raise AutoMLInputError(f"{option} {file}: cannot be read ({type(exc).__name__}: {exc})") from None
    if frame.empty:
        raise AutoMLInputError(f"{option} {file}: has no rows")
    return frame


def write_table(frame: pd.DataFrame, path, option: str = "--predictions") -> Path:
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    if file.suffix.lower() in (".parquet", ".pq"):
        frame.to_parquet(file, index=False)
    elif file.suffix.lower() == ".csv":
        frame.to_csv(file, index=False)
    else:
        raise AutoMLInputError(f"{option} {file}: give a .csv or .parquet file name")
    return file
