"""``git_metrics``: the weekly git metrics of every week of a repository of ``--commits`` commits
(default 100,000) with ``lib.analytics.git_metrics.repository_weeks`` — one streamed ``git log
--numstat -M -z`` parsed into weekly rows and per-contributor rows, plus the active-branch walks —
against the floor, ``git log --numstat --all`` written to /dev/null (git computing the same diffs,
nothing parsed). The contenders take turns over ``--repeat`` rounds; medians.

Setup (not timed): a synthetic repository built by one ``git fast-import`` fed as it is generated
(seeded): 12 authors, a few thousand small text files edited, created, renamed and deleted, 2% of
the changes on binary blobs, a commit every ~15 minutes, and every ~40 commits on main a feature
branch of 2-8 commits merged back with a merge commit (a few left open).

Figures: ``git_metrics.vs_git_log`` — our median seconds against the floor's (target: a ratio of at
most 3); ``git_metrics.wall_time`` — our median seconds (target < 60 s); ``git_metrics.peak_rss`` —
the peak of the summed resident memory of this process and its git children while ours runs,
sampled every 0.1 s with psutil, as benchmarks/automl_scaling.py measures it (target < 500 MB;
the baseline is the same measure during the floor's run; ``params.python_rss_before_mb`` is this
process's own before both). ``params.agrees`` says whether the commit and merge totals equal
``git rev-list --count``'s; ``params.one_week_partition_s`` times ``repository_week`` (one weekly
partition: a rev-list walk of the history, then only that week's diffs) for the first, a middle
and the last week.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psutil

from .automl_scaling import TreeMemory
from .harness import figure, note

GIT_ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
AUTHORS = [(f"Author {i:02d}", f"author{i:02d}@example.org") for i in range(12)]
START = 1_609_718_400  # Monday 2021-01-04 00:00 UTC
START_WEEK = date(2021, 1, 4)
STEP_S = 900
FILES_AT_START = 400
LINGERING_MERGED = 20


def build_repository(path: Path, commits: int, seed: int = 0) -> dict:
    """A repository of ``commits`` commits written by one ``git fast-import`` as it is generated."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], env=GIT_ENV, check=True)
    importer = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet", "--date-format=raw"], stdin=subprocess.PIPE, env=GIT_ENV
    )
    out = importer.stdin
    mark = 0
    contents: dict[str, list[int]] = {}  # path -> its lines (as numbers) on main
    made = {"commits": 0, "merges": 0, "binary_changes": 0, "renames": 0, "branches_open": 0}
    when = START

    def blob(data: bytes) -> int:
        nonlocal mark
        mark += 1
        out.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
        return mark

    def text(lines: list[int]) -> bytes:
        return "".join(f"line {x} of the file\n" for x in lines).encode()

    def edit(path: str) -> tuple[str, int]:
        lines = contents.setdefault(path, [rng.randrange(10**6) for _ in range(rng.randint(5, 40))])
        for _ in range(rng.randint(1, 4)):  # change, add or drop a few lines
            roll = rng.random()
            if roll < 0.5 and lines:
                lines[rng.randrange(len(lines))] = rng.randrange(10**6)
            elif roll < 0.8 or not lines:
                lines.insert(rng.randint(0, len(lines)), rng.randrange(10**6))
            else:
                lines.pop(rng.randrange(len(lines)))
        return path, blob(text(lines))

    def commit(ref: str, parent: int | None, changes: list[str], merge: int | None = None) -> int:
        nonlocal mark, when
        when += rng.randint(STEP_S // 3, STEP_S * 5 // 3)
        name, email = AUTHORS[min(int(rng.paretovariate(1.2)) - 1, len(AUTHORS) - 1)]
        mark += 1
        this = mark
        head = [f"commit {ref}", f"mark :{this}", f"author {name} <{email}> {when} +0100"]
        head += [f"committer {name} <{email}> {when} +0100", "data 6", "change"]
        if parent is not None:
            head.append(f"from :{parent}")
        if merge is not None:
            head.append(f"merge :{merge}")
        out.write(("\n".join(head) + "\n").encode())
        out.write(b"".join(line.encode() + b"\n" for line in changes))
        out.write(b"\n")
        made["commits"] += 1
        return this

    def changes_of_one_commit(on_main: bool) -> list[str]:
        lines = []
        for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
            roll = rng.random()
            if roll < 0.02:
                data = bytes(rng.randrange(256) for _ in range(64)) + b"\0"
                lines.append(f"M 100644 :{blob(data)} assets/image_{rng.randrange(50):02d}.bin")
                made["binary_changes"] += 1
            elif roll < 0.03 and on_main and main_paths:  # only main's tree is tracked: rename there
                old = main_paths.pop(rng.randrange(len(main_paths)))
                new = f"moved/{old.rsplit('/', 1)[-1]}.{mark}"
                contents[new] = contents.pop(old)
                main_paths.append(new)
                lines.append(f"R {old} {new}")
                made["renames"] += 1
            else:
                path, data_mark = edit(f"src/module_{rng.randrange(FILES_AT_START * 5):04d}.py")
                if on_main and path not in on_main_set:
                    on_main_set.add(path)
                    main_paths.append(path)
                lines.append(f"M 100644 :{data_mark} {path}")
        return lines

    main_paths = [f"src/module_{i:04d}.py" for i in range(FILES_AT_START)]  # renamable files of main's tree
    on_main_set = set(main_paths)
    main = commit("refs/heads/main", None, [f"M 100644 :{edit(p)[1]} {p}" for p in main_paths])
    feature, merged_refs = 0, []
    while made["commits"] < commits:
        if rng.random() < 1 / 40:  # a feature branch, merged back unless it is one of the last few
            feature += 1
            ref, tip = f"refs/heads/feature-{feature:05d}", main
            touched: dict[str, int] = {}
            for _ in range(rng.randint(2, 8)):
                changes = changes_of_one_commit(on_main=False)
                tip = commit(ref, tip, changes)
                touched.update((c.split(" ")[-1], int(c.split(" ")[2][1:])) for c in changes if c.startswith("M "))
            if made["commits"] < commits * 0.98:
                main = commit("refs/heads/main", main, [f"M 100644 :{m} {p}" for p, m in touched.items()], merge=tip)
                made["merges"] += 1
                merged_refs.append(ref)
            else:
                made["branches_open"] += 1
        else:
            main = commit("refs/heads/main", main, changes_of_one_commit(on_main=True))
    out.close()
    if importer.wait() != 0:
        raise SystemExit("git fast-import failed")
    # most merged branches are deleted, as teams do; the last few linger
    deleted = "".join(f"delete {ref}\n" for ref in merged_refs[:-LINGERING_MERGED]).encode()
    subprocess.run(["git", "-C", str(path), "update-ref", "--stdin"], input=deleted, env=GIT_ENV, check=True)
    made["branches"] = len(_git_out(path, "for-each-ref", "refs/heads").splitlines())
    made["weeks"] = (when - START) // (7 * 86_400) + 1
    return made


def ours(repo: Path) -> dict:
    from maestro_assets.lib.analytics.git_metrics import repository_weeks

    metrics = repository_weeks(repo)
    weeks, contributors = metrics.weeks_frame(), metrics.contributors_frame()
    return {
        "weeks": len(weeks),
        "commits": int(weeks["commits"].sum()),
        "merges": int(weeks["merges"].sum()),
        "contributor_rows": len(contributors),
        "churn": int(weeks["churn"].sum()),
    }


def floor(repo: Path) -> None:
    with open(os.devnull, "wb") as sink:
        subprocess.run(["git", "-C", str(repo), "log", "--numstat", "--all"], stdout=sink, env=GIT_ENV, check=True)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks git_metrics", description=__doc__)
    parser.add_argument("--commits", type=int, default=100_000, help="commits of the synthetic repository")
    parser.add_argument("--repeat", type=int, default=3, help="alternated rounds (medians)")
    args = parser.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="maestro-bench-git-metrics-"))
    try:
        started = time.perf_counter()
        repo = tmp / "repo"
        made = build_repository(repo, args.commits)
        setup_s = time.perf_counter() - started
        note(f"git_metrics: built {made['commits']} commits in {setup_s:.1f}s")
        floor(repo)  # warm the page cache for both
        rss_before_mb = psutil.Process().memory_info().rss / 2**20
        times: dict[str, list[float]] = {"ours": [], "floor": []}
        peaks: dict[str, list[float]] = {"ours": [], "floor": []}
        load, result = [], None
        for i in range(args.repeat):
            load.append([round(x, 2) for x in os.getloadavg()])
            for who in ("ours", "floor") if i % 2 == 0 else ("floor", "ours"):
                with TreeMemory() as memory:
                    start = time.perf_counter()
                    if who == "ours":
                        result = ours(repo)
                    else:
                        floor(repo)
                    times[who].append(round(time.perf_counter() - start, 3))
                peaks[who].append(round(memory.peak_bytes / 2**20, 1))
            note(f"git_metrics: round {i + 1}/{args.repeat}: {times['ours'][-1]}s vs git log {times['floor'][-1]}s")
        one_week_s = {}
        from maestro_assets.lib.analytics.git_metrics import repository_week

        for label, week in (("first", 0), ("middle", made["weeks"] // 2), ("last", made["weeks"] - 1)):
            start = time.perf_counter()
            repository_week(repo, START_WEEK + timedelta(days=7 * week))
            one_week_s[label] = round(time.perf_counter() - start, 3)
        expected_commits = int(_git_out(repo, "rev-list", "--count", "--no-merges", "--branches"))
        expected_merges = int(_git_out(repo, "rev-list", "--count", "--merges", "--branches"))
        mine, base = statistics.median(times["ours"]), statistics.median(times["floor"])
        common = {
            "commits": args.commits,
            "repository": made,
            "result": result,
            "agrees": result["commits"] == expected_commits and result["merges"] == expected_merges,
            "repeats": args.repeat,
            "ours_s": times["ours"],
            "floor_s": times["floor"],
            "ours": "repository_weeks(repo): git log --branches --numstat -M -z parsed as it streams, "
            "active-branch walks, both DataFrames",
            "floor": "git log --numstat --all > /dev/null",
            "peak_rss_mb_by_round": peaks,
            "rss_measure": "psutil: summed RSS of this process and its git children, sampled every 0.1 s",
            "load_average_by_round": load,
            "cpus": os.cpu_count(),
            "setup_s": round(setup_s, 1),
            "python_rss_before_mb": round(rss_before_mb, 1),
            "one_week_partition_s": one_week_s,
        }
        figure("git_metrics.vs_git_log", mine, "s", "git_log_numstat_all", base, "<= 3", common, target_of="ratio")
        figure("git_metrics.wall_time", mine, "s", "git_log_numstat_all", base, "<= 60", common)
        figure(
            "git_metrics.peak_rss",
            max(peaks["ours"]),
            "MB",
            "git_log_numstat_all_peak_rss",
            max(peaks["floor"]),
            "<= 500",
            common,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _git_out(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], env=GIT_ENV, capture_output=True, text=True, check=True)
    return done.stdout
