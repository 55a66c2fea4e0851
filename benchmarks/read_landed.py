"""read_landed — reading a landed CSV file into bronze's all-text Arrow table.

A synthetic ``--mb`` MB CSV file (default 50; seeded, so every run reads the same bytes) with the
shapes partners send: codes with leading zeros, timestamps, decimals, and a comment column that is
sometimes empty, quoted with a comma, quoted with a line break or with doubled quotes.

In the same run the same bytes are read two ways, taking turns, ``--repeats`` rounds each (the
best time of each counts):

* ``maestro_assets.lib.ingestion.files.read_landed`` — decoding, header by Python's csv, records by
  Arrow's CSV reader, every column a string, the ``_file`` column;
* the baseline: Python's csv module — the reader's reference for correctness — decoding the same
  bytes and reading every record as lists of strings (no Arrow table at all).

Both must read the same number of records (checked). Figure: ``read_landed.csv_<mb>mb`` — seconds;
the issue set no figure, so the target is the ratio to the reference: at most 1 (the fast path
must not be slower than reading with csv alone).
"""

from __future__ import annotations

import argparse
import csv
import io
import random

from benchmarks.harness import figure, note, peak_rss_mb, timed
from maestro_assets.lib.ingestion.files import read_landed
from maestro_assets.lib.ingestion.sources import TableSource

HEADER = "event_id,user_id,event_time,event_type,hours,code,comment,amount\n"
COMMENTS = ("plain text", '"quoted, with a comma"', '"two\nlines"', "", '"say ""hi"""')


def landed_csv(size: int, seed: int = 7) -> tuple[bytes, int]:
    """About ``size`` bytes of CSV, and its number of records."""
    rnd = random.Random(seed)
    lines, total, n = [HEADER], len(HEADER), 0
    while total < size:
        line = (
            f"{n},u{rnd.randint(1, 99999):05d},2026-09-01T10:{n % 60:02d}:00Z,click,{rnd.random() * 8:.2f},"
            f"{rnd.randint(0, 999999):06d},{rnd.choice(COMMENTS)},{rnd.randint(0, 10**6) / 100}\n"
        )
        lines.append(line)
        total += len(line)
        n += 1
    return "".join(lines).encode(), n


def python_csv(payload: bytes) -> int:
    rows = list(csv.reader(io.StringIO(payload.decode("utf-8"), newline="")))
    return len(rows) - 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="read_landed")
    parser.add_argument("--mb", type=float, default=50.0, help="size of the CSV file in MB (10^6 bytes)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    payload, records = landed_csv(int(args.mb * 1_000_000))
    spec = TableSource(source="landing", kind="files", table="bench", prefix="landing/bench/", format="csv")
    ours, reference = [], []
    for _ in range(args.repeats):
        seconds, table = timed(lambda: read_landed(payload, spec, "landing/bench/file.csv"))
        ours.append(seconds)
        seconds, counted = timed(lambda: python_csv(payload))
        reference.append(seconds)
        assert table.num_rows == counted == records, (table.num_rows, counted, records)
    note(
        f"{len(payload) / 1e6:.1f} MB, {records} records: read_landed best {min(ours):.3f} s "
        f"(all {', '.join(f'{s:.3f}' for s in ours)}), csv module best {min(reference):.3f} s; "
        f"peak memory {peak_rss_mb():.0f} MiB"
    )
    figure(
        f"read_landed.csv_{args.mb:g}mb",
        min(ours),
        "s",
        "python_csv",
        min(reference),
        "<= 1",
        {"mb": args.mb, "records": records, "repeats": args.repeats},
        target_of="ratio",
    )
    return 0
