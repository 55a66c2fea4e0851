"""The ``task_events`` stream: what happened to every task, from creation to completion.

Every event lies inside its task's life (creation to completion, cancellation or the end of the
window). Work logs carry the hours booked (they add up to a done task's actual hours); the
count of comments is chosen so the stream has the requested number of events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import HOUR, between, timestamps
from ._org import Organisation
from ._work import CANCELLED, DONE, EVENT_TYPES, Work


class _Stream:
    """Event columns collected type by type, assembled into one time-ordered frame."""

    def __init__(self):
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, name: str, task: np.ndarray, time: np.ndarray, user: np.ndarray, hours: np.ndarray | None = None):
        code = np.full(len(task), EVENT_TYPES.index(name), dtype=np.int8)
        self.parts.append((task, code, time, user, np.zeros(len(task)) if hours is None else hours))

    def __len__(self) -> int:
        return sum(len(part[0]) for part in self.parts)

    def frame(self, work: Work) -> pd.DataFrame:
        task, code, time, user, hours = (np.concatenate(column) for column in zip(*self.parts))
        task_id = work.task_id[task]
        order = np.lexsort((np.arange(len(task)), code, task_id, time))
        return pd.DataFrame(
            {
                "event_id": np.arange(1, len(order) + 1, dtype=np.int64),
                "task_id": task_id[order],
                "user_id": user[order].astype(np.int64) + 1,
                "event_type": np.asarray(EVENT_TYPES, dtype=object)[code[order]],
                "event_time": timestamps(time[order]),
                "hours_logged": np.round(hours[order], 4),
            }
        )


def build_events(rng: np.random.Generator, work: Work, org: Organisation, total: int) -> pd.DataFrame:
    n = len(work.project)
    everyone = np.arange(n)
    team = work.plan.team[work.project]
    started = work.started >= 0
    done, cancelled = work.status == DONE, work.status == CANCELLED
    stream = _Stream()

    stream.add("created", everyone, work.created, org.roster.pick(rng, team, weighted=False))
    first_move = np.where(started, work.started, work.end)
    stream.add(
        "assigned", everyone, between(rng, work.created, np.minimum(work.created + 2 * HOUR, first_move)), work.assignee
    )
    s = everyone[started]
    stream.add("started", s, work.started[s], work.assignee[s])

    booked = s[work.logged_hours[s] > 0]
    logs = np.repeat(booked, 1 + rng.poisson(work.logged_hours[booked] / 4.0))
    share = rng.exponential(1.0, len(logs))
    share /= np.bincount(logs, weights=share, minlength=n)[logs]
    stream.add(
        "work_logged",
        logs,
        between(rng, work.started[logs], work.end[logs]),
        work.assignee[logs],
        share * work.logged_hours[logs],
    )

    b = everyone[work.ever_blocked]
    blocked_at = between(rng, work.started[b], work.end[b])
    stream.add("blocked", b, blocked_at, work.assignee[b])
    u = ~work.still_blocked[b]
    stream.add("unblocked", b[u], between(rng, blocked_at[u] + 1, work.end[b[u]]), work.assignee[b[u]])

    d = everyone[done]
    review_from = work.started[d] + (work.end[d] - work.started[d]) * 6 // 10
    reopened = rng.random(len(d)) < 0.06 + 0.12 * work.is_late[d]
    once, again = d[~reopened], d[reopened]
    stream.add("review_requested", once, between(rng, review_from[~reopened], work.end[once]), work.assignee[once])
    first_review = between(rng, review_from[reopened], work.end[again] - 2)
    reopened_at = between(rng, first_review + 1, work.end[again] - 1)
    stream.add("review_requested", again, first_review, work.assignee[again])
    stream.add("reopened", again, reopened_at, org.roster.pick(rng, team[again]))
    stream.add("review_requested", again, between(rng, reopened_at + 1, work.end[again]), work.assignee[again])
    stream.add("completed", d, work.end[d], work.assignee[d])

    c = everyone[cancelled]
    stream.add("cancelled", c, work.end[c], org.roster.pick(rng, team[c], weighted=False))

    # comments fill the stream up to the requested size, more on long and complex tasks
    weight = ((work.end - work.created) / 86_400 + 0.5) * (0.5 + work.complexity / 5)
    comments = np.repeat(everyone, rng.multinomial(max(total - len(stream), 0), weight / weight.sum()))
    by_assignee = rng.random(len(comments)) < 0.55
    stream.add(
        "commented",
        comments,
        between(rng, work.created[comments], work.end[comments]),
        np.where(by_assignee, work.assignee[comments], org.roster.pick(rng, team[comments])),
    )
    return stream.frame(work)
