"""``write_git_repository()``: a real git repository of a small Python service, built in one go.

Authors are members of the organisation's two largest teams (names and e-mails from
``data.users``). Commit times fall inside the data's 90-day window, mostly on weekdays and in
working hours, with a few bursts. History has ``main`` plus 3–6 feature branches, most merged
back with merge commits; commits add, edit and delete files under ``src/``, ``tests/`` and
``README.md``, so ``git log --numstat`` shows meaningful churn. The whole history is streamed
to a single ``git fast-import``; the same data and seed always give the same commit SHAs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import vocab
from ._common import DAY, HOUR, MINUTE, epoch_seconds
from .generator import DemoData

COMMITS_PER_SCALE = 300
MIN_DEFAULT_COMMITS = 30
MIN_COMMITS = 10
MAX_AUTHORS = 8
PACKAGE = "maestro_service"
TIMEZONES = {"+0000": 0, "+0100": HOUR, "+0200": 2 * HOUR}  # one per repository: the team's office
# git must not read the caller's configuration: the repository depends on the data alone
GIT_ENV = {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0"}


@dataclass(frozen=True)
class GitRepoSummary:
    path: Path
    commits: int
    authors: tuple[str, ...]  # "Name <email>"
    branches: tuple[str, ...]  # main first
    merged_branches: tuple[str, ...]
    head: str  # SHA of main


@dataclass(frozen=True)
class _Author:
    name: str
    email: str
    timezone: str

    @property
    def ident(self) -> str:
        return f"{self.name} <{self.email}>"


@dataclass
class _Branch:
    name: str
    commits: int
    merged: bool
    author: _Author
    files: dict[str, list[str]] = field(default_factory=dict)
    base: dict[str, list[str]] = field(default_factory=dict)
    tip: int | None = None

    @property
    def module(self) -> str:
        """The module the branch is about: ``feature/ui-polish`` works on ``ui_polish.py``."""
        return self.name.removeprefix("feature/").replace("-", "_")


def _authors(data: DemoData, rng: np.random.Generator) -> list[_Author]:
    users = data.users
    largest = users["team_id"].value_counts(sort=False).sort_index().sort_values(ascending=False, kind="stable")
    pool = users[users["team_id"].isin(largest.index[:2])].sort_values("user_id")
    chosen = pool.iloc[np.sort(rng.choice(len(pool), size=min(MAX_AUTHORS, len(pool)), replace=False))]
    chosen = chosen.sort_values(["years_experience", "user_id"], ascending=[False, True])  # maintainer first
    zone = sorted(TIMEZONES)[int(rng.integers(0, len(TIMEZONES)))]
    return [_Author(name, email, zone) for name, email in zip(chosen["name"], chosen["email"])]


def _commit_times(rng: np.random.Generator, n: int, data: DemoData, utc_offset: int) -> np.ndarray:
    """Sorted, strictly increasing epoch seconds: weekdays busier, office hours, a few bursts."""
    days = (data.end_date - data.start_date).days
    weekday = (np.arange(days) + data.start_date.weekday()) % 7
    weight = np.where(weekday < 5, 1.0, 0.12)
    for burst in rng.choice(np.flatnonzero(weekday < 5), size=4, replace=False):
        weight[max(burst - 1, 0) : burst + 2] *= 2.0
        weight[burst] *= 2.0
    day = rng.choice(days, size=n, p=weight / weight.sum())
    hour = np.where(rng.random(n) < 0.5, rng.normal(10.5, 1.5, n), rng.normal(15.5, 2.0, n))
    seconds = np.clip(hour, 7.0, 21.0) * HOUR + rng.integers(0, MINUTE, n)
    times = np.sort(epoch_seconds(data.start_date) - utc_offset + day * DAY + seconds.astype(np.int64))
    return np.maximum.accumulate(times - np.arange(n)) + np.arange(n)


def _plan(rng: np.random.Generator, n: int, authors: list[_Author]) -> tuple[list[_Branch], list[tuple[str, int]]]:
    """The feature branches and, per commit position, ("main" | "branch" | "merge", branch index)."""
    budget = (n - 1) // 2
    k = int(rng.integers(3, 7))
    merged = k - int(rng.integers(1, 3))
    while k + merged > budget and k > 3:
        k -= 1
        merged = min(merged, k - 1)
    merged = min(merged, budget - k)
    commits = 1 + rng.multinomial(budget - k - merged, np.full(k, 1.0 / k))
    topics = rng.choice(len(vocab.BRANCH_TOPICS), size=k, replace=False)
    branches = [
        _Branch(
            name=f"feature/{vocab.BRANCH_TOPICS[t]}",
            commits=int(c),
            merged=b < merged,
            author=authors[int(rng.integers(0, len(authors)))],
        )
        for b, (t, c) in enumerate(zip(topics, commits))
    ]
    slots: list[tuple[str, int]] = [("main", -1)] * n
    free = list(range(1, n))
    for b, branch in enumerate(branches):
        tokens = branch.commits + int(branch.merged)
        first = int(rng.integers(0, len(free) - tokens + 1))
        span = min(len(free) - first, int(tokens * 2.5) + 1)
        picked = sorted(int(i) for i in first + rng.choice(span, size=tokens, replace=False))
        for j, index in enumerate(picked):
            slots[free[index]] = ("merge" if branch.merged and j == tokens - 1 else "branch", b)
        taken = set(picked)
        free = [p for i, p in enumerate(free) if i not in taken]
    return branches, slots


def _function_name(def_line: str) -> str:
    return def_line.removeprefix("def ").split("(")[0]


class _Source:
    """Plausible Python source: modules of small functions, their tests, and README lines."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def word(self, words: tuple[str, ...]) -> str:
        return words[int(self.rng.integers(0, len(words)))]

    def function(self) -> list[str]:
        verb, noun = self.word(vocab.CODE_VERBS), self.word(vocab.CODE_NOUNS)
        lines = [
            f"def {verb}_{noun}({noun}s, limit={int(self.rng.integers(1, 100))}):",
            f'    """{verb.capitalize()} {noun} records, at most ``limit`` of them."""',
        ]
        lines += self.body(noun, int(self.rng.integers(2, 7)))
        return lines + ["    return result[:limit]", "", ""]

    def body(self, noun: str, n: int) -> list[str]:
        templates = (
            "    result = [item for item in {n}s if item is not None]",
            "    result = sorted(result, key=lambda item: item.get('{f}', 0))",
            "    total = sum(item.get('{f}', 0) for item in result)",
            "    if total > {k}:",
            "        result = result[:{k}]",
            "    logger.debug('{n}: %d rows', len(result))",
            "    result = [dict(item, {f}=item.get('{f}', 0) * {k}) for item in result]",
        )
        fields = ("amount", "count", "score", "weight", "size", "age")
        picks = [templates[0]] + [templates[int(i)] for i in self.rng.integers(1, len(templates), n - 1)]
        return [t.format(n=noun, f=self.word(fields), k=int(self.rng.integers(2, 500))) for t in picks]

    def module(self, name: str) -> list[str]:
        lines = [
            f'"""The {name} part of {PACKAGE}."""',
            "",
            "import logging",
            "",
            "logger = logging.getLogger(__name__)",
            "",
            "",
        ]
        for _ in range(int(self.rng.integers(2, 6))):
            lines += self.function()
        return lines

    def test_module(self, name: str) -> list[str]:
        lines = [f"from {PACKAGE} import {name}", "", ""]
        for i in range(int(self.rng.integers(2, 5))):
            lines += [
                f"def test_{name}_{self.word(vocab.CODE_VERBS)}_{i}():",
                f"    assert {name} is not None",
                f"    assert {int(self.rng.integers(1, 9))} > 0",
                "",
                "",
            ]
        return lines


class _History:
    """Applies edits to file trees and renders the fast-import stream commit by commit."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.authors: dict[str, None] = {}  # idents in order of first commit
        self.source = _Source(rng)
        self.chunks: list[bytes] = [b"feature done\n"]

    def initial_tree(self) -> dict[str, list[str]]:
        return {
            "README.md": [f"# {PACKAGE}", "", "The service behind the Maestro demo.", ""],
            ".gitignore": ["__pycache__/", "*.pyc", ".venv/"],
            "pyproject.toml": ["[project]", f'name = "{PACKAGE}"', 'version = "0.1.0"'],
            f"src/{PACKAGE}/__init__.py": [f'"""{PACKAGE}."""'],
            f"src/{PACKAGE}/core.py": self.source.module("core"),
            "tests/test_core.py": self.source.test_module("core"),
        }

    def edit(self, files: dict[str, list[str]], focus: str | None, protected: set[str]) -> str:
        """Change ``files`` in place like one commit would; returns the commit message."""
        rng, source = self.rng, self.source
        prefix = f"src/{PACKAGE}/"
        existing = sorted(p.removeprefix(prefix)[:-3] for p in files if p.startswith(prefix) and "__" not in p)
        module = focus or (
            existing[int(rng.integers(0, len(existing)))]
            if existing and rng.random() < 0.8
            else source.word(vocab.CODE_MODULES)
        )
        path = f"{prefix}{module}.py"
        roll = rng.random()
        if path not in files:
            files[path] = source.module(module)
            files[f"tests/test_{module}.py"] = source.test_module(module)
            return f"Add {module} module"
        if roll < 0.08:
            files["README.md"] = files["README.md"] + [
                f"- {module}: {source.word(vocab.CODE_VERBS)}s {source.word(vocab.CODE_NOUNS)} data",
                "",
            ]
            return "Update README"
        if roll < 0.12 and path not in protected and module != "core":
            del files[path]
            files.pop(f"tests/test_{module}.py", None)
            return f"Remove unused {module} module"
        lines = files[path]
        starts = [i for i, line in enumerate(lines) if line.startswith("def ")]
        if roll < 0.45:
            added = source.function()
            files[path] = lines + added
            message = f"Add {_function_name(added[0])} to {module}"
        elif roll < 0.6 and len(starts) > 2:
            i = int(rng.integers(0, len(starts) - 1))
            files[path] = lines[: starts[i]] + lines[starts[i + 1] :]
            message = f"Remove {_function_name(lines[starts[i]])} from {module}"
        else:
            at = starts[int(rng.integers(0, len(starts)))] + 2 if starts else len(lines)
            cut = int(rng.integers(0, 4))
            noun = source.word(vocab.CODE_NOUNS)
            files[path] = lines[:at] + source.body(noun, int(rng.integers(1, 6)))[1:] + lines[at + cut :]
            message = f"{source.word(('Fix', 'Refactor', 'Tidy', 'Speed up'))} {module} {noun} handling"
        test = f"tests/test_{module}.py"
        if test in files and rng.random() < 0.4:
            files[test] = files[test] + source.test_module(module)[3:]
        return message

    def commit(
        self,
        ref: str,
        mark: int,
        author: _Author,
        when: int,
        message: str,
        parents: list[int],
        before: dict[str, list[str]],
        after: dict[str, list[str]],
    ) -> None:
        self.authors.setdefault(author.ident)
        head = [
            f"commit {ref}",
            f"mark :{mark}",
            f"author {author.ident} {when} {author.timezone}",
            f"committer {author.ident} {when} {author.timezone}",
        ]
        body = message.encode() + b"\n"
        parts = ["\n".join(head).encode() + b"\n", b"data %d\n" % len(body), body]
        parts += [b"from :%d\n" % parents[0]] if parents else []
        parts += [b"merge :%d\n" % p for p in parents[1:]]
        for path in sorted(set(before) | set(after)):
            if path not in after:
                parts.append(f"D {path}\n".encode())
            elif before.get(path) != after[path]:
                content = ("\n".join(after[path]) + "\n").encode()
                parts += [f"M 100644 inline {path}\n".encode(), b"data %d\n" % len(content), content]
        self.chunks.append(b"".join(parts) + b"\n")

    def stream(self) -> bytes:
        return b"".join(self.chunks) + b"done\n"


def _merge(main: dict[str, list[str]], branch: _Branch) -> dict[str, list[str]]:
    """``main`` with everything the branch changed since it forked (the branch wins)."""
    merged = dict(main)
    for path in set(branch.base) | set(branch.files):
        if branch.files.get(path) != branch.base.get(path):
            if path in branch.files:
                merged[path] = branch.files[path]
            else:
                merged.pop(path, None)
    return merged


def _build(rng: np.random.Generator, n: int, data: DemoData) -> tuple[bytes, list[str], list[_Branch]]:
    """The fast-import stream, the idents of the authors who committed, and the feature branches."""
    authors = _authors(data, rng)
    times = _commit_times(rng, n, data, TIMEZONES[authors[0].timezone])
    branches, slots = _plan(rng, n, authors)
    history = _History(rng)
    protected = {f"src/{PACKAGE}/{b.module}.py" for b in branches}
    author_weight = rng.gamma(2.0, 1.0, len(authors))
    main: dict[str, list[str]] = {}
    main_tip: int | None = None
    for position, (kind, b) in enumerate(slots):
        mark = position + 1
        if kind == "main":
            author = authors[rng.choice(len(authors), p=author_weight / author_weight.sum())]
            after = history.initial_tree() if main_tip is None else dict(main)
            message = "Initial commit" if main_tip is None else history.edit(after, None, protected)
            history.commit(
                "refs/heads/main",
                mark,
                author,
                int(times[position]),
                message,
                [] if main_tip is None else [main_tip],
                main,
                after,
            )
            main, main_tip = after, mark
            continue
        branch = branches[b]
        if kind == "merge":
            after = _merge(main, branch)
            history.commit(
                "refs/heads/main",
                mark,
                authors[0],
                int(times[position]),
                f"Merge branch '{branch.name}'",
                [main_tip, branch.tip],
                main,
                after,
            )
            main, main_tip = after, mark
            continue
        if branch.tip is None:
            branch.base, branch.files, branch.tip = main, dict(main), main_tip
        before = branch.files
        branch.files = dict(before)
        focus = branch.module if rng.random() < 0.8 else None
        message = history.edit(branch.files, focus, protected)
        author = branch.author if rng.random() < 0.75 else authors[int(rng.integers(0, len(authors)))]
        history.commit(
            f"refs/heads/{branch.name}", mark, author, int(times[position]), message, [branch.tip], before, branch.files
        )
        branch.tip = mark
    return history.stream(), list(history.authors), branches


def _git(*args: str, cwd: Path, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False, env={**os.environ, **GIT_ENV}
    )
    if result.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout.decode().strip()


def _clear(path: Path) -> None:
    """Remove a previous repository at ``path``; refuse to delete anything that is not one."""
    if not path.exists():
        return
    if path.is_dir() and ((path / ".git").is_dir() or not any(path.iterdir())):
        shutil.rmtree(path)
    else:
        raise FileExistsError(f"{path} exists and is not a git repository; not deleting it")


def write_git_repository(data: DemoData, path: Path, commits: int | None = None) -> GitRepoSummary:
    """Write the demo repository at ``path`` (replacing an earlier one); ``commits`` ≈ 300 × scale by default."""
    n = max(MIN_DEFAULT_COMMITS, round(COMMITS_PER_SCALE * data.scale)) if commits is None else int(commits)
    if n < MIN_COMMITS:
        raise ValueError(f"need at least {MIN_COMMITS} commits for main and three feature branches, got {n}")
    path = Path(path)
    rng = np.random.default_rng([data.seed, 0x6769])
    stream, authors, branches = _build(rng, n, data)
    _clear(path)
    path.mkdir(parents=True)
    _git("init", "--quiet", "--initial-branch=main", ".", cwd=path)
    _git("fast-import", "--quiet", cwd=path, stdin=stream)
    _git("reset", "--quiet", "--hard", "main", cwd=path)
    return GitRepoSummary(
        path=path,
        commits=n,
        authors=tuple(authors),
        branches=("main", *(b.name for b in branches)),
        merged_branches=tuple(b.name for b in branches if b.merged),
        head=_git("rev-parse", "main", cwd=path),
    )
