"""Git metrics against real repositories built here with the git CLI; every figure is checked
against git's own counts (rev-list, shortlog, log --numstat / --name-only), parsed simply here."""

from __future__ import annotations

import math
import os
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from maestro_assets.lib.analytics.git_metrics import (
    UNKNOWN_AUTHOR,
    GitMetricsError,
    collaboration,
    iter_commits,
    repository_week,
    repository_weeks,
)

ENV = {
    **os.environ,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}
WEEK_A = date(2024, 3, 4)  # a Monday
WEEK_B = WEEK_A + timedelta(days=7)


def git(repo: Path, *args: str, env: dict | None = None, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], env={**ENV, **(env or {})}, input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode()


def at(week: date, day: int, hour: int) -> int:
    return int(datetime(week.year, week.month, week.day, hour, tzinfo=UTC).timestamp()) + day * 86_400


def commit(repo: Path, who: tuple[str, str], when: int, files: dict[str, str | bytes], message: str = "work") -> str:
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(repo, "add", "-A")
    name, email = who
    stamp = f"@{when} +0100"
    git(
        repo,
        "-c",
        f"user.name={name}",
        "-c",
        f"user.email={email}",
        "commit",
        "-q",
        "-m",
        message,
        env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
    )
    return git(repo, "rev-parse", "HEAD").strip()


ANA_OLD = ("ana", "ana@old.example")
ANA = ("Ana Lopez", "ana@new.example")
BEN = ("Ben Okafor", "ben@example.org")
CLEO = ("Cleo Park", "cleo@example.org")
MAILMAP = "Ana Lopez <ana@new.example> ana <ana@old.example>\n"


def lines(n: int, tag: str) -> str:
    return "".join(f"{tag} {i}\n" for i in range(n))


@pytest.fixture(scope="module")
def team_repo(tmp_path_factory) -> Path:
    """Three people over two weeks: a .mailmap joining Ana's two identities, a binary file, a
    feature branch renaming a file and merged with a merge commit, a stale unmerged branch."""
    repo = tmp_path_factory.mktemp("team")
    git(repo, "init", "-q", "-b", "main")
    commit(repo, ANA_OLD, at(WEEK_A, 0, 9), {"src/a.py": lines(5, "a"), ".mailmap": MAILMAP})
    commit(repo, BEN, at(WEEK_A, 0, 11), {"src/b.py": lines(8, "b"), "assets/logo.png": b"\x89PNG\0\x01\x02"})
    commit(repo, ANA, at(WEEK_A, 1, 10), {"src/b.py": lines(6, "b") + "ana\n"})
    commit(repo, ANA_OLD, at(WEEK_A, 2, 10), {"src/a.py": lines(7, "a")})
    git(repo, "branch", "stale")
    git(repo, "checkout", "-q", "-b", "feature")
    git(repo, "mv", "src/a.py", "src/core.py")
    commit(repo, CLEO, at(WEEK_B, 0, 9), {"src/core.py": lines(7, "a") + "cleo\n"}, "rename a to core")
    commit(repo, CLEO, at(WEEK_B, 1, 9), {"src/c.py": lines(3, "c")})
    git(repo, "checkout", "-q", "stale")
    commit(repo, BEN, at(WEEK_A, 3, 15), {"docs/notes.md": lines(4, "n")})
    git(repo, "checkout", "-q", "main")
    commit(repo, BEN, at(WEEK_B, 1, 12), {"assets/logo.png": b"\x89PNG\0\x03", "src/b.py": lines(2, "b")})
    stamp = f"@{at(WEEK_B, 2, 10)} +0000"
    git(
        repo,
        "-c",
        f"user.name={BEN[0]}",
        "-c",
        f"user.email={BEN[1]}",
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "merge feature",
        "feature",
        env={"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp},
    )
    commit(repo, ANA, at(WEEK_B, 3, 16), {"src/core.py": lines(3, "core"), "src/b.py": lines(2, "b") + "x\n"})
    return repo


def window(week: date) -> list[str]:
    start = at(week, 0, 0)
    return [f"--since=@{start}", f"--until=@{start + 7 * 86_400 - 1}"]


class Expected:
    """The figures of one week, from git's own commands."""

    def __init__(self, repo: Path, week: date):
        span = ["--branches", *window(week)]
        self.commits = int(git(repo, "rev-list", "--count", "--no-merges", *span))
        self.merges = int(git(repo, "rev-list", "--count", "--merges", *span))
        self.by_author = {}  # e-mail -> commits, through .mailmap
        for line in git(repo, "shortlog", "-sne", "--no-merges", *span).splitlines():
            count, ident = line.strip().split("\t")
            self.by_author[ident[ident.index("<") + 1 : -1].lower()] = int(count)
        self.added = self.deleted = self.binary = 0
        self.churn_by_author: Counter = Counter()
        author = None
        for line in git(repo, "log", "--no-merges", "--numstat", "-M", "--format=@%aE", *span).splitlines():
            if line.startswith("@"):
                author = line[1:].lower()
            elif line:
                added, deleted, _ = line.split("\t", 2)
                if added == "-":
                    self.binary += 1
                else:
                    self.added += int(added)
                    self.deleted += int(deleted)
                    self.churn_by_author[author] += int(added) + int(deleted)
        self.editors = defaultdict(set)  # path -> e-mails
        for line in git(repo, "log", "--no-merges", "--name-only", "-M", "--format=@%aE", *span).splitlines():
            if line.startswith("@"):
                author = line[1:].lower()
            elif line:
                self.editors[line].add(author)
        self.branches = self._branches(repo, week)

    @staticmethod
    def _branches(repo: Path, week: date) -> int:
        main_history = set(git(repo, "rev-list", "--first-parent", "main").split())
        active = 0
        for branch in git(repo, "branch", "--format=%(refname:short)").split():
            in_week = set(git(repo, "rev-list", "--first-parent", *window(week), branch).split())
            own = in_week if branch == "main" else in_week - main_history
            active += bool(own)
        return active

    def score(self) -> float:
        counts = list(self.by_author.values())
        total, n = sum(counts), len(counts)
        evenness = 0.0 if n < 2 else -sum(c / total * math.log(c / total) for c in counts) / math.log(n)
        shared = sum(len(who) > 1 for who in self.editors.values()) / len(self.editors) if self.editors else 0.0
        integration = min(1.0, self.merges / n) if n else 0.0
        return 100 * (0.4 * evenness + 0.4 * shared + 0.2 * integration)


@pytest.mark.parametrize("week", [WEEK_A, WEEK_B])
def test_each_week_matches_git(team_repo, week):
    expected = Expected(team_repo, week)
    everything = repository_weeks(team_repo)
    [row] = [w for w in everything.weeks if w.week_start == week]
    assert expected.commits >= 3 and expected.merges == (week == WEEK_B)  # the data is what the test means
    assert (row.commits, row.merges) == (expected.commits, expected.merges)
    assert row.contributors == len(expected.by_author)
    assert (row.lines_added, row.lines_deleted) == (expected.added, expected.deleted)
    assert row.churn == expected.added + expected.deleted
    assert row.files_changed == len(expected.editors)
    assert row.binary_changes == expected.binary >= 1
    assert row.active_branches == expected.branches
    assert row.collaboration_score == pytest.approx(expected.score(), abs=0.05)
    assert 0 < row.collaboration_score <= 100
    assert row.partition_key == week.isoformat()
    people = {c.contributor: c for c in everything.contributors if c.week_start == week and c.commits}
    assert {who: c.commits for who, c in people.items()} == expected.by_author
    assert {who: c.churn for who, c in people.items()} == {who: expected.churn_by_author[who] for who in people}
    # one weekly partition on its own gives the same figures as the whole history
    alone, contributors = repository_week(team_repo, week)
    assert alone == row
    assert contributors == [c for c in everything.contributors if c.week_start == week]


def test_mailmap_joins_two_identities(team_repo):
    raw = {line for line in git(team_repo, "log", "--branches", "--format=%ae").split()}
    mapped = {line for line in git(team_repo, "log", "--branches", "--format=%aE").split()}
    assert len(raw) == len(mapped) + 1  # ana@old.example is Ana Lopez's
    ours = {c.author_email for c in iter_commits(team_repo)}
    assert ours == mapped
    assert "ana@old.example" not in ours
    rows = repository_weeks(team_repo).contributors
    assert {c.name for c in rows if c.contributor == "ana@new.example"} == {"Ana Lopez"}


def test_merge_is_counted_apart_with_no_diff(team_repo):
    commits = {c.sha: c for c in iter_commits(team_repo)}
    merges = set(git(team_repo, "rev-list", "--merges", "--branches").split())
    assert {sha for sha, c in commits.items() if c.is_merge} == merges and len(merges) == 1
    assert all(not commits[sha].files for sha in merges)
    assert set(commits) == set(git(team_repo, "rev-list", "--branches").split())  # nothing lost or added


def test_rename_gives_the_new_path_and_binary_files_are_counted(team_repo):
    commits = list(iter_commits(team_repo))
    [renaming] = [c for c in commits if any(f.path == "src/core.py" for f in c.files) and c.author_name == CLEO[0]]
    numstat = git(team_repo, "show", "-M", "--numstat", "--format=", renaming.sha).split("\n")[0]
    added, deleted, shown = numstat.split("\t")
    assert shown == "src/{a.py => core.py}"  # git's own rename form
    assert [(f.path, f.added, f.deleted) for f in renaming.files] == [("src/core.py", int(added), int(deleted))]
    binary = [c for c in commits if c.binary_files]
    shown = git(team_repo, "log", "--branches", "--numstat", "--format=", "--no-merges").splitlines()
    assert sum(c.binary_files for c in binary) == sum(line.startswith("-\t-\t") for line in shown) == 2
    assert all(f.added == f.deleted == 0 for c in binary for f in c.files if f.binary)


def test_empty_repository_and_bad_arguments(tmp_path):
    empty = tmp_path / "empty"
    git(tmp_path, "init", "-q", str(empty))
    assert list(iter_commits(empty)) == []
    assert repository_weeks(empty).weeks == []
    row, contributors = repository_week(empty, WEEK_A)
    assert (row.commits, row.merges, row.churn, row.collaboration_score, contributors) == (0, 0, 0, 0.0, [])
    with pytest.raises(GitMetricsError, match="not a git repository"):
        list(iter_commits(tmp_path / "nowhere"))
    with pytest.raises(GitMetricsError, match="2024-03-06 is a Wednesday.*2024-03-04"):
        repository_week(empty, date(2024, 3, 6))


def test_shallow_clone(team_repo, tmp_path):
    clone = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "3", f"file://{team_repo}", str(clone)],
        env=ENV,
        check=True,
        capture_output=True,
    )
    commits = {c.sha: c for c in iter_commits(clone)}
    assert set(commits) == set(git(clone, "rev-list", "--branches").split())
    assert 0 < len(commits) < len(git(team_repo, "rev-list", "--branches").split())
    boundary = set((clone / ".git" / "shallow").read_text().split())
    assert boundary and all("shallow_boundary" in commits[sha].problems and not commits[sha].files for sha in boundary)
    for sha, c in commits.items():  # the others carry their real diff, as in the full repository
        if sha not in boundary and not c.is_merge:
            full = git(team_repo, "show", "-M", "--numstat", "--format=", sha).splitlines()
            assert c.lines_added == sum(int(line.split("\t")[0]) for line in full if not line.startswith("-"))
    weeks = repository_weeks(clone).weeks
    assert sum(w.commits for w in weeks) == int(git(clone, "rev-list", "--count", "--no-merges", "--branches"))


def raw_commit(repo: Path, tree: str, parent: str, author: str, committer: str) -> str:
    body = f"tree {tree}\nparent {parent}\nauthor {author}\ncommitter {committer}\n\nraw\n"
    return git(repo, "hash-object", "-t", "commit", "--literally", "-w", "--stdin", stdin=body.encode()).strip()


def test_malformed_dates_offsets_and_identities(tmp_path):
    repo = tmp_path / "odd"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    base = 1_700_000_000  # Tuesday 2023-11-14 22:13 UTC
    head = commit(repo, BEN, base - 3600, {"f.txt": "0\n"})
    odd = {
        "author_tz_malformed": ("X <x@y.example> {t} +51800", "C <c@y.example> {t} +0000"),
        "author_email_missing": ("Nomail <> {t} +0100", "C <c@y.example> {t} +0100"),
        "author_date_malformed": ("Fut <f@y.example> 99999999999 +0000", "C <c@y.example> {t} +0000"),
        "author_date_malformed/epoch": ("Zero <z@y.example> 0 +0000", "C <c@y.example> {t} +0000"),
        "author_ident_malformed": ("Broken {t} +0000", "C <c@y.example> {t} +0000"),
        "committer_date_malformed": ("Good <g@y.example> {t} +0000", "C <c@y.example> 0 +0000"),
    }
    shas = {}
    for i, (problem, (author, committer)) in enumerate(odd.items(), start=1):
        (repo / "f.txt").write_text("".join(f"{k}\n" for k in range(i + 1)))
        git(repo, "add", "f.txt")
        tree = git(repo, "write-tree").strip()
        t = base + 60 * i
        head = shas[problem] = raw_commit(repo, tree, head, author.format(t=t), committer.format(t=t))
    git(repo, "update-ref", "refs/heads/main", head)

    commits = {c.sha: c for c in iter_commits(repo)}
    assert set(commits) == set(git(repo, "rev-list", "--branches").split())  # none dropped
    for problem, sha in shas.items():
        c = commits[sha]
        assert problem.split("/")[0] in c.problems, (problem, c)
        assert c.lines_added == 1  # each added one line to f.txt
        assert c.author_time.tzinfo is UTC and c.committer_time.tzinfo is UTC
        assert c.committer_time.year == 2023 and c.week == date(2023, 11, 13)
    assert commits[shas["author_tz_malformed"]].author_tz == "+51800"
    for problem in ("author_date_malformed", "author_date_malformed/epoch"):  # fell back to the committer date
        assert commits[shas[problem]].author_time == commits[shas[problem]].committer_time
    assert commits[shas["author_ident_malformed"]].author_name == UNKNOWN_AUTHOR
    assert commits[shas["author_email_missing"]].contributor == "Nomail"
    good = commits[shas["committer_date_malformed"]]
    assert good.committer_time == good.author_time == datetime.fromtimestamp(base + 60 * 6, UTC)

    [week] = repository_weeks(repo).weeks
    assert week.commits == len(commits) == week.flagged_commits + 1
    identities = {line for line in git(repo, "log", "--format=%aE|%aN").splitlines()}
    assert week.contributors == len(identities)
    # the partition of that week sees all of it, although git's own --since stops at the bad tip
    alone, _ = repository_week(repo, week.week_start)
    assert alone == week
    assert int(git(repo, "rev-list", "--count", "--branches", *window(week.week_start))) == 0


def test_collaboration_score_formula():
    score, evenness, shared, integration = collaboration([3, 1], files_changed=3, shared_files=1, merges=1)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert evenness == pytest.approx(entropy / math.log(2), abs=1e-4)
    assert (shared, integration) == (pytest.approx(1 / 3, abs=1e-4), 0.5)
    assert score == pytest.approx(100 * (0.4 * entropy / math.log(2) + 0.4 / 3 + 0.1), abs=0.05)
    assert collaboration([5], 2, 0, 0) == (0.0, 0.0, 0.0, 0.0)  # alone: no collaboration
    assert collaboration([], 0, 0, 0)[0] == 0.0
    assert collaboration([2, 2], 1, 1, 4)[0] == 100.0
