"""Weekly git metrics of a local repository, read with git itself and streamed.

Why git's own output and not a library walking objects: ``git log --numstat`` is the reference
for what a commit changed (rename detection, binary detection, ``.mailmap``), and one subprocess
whose output is parsed as it arrives keeps memory flat however long the history is.

The week clock is the **committer date**: the week a change entered the repository, so a past
week's figures do not change when old work is rebased or cherry-picked in later (an author date
would move commits into weeks already computed). The author date is kept on every commit too.
One weekly partition diffs only its own week's commits; it finds them with a walk of the history
that reads dates and no diffs (see :func:`iter_commits` for why not git's ``--since``).

Merge commits are counted apart (``merges``) and their diff is not added to churn: the commits
they bring in already carry those lines (git prints no numstat for a merge by default, so it is
never even computed). Contributors are the authors of non-merge commits.

Real histories hold commits git itself cannot fully read — a time-zone offset such as ``+51800``,
a date at epoch 0 or far in the future, an author with no e-mail or no parsable identity. Such a
commit is never dropped and never crashes the parser: the bad part falls back (an author date to
the committer date and the other way round, a bad offset is kept as text but ignored, a missing
identity becomes ``UNKNOWN_AUTHOR``) and :attr:`Commit.problems` names what was wrong.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import IO, NamedTuple

import pandas as pd

from ..dates import as_utc
from ..errors import MaestroError

ONE_WEEK = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A date before 1970-01-02 (epoch 0, negative) or more than a day ahead of now is not a real one.
EARLIEST_PLAUSIBLE = 86_400
FUTURE_TOLERANCE = timedelta(days=1)
UNKNOWN_AUTHOR = "(unknown author)"
# git's offsets are ±HHMM; real ones lie within -12:00..+14:00
_OFFSET = re.compile(r"^[+-](\d\d)([0-5]\d)$")
MAX_OFFSET_HOURS = 14

# Fields of one commit's header: record separator first, unit separators between fields. git
# prints nothing of the message, so no commit message can break the format.
_FORMAT = "%x1e%H%x1f%P%x1f%aN%x1f%aE%x1f%ad%x1f%cd"
_GIT_CONFIG = ("-c", "log.showRoot=true", "-c", "log.showSignature=false", "-c", "core.quotePath=false")
_CHUNK = 1 << 16

# Collaboration score: the weights of its components (they sum to 1).
WEIGHT_EVENNESS = 0.4
WEIGHT_SHARED_FILES = 0.4
WEIGHT_INTEGRATION = 0.2


class GitMetricsError(MaestroError):
    """A repository git cannot read, a failed git command, or a bad week argument."""


class FileChange(NamedTuple):
    """One file of a commit's numstat. ``binary`` files have no line counts (``added`` and
    ``deleted`` are 0 then, and must not be read as 'no change'). A rename gives the new path."""

    path: str
    added: int
    deleted: int
    binary: bool


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author_name: str  # through .mailmap
    author_email: str  # through .mailmap; "" when the commit has none
    author_time: datetime  # aware UTC
    committer_time: datetime  # aware UTC: the week clock
    author_tz: str  # the raw offset as git prints it, e.g. "+0200" (or "+51800")
    committer_tz: str
    files: tuple[FileChange, ...] = ()
    problems: tuple[str, ...] = ()  # e.g. "author_date_malformed", "author_tz_malformed"

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def binary_files(self) -> int:
        return sum(f.binary for f in self.files)

    @property
    def lines_added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def lines_deleted(self) -> int:
        return sum(f.deleted for f in self.files)

    @property
    def contributor(self) -> str:
        """Who this is, across commits: the (mailmap-normalised) e-mail, else the name."""
        return self.author_email.lower() if self.author_email else self.author_name

    @property
    def week(self) -> date:
        return week_start_of(self.committer_time)


def week_start_of(moment: datetime) -> date:
    """The Monday (UTC) of the ISO week ``moment`` falls in: the weekly partition's date."""
    day = as_utc(moment).date()
    return day - timedelta(days=day.weekday())


def _week_bounds(week_start: date) -> tuple[datetime, datetime]:
    if week_start.weekday() != 0:
        raise GitMetricsError(
            f"week_start {week_start.isoformat()} is a {week_start.strftime('%A')}: weekly partitions "
            f"start on a Monday (that week's is {(week_start - timedelta(days=week_start.weekday())).isoformat()})"
        )
    start = datetime.combine(week_start, time.min, UTC)
    return start, start + ONE_WEEK


# -- reading git ---------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise GitMetricsError("git is not installed (no `git` on PATH)") from exc


def _shallow_boundary(repo: Path) -> frozenset[str]:
    """The commits whose parents a shallow clone does not have (empty for a full clone); also
    checks that ``repo`` is a git repository at all."""
    done = _git(repo, "rev-parse", "--git-path", "shallow")
    if done.returncode != 0:
        raise GitMetricsError(f"{repo} is not a git repository git can read: {done.stderr.strip()}")
    shallow = Path(done.stdout.strip())
    shallow = shallow if shallow.is_absolute() else Path(repo) / shallow
    return frozenset(shallow.read_text().split()) if shallow.exists() else frozenset()


def _stream_tokens(stream: IO[bytes], separator: bytes) -> Iterator[bytes]:
    """``stream`` split on ``separator``, read in fixed chunks: never the whole output in memory."""
    tail = b""
    while chunk := stream.read(_CHUNK):
        parts = (tail + chunk).split(separator)
        tail = parts.pop()
        yield from parts
    if tail:
        yield tail


class _GitStream:
    """A git subprocess whose stdout is read as it streams; stderr goes to a temporary file (a
    pipe could fill up and stall git while we read stdout). Stopped when the reader stops early."""

    def __init__(self, repo: Path, args: list[str], stdin: IO[bytes] | int = subprocess.DEVNULL):
        self.command = " ".join(args[2 * args.count("-c") :][:3])  # what an error names: past the -c options
        self._stderr = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                ["git", "-C", str(repo), *args], stdout=subprocess.PIPE, stderr=self._stderr, stdin=stdin
            )
        except FileNotFoundError as exc:
            self._stderr.close()
            raise GitMetricsError("git is not installed (no `git` on PATH)") from exc

    def tokens(self, separator: bytes) -> Iterator[bytes]:
        return _stream_tokens(self.process.stdout, separator)

    def finish(self, tolerated: tuple[str, ...] = ()) -> None:
        """Wait for git; raise naming the command if it failed (unless its error is ``tolerated``)."""
        code = self.process.wait()
        self._stderr.seek(0)
        error = self._stderr.read().decode(errors="replace").strip()
        self.close()
        if code != 0 and not any(text in error for text in tolerated):
            raise GitMetricsError(f"`git {self.command} …` failed ({code}): {error[-500:]}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process.stdout.close()
        self._stderr.close()


def _plausible(seconds: int | None, now: datetime) -> bool:
    if seconds is None or seconds < EARLIEST_PLAUSIBLE:
        return False
    try:
        return datetime.fromtimestamp(seconds, UTC) <= now + FUTURE_TOLERANCE
    except (OverflowError, OSError, ValueError):
        return False


def _raw_date(text: str) -> tuple[int | None, str]:
    """``"1700000000 +0100"`` (git's ``--date=raw``) as seconds and the offset text; None when
    git could not read it (it then prints nothing)."""
    seconds, _, offset = text.partition(" ")
    try:
        return int(seconds), offset
    except ValueError:
        return None, offset


def _offset_ok(offset: str) -> bool:
    match = _OFFSET.match(offset)
    return bool(match) and int(match.group(1)) <= MAX_OFFSET_HOURS


def _times(author_date: str, committer_date: str, now: datetime) -> tuple[datetime, datetime, str, str, list[str]]:
    """Author and committer time (UTC), their raw offsets and what was wrong with them, from
    git's ``--date=raw`` texts: a date git cannot read, before 1970-01-02 or more than a day in
    the future falls back to the other one (both bad: epoch 0); an author date more than a day
    after the committer date is bad too (a broken clock)."""
    authored, author_tz = _raw_date(author_date)
    committed, committer_tz = _raw_date(committer_date)
    problems = []
    committed_ok = _plausible(committed, now)
    authored_ok = _plausible(authored, now) and not (
        committed_ok and authored > committed + FUTURE_TOLERANCE.total_seconds()
    )
    if not authored_ok:
        problems.append("author_date_malformed")
    if not committed_ok:
        problems.append("committer_date_malformed")
    if authored_ok and committed_ok:
        author_time, committer_time = datetime.fromtimestamp(authored, UTC), datetime.fromtimestamp(committed, UTC)
    elif committed_ok:
        author_time = committer_time = datetime.fromtimestamp(committed, UTC)
    elif authored_ok:
        author_time = committer_time = datetime.fromtimestamp(authored, UTC)
    else:
        author_time = committer_time = EPOCH
    if author_tz and not _offset_ok(author_tz):
        problems.append("author_tz_malformed")
    if committer_tz and not _offset_ok(committer_tz):
        problems.append("committer_tz_malformed")
    return author_time, committer_time, author_tz, committer_tz, problems


def _header(fields: list[bytes], now: datetime) -> dict:
    sha, parents, name, email, author_date, committer_date = (f.decode("utf-8", errors="replace") for f in fields)
    identity_problems = []
    if name == "%aN" and email == "%aE" and not author_date:
        # git prints the placeholders themselves when it cannot parse the author line at all
        name, email = UNKNOWN_AUTHOR, ""
        identity_problems.append("author_ident_malformed")
    elif not email:
        identity_problems.append("author_email_missing")
    author_time, committer_time, author_tz, committer_tz, problems = _times(author_date, committer_date, now)
    return {
        "sha": sha,
        "parents": tuple(parents.split()),
        "author_name": name,
        "author_email": email,
        "author_time": author_time,
        "committer_time": committer_time,
        "author_tz": author_tz,
        "committer_tz": committer_tz,
        "problems": identity_problems + problems,
    }


def _clock_walk(repo: Path, args: list[str], now: datetime) -> Iterator[tuple[str, datetime]]:
    """(SHA, committer time as :class:`Commit` has it) of the commits ``git rev-list *args``
    walks, streamed: no diff, no message, so the whole history's walk is cheap."""
    git = _GitStream(repo, ["rev-list", "--no-commit-header", "--date=raw", "--format=%H%x1f%ad%x1f%cd", *args])
    try:
        for line in git.tokens(b"\n"):
            sha, author_date, committer_date = line.decode("utf-8", errors="replace").split("\x1f")
            yield sha, _times(author_date, committer_date, now)[1]
        git.finish()
    finally:
        git.close()


def _commit(header: dict, files: list[FileChange], shallow: frozenset[str]) -> Commit:
    if header["sha"] in shallow and not header["parents"]:
        # git diffs a shallow boundary against nothing: the whole tree as 'added', not its change
        files = []
        header["problems"].append("shallow_boundary")
    header["problems"] = tuple(header["problems"])
    return Commit(files=tuple(files), **header)


def iter_commits(repo: Path, since: datetime | None = None, until: datetime | None = None) -> Iterator[Commit]:
    """Every commit reachable from a local branch whose committer time (:class:`Commit`'s, after
    the fallbacks) is in [since, until), newest first, parsed from ONE ``git log`` as its output
    streams.

    ``git log --branches --use-mailmap --numstat -M -z --date=raw``: names and e-mails through
    ``.mailmap``; with ``-z`` every numstat entry ends in NUL and a rename is ``added deleted``
    followed by the old and the new path as their own fields (so the ``{old => new}`` forms never
    need unpicking; the new path is kept). Binary files (``-  -``) are ``FileChange.binary``.
    A shallow clone's boundary commits keep no files (their diff is unknown) and are flagged
    ``shallow_boundary``. An empty repository yields nothing.

    A window is not git's ``--since``: that stops walking a line of history at its first commit
    dated before the window, so one bad or skewed date at a branch tip hides everything behind it.
    Instead a ``git rev-list`` walk (no diffs: cheap) picks the commits whose time is in the
    window, and ``git log --no-walk --stdin`` diffs only those. A one-week run therefore gives
    exactly the figures the whole-history run gives for that week.
    """
    shallow = _shallow_boundary(repo)
    now = datetime.now(UTC)
    lower = as_utc(since) if since is not None else None
    upper = as_utc(until) if until is not None else None

    def in_window(moment: datetime) -> bool:
        return (lower is None or moment >= lower) and (upper is None or moment < upper)

    log = [
        *_GIT_CONFIG,
        "log",
        "--use-mailmap",
        "--numstat",
        "-M",
        "-z",
        "--date=raw",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        f"--format={_FORMAT}",
    ]
    selected = tempfile.TemporaryFile()
    if lower is None and upper is None:
        git = _GitStream(repo, [*log, "--branches"])
    else:
        picked = 0
        for sha, moment in _clock_walk(repo, ["--branches"], now):
            if in_window(moment):
                selected.write(sha.encode() + b"\n")
                picked += 1
        if not picked:
            selected.close()
            return
        selected.seek(0)
        git = _GitStream(repo, [*log, "--no-walk=unsorted", "--stdin"], stdin=selected)
    try:
        header: dict | None = None
        files: list[FileChange] = []
        rename: list | None = None  # [added, deleted, old path?] while a rename's paths are read
        for token in git.tokens(b"\0"):
            if rename is not None:  # a path of a rename: take it whatever its bytes are
                if len(rename) == 2:
                    rename.append(token)
                else:
                    added, deleted, _old = rename
                    files.append(_file_change(added, deleted, token))
                    rename = None
                continue
            if token.startswith(b"\x1e"):
                if header is not None:
                    yield _commit(header, files, shallow)
                fields = token[1:].split(b"\x1f")
                if len(fields) != 6:
                    raise GitMetricsError(f"{repo}: unexpected git log header {token[:200]!r}")
                header, files = _header(fields, now), []
                continue
            if token.startswith(b"\n"):  # the first numstat entry of a commit
                token = token[1:]
            if not token:
                continue
            added, deleted, path = token.split(b"\t", 2)
            if path:
                files.append(_file_change(added, deleted, path))
            else:
                rename = [added, deleted]
        if header is not None:
            yield _commit(header, files, shallow)
        git.finish(tolerated=("does not have any commits",))
    finally:
        git.close()
        selected.close()


def _file_change(added: bytes, deleted: bytes, path: bytes) -> FileChange:
    name = path.decode("utf-8", errors="surrogateescape")
    if added == b"-":
        return FileChange(name, 0, 0, True)
    return FileChange(name, int(added), int(deleted), False)


def _local_branches(repo: Path) -> tuple[list[str], str | None]:
    """Local branch names and the default branch (where HEAD points, if it is one of them)."""
    refs = _git(repo, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads")
    if refs.returncode != 0:
        raise GitMetricsError(f"{repo}: cannot list branches: {refs.stderr.strip()}")
    branches = refs.stdout.split("\n")[:-1]
    head = _git(repo, "symbolic-ref", "-q", "--short", "HEAD").stdout.strip()
    return branches, head if head in branches else None


def active_branches(repo: Path, since: datetime | None = None, until: datetime | None = None) -> dict[date, set[str]]:
    """The local branches active in each week of [since, until): week Monday → branch names.

    A branch is active in a week when a commit made on it was committed in that week (the
    committer time of :class:`Commit`). The commits made on the default branch (HEAD's) are its
    first-parent history; those made on any other branch are its first-parent history down to
    the first commit on the default branch's (its fork point; a branch fast-forwarded into the
    default one leaves nothing of its own). So a feature branch merged into main with a merge
    commit still shows the weeks it was worked on, and main's old commits do not make every
    branch forked later look active. A branch forked from another feature branch also counts that
    branch's commits. With no default branch (detached HEAD), each branch counts its whole
    first-parent history.

    Cost: one ``git for-each-ref`` and one ``git rev-list --first-parent`` per branch (no diffs),
    each read as it streams and stopped at the fork point; the default branch's first-parent SHAs
    are held in memory (about 100 bytes each).
    """
    branches, default = _local_branches(repo)
    now = datetime.now(UTC)
    first = week_start_of(since) if since is not None else None
    last = week_start_of(until - timedelta(microseconds=1)) if until is not None else None
    weeks: dict[date, set[str]] = {}

    def mark(branch: str, moment: datetime) -> None:
        week = week_start_of(moment)
        if (first is None or week >= first) and (last is None or week <= last):
            weeks.setdefault(week, set()).add(branch)

    on_default: set[str] = set()
    if default is not None:
        for sha, moment in _clock_walk(repo, ["--first-parent", f"refs/heads/{default}", "--"], now):
            on_default.add(sha)
            mark(default, moment)
    for branch in branches:
        if branch == default:
            continue
        walk = _clock_walk(repo, ["--first-parent", f"refs/heads/{branch}", "--"], now)
        for sha, moment in walk:
            if sha in on_default:
                walk.close()  # the fork point: the rest is the default branch's
                break
            mark(branch, moment)
    return weeks


# -- weekly metrics ------------------------------------------------------------------------


@dataclass
class WeekMetrics:
    """One week (one weekly partition) of a repository. ``churn`` = lines added + deleted by the
    week's non-merge commits; ``files_changed`` = distinct paths they changed; ``binary_changes``
    = binary file changes (no line counts); ``flagged_commits`` = commits with ``problems``."""

    week_start: date
    partition_key: str  # the Monday, YYYY-MM-DD
    commits: int  # non-merge
    merges: int
    contributors: int  # distinct authors of non-merge commits
    lines_added: int
    lines_deleted: int
    churn: int
    files_changed: int
    binary_changes: int
    active_branches: int
    evenness: float
    shared_files: float
    integration: float
    collaboration_score: float
    flagged_commits: int


@dataclass
class ContributorWeek:
    """One contributor's activity in one week (every author of a commit in it, merges included)."""

    week_start: date
    partition_key: str
    contributor: str  # the mailmap-normalised e-mail, lower case; the name when there is none
    name: str
    email: str
    commits: int  # non-merge
    merges: int
    lines_added: int
    lines_deleted: int
    churn: int


@dataclass
class WeeklyMetrics:
    weeks: list[WeekMetrics]
    contributors: list[ContributorWeek]

    def weeks_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(w) for w in self.weeks], columns=[f for f in WeekMetrics.__dataclass_fields__])

    def contributors_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            [asdict(c) for c in self.contributors], columns=[f for f in ContributorWeek.__dataclass_fields__]
        )


@dataclass
class _ContributorTally:
    name: str
    email: str
    commits: int = 0
    merges: int = 0
    added: int = 0
    deleted: int = 0


_SHARED = object()  # a file changed by two contributors or more in the week


@dataclass
class _WeekTally:
    commits: int = 0
    merges: int = 0
    added: int = 0
    deleted: int = 0
    binary: int = 0
    flagged: int = 0
    files: dict[str, object] = field(default_factory=dict)  # path -> its one contributor, or _SHARED
    people: dict[str, _ContributorTally] = field(default_factory=dict)

    def add(self, commit: Commit, paths: dict[str, str]) -> None:
        who = commit.contributor
        person = self.people.get(who)
        if person is None:
            person = self.people[who] = _ContributorTally(commit.author_name, commit.author_email)
        self.flagged += bool(commit.problems)
        if commit.is_merge:
            self.merges += 1
            person.merges += 1
            return
        self.commits += 1
        person.commits += 1
        for change in commit.files:
            path = paths.setdefault(change.path, change.path)  # one string per path for all weeks
            self.added += change.added
            self.deleted += change.deleted
            self.binary += change.binary
            person.added += change.added
            person.deleted += change.deleted
            seen = self.files.get(path)
            if seen is None:
                self.files[path] = who
            elif seen is not _SHARED and seen != who:
                self.files[path] = _SHARED


def collaboration(
    commits_by_contributor: Collection[int], files_changed: int, shared_files: int, merges: int
) -> tuple[float, float, float, float]:
    """The collaboration score of one week, 0–100, and its three components, each in [0, 1]
    (returned as ``(score, evenness, shared_files, integration)``):

    * evenness ``E`` — how evenly the week's non-merge commits spread over its contributors: the
      normalised Shannon entropy ``H / ln n`` of their commit shares (n ≥ 2 contributors; 0 for
      a single contributor or none: one person alone does not collaborate);
    * shared files ``S`` — the share of the files changed in the week that two contributors or
      more changed (co-authorship on the same code);
    * integration ``I`` — merges per contributor, capped at 1: ``min(1, merges / n)`` (every
      contributor's work integrated at least once a week gives 1).

    ``score = 100 × (0.4·E + 0.4·S + 0.2·I)``, rounded to 0.1. A week with no commits scores 0.

    Worked example: Ana makes 3 commits touching ``a.py`` and ``b.py``, Ben 1 touching ``b.py``
    and ``c.py``, and there is 1 merge. Shares (0.75, 0.25): H = −(0.75 ln 0.75 + 0.25 ln 0.25)
    = 0.5623, E = 0.5623 / ln 2 = 0.8113; S = 1 shared (b.py) / 3 files = 0.3333;
    I = min(1, 1 / 2) = 0.5. Score = 100 × (0.4 × 0.8113 + 0.4 × 0.3333 + 0.2 × 0.5) = 55.8.
    """
    counts = [c for c in commits_by_contributor if c > 0]
    n, total = len(counts), sum(counts)
    evenness = 0.0
    if n >= 2:
        entropy = -sum(c / total * math.log(c / total) for c in counts)
        evenness = min(1.0, entropy / math.log(n))
    shared = shared_files / files_changed if files_changed else 0.0
    integration = min(1.0, merges / n) if n else 0.0
    score = 100 * (WEIGHT_EVENNESS * evenness + WEIGHT_SHARED_FILES * shared + WEIGHT_INTEGRATION * integration)
    return round(score, 1), round(evenness, 4), round(shared, 4), round(integration, 4)


def weekly_metrics(
    commits: Iterable[Commit],
    branches: Mapping[date, Collection[str]] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> WeeklyMetrics:
    """Per ISO week (Monday 00:00 UTC, by committer date) of ``commits`` (see the module's
    docstring for what counts) and the contributors' activity per week, consuming ``commits``
    as a stream: memory grows with weeks × (contributors + files changed), not with commits.

    ``branches`` is :func:`active_branches`' result (week → active branch names). Only the weeks
    of [since, until) are computed (both Mondays; either may be None): a weekly partition passes
    its own week and only that week's commits. With both bounds, every week in the range gets a
    row, the empty ones too; otherwise the weeks with any activity do. Weeks come oldest first.
    """
    if since is not None:
        _week_bounds(since)
    if until is not None:
        _week_bounds(until)
    branches = branches or {}
    tallies: dict[date, _WeekTally] = {}
    paths: dict[str, str] = {}
    for commit in commits:
        week = commit.week
        if (since is not None and week < since) or (until is not None and week >= until):
            continue
        tally = tallies.get(week)
        if tally is None:
            tally = tallies[week] = _WeekTally()
        tally.add(commit, paths)
    weeks = set(tallies) | {w for w, names in branches.items() if names}
    if since is not None and until is not None:
        weeks |= {since + ONE_WEEK * i for i in range((until - since).days // 7)}
    weeks = {w for w in weeks if (since is None or w >= since) and (until is None or w < until)}
    week_rows, contributor_rows = [], []
    for week in sorted(weeks):
        tally = tallies.get(week) or _WeekTally()
        key = week.isoformat()
        authors = [p.commits for p in tally.people.values() if p.commits]
        shared = sum(1 for who in tally.files.values() if who is _SHARED)
        score, evenness, shared_share, integration = collaboration(authors, len(tally.files), shared, tally.merges)
        week_rows.append(
            WeekMetrics(
                week_start=week,
                partition_key=key,
                commits=tally.commits,
                merges=tally.merges,
                contributors=len(authors),
                lines_added=tally.added,
                lines_deleted=tally.deleted,
                churn=tally.added + tally.deleted,
                files_changed=len(tally.files),
                binary_changes=tally.binary,
                active_branches=len(branches.get(week, ())),
                evenness=evenness,
                shared_files=shared_share,
                integration=integration,
                collaboration_score=score,
                flagged_commits=tally.flagged,
            )
        )
        for who, person in sorted(tally.people.items()):
            contributor_rows.append(
                ContributorWeek(
                    week_start=week,
                    partition_key=key,
                    contributor=who,
                    name=person.name,
                    email=person.email,
                    commits=person.commits,
                    merges=person.merges,
                    lines_added=person.added,
                    lines_deleted=person.deleted,
                    churn=person.added + person.deleted,
                )
            )
    return WeeklyMetrics(week_rows, contributor_rows)


def repository_weeks(repo: Path, since: date | None = None, until: date | None = None) -> WeeklyMetrics:
    """:func:`weekly_metrics` of ``repo`` for the weeks of [since, until) (Mondays; None: all)."""
    start = _week_bounds(since)[0] if since is not None else None
    end = _week_bounds(until)[0] if until is not None else None
    return weekly_metrics(iter_commits(repo, start, end), active_branches(repo, start, end), since, until)


def repository_week(repo: Path, week_start: date) -> tuple[WeekMetrics, list[ContributorWeek]]:
    """Exactly one week of ``repo`` — what a weekly partition computes: git reads only the commits
    committed in [week_start, week_start + 7 days). ``week_start`` must be a Monday."""
    _week_bounds(week_start)
    metrics = repository_weeks(repo, week_start, week_start + ONE_WEEK)
    return metrics.weeks[0], metrics.contributors


def commit_times(repo: Path, since: datetime | None = None, until: datetime | None = None) -> dict[str, datetime]:
    """sha → committer time (aware UTC) of the commits of [since, until): the commit times DORA's
    lead time for changes is measured from (:func:`~.cicd.dora_metrics`' ``commit_times``)."""
    lower = as_utc(since) if since is not None else None
    upper = as_utc(until) if until is not None else None
    return {
        sha: moment
        for sha, moment in _clock_walk(repo, ["--branches"], datetime.now(UTC))  # dates only, no diffs
        if (lower is None or moment >= lower) and (upper is None or moment < upper)
    }
