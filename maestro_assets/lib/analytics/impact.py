"""The impact score of an artifact: how much it is reused, how recently, and by how successful projects.

Four terms, each in [0, 1], weighted into a score from 0 to 100::

    breadth  = C / (C + 3)                   C = distinct consumers (assets, models, projects)
    volume   = U / (U + 10)                  U = uses recorded
    recency  = mean over uses of 0.5 ** (age_days / 30)     (0 when never used)
    success  = mean success_score / 100 of the projects that used it   (0.5 when none is known)

    score = 100 * (0.35 * breadth + 0.15 * volume + 0.25 * recency + 0.25 * success)

Why these: reuse counts twice — breadth (many different consumers) weighs more than volume (the
same consumer reading every day), and both saturate (half-way at 3 consumers and at 10 uses) so a
handful of heavy users cannot push an artifact past everything else. Recency decays each use with a
half-life of 30 days (``HALF_LIFE_DAYS``): a use today counts 1, a month ago 0.5, two months 0.25; it
is the mean of those weights, so it says how *current* the usage is while breadth and volume say how
much. Success is the mean success score (0–100) of the distinct projects among the uses; with no
project known it is the neutral 0.5 — neither a reward nor a penalty. An artifact nobody used scores
``100 * 0.25 * 0.5 = 12.5``: the neutral success term alone.

Worked example (reproduced by the tests): 4 uses by 3 distinct consumers, aged 0, 30, 30 and 60
days; two projects among them with success scores 80 and 60::

    breadth = 3 / 6                           = 0.5
    volume  = 4 / 14                          = 0.285714...
    recency = (1 + 0.5 + 0.5 + 0.25) / 4      = 0.5625
    success = (80 + 60) / 2 / 100             = 0.7
    score   = 100 * (0.35*0.5 + 0.15*0.285714 + 0.25*0.5625 + 0.25*0.7)
            = 100 * (0.175 + 0.042857 + 0.140625 + 0.175) = 53.35 (53.348214...)

:class:`Impact` carries every term next to the score, so the catalogue and an asset's metadata can
show why an artifact ranks where it does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from ..dates import as_utc

HALF_LIFE_DAYS = 30.0
CONSUMERS_AT_HALF = 3  # distinct consumers at which breadth is 0.5
USES_AT_HALF = 10  # uses at which volume is 0.5
NEUTRAL_SUCCESS = 50.0  # the success score assumed when no project that used the artifact has one
WEIGHTS = {"breadth": 0.35, "volume": 0.15, "recency": 0.25, "success": 0.25}


@dataclass(frozen=True)
class Impact:
    score: float  # 0–100
    breadth: float
    volume: float
    recency: float
    success: float
    consumers: int
    uses: int
    projects_with_success: int

    def components(self) -> dict[str, float | int]:
        return asdict(self)


def decay_weight(used_at: datetime, as_of: datetime) -> float:
    """0.5 ** (age in days / HALF_LIFE_DAYS); a use after ``as_of`` counts as of now (weight 1)."""
    age_days = max(0.0, (as_utc(as_of) - as_utc(used_at)).total_seconds() / 86_400)
    return 0.5 ** (age_days / HALF_LIFE_DAYS)


def impact_score(
    consumers: int,
    used_at: Iterable[datetime],
    project_success_scores: Iterable[float | None],
    as_of: datetime,
) -> Impact:
    """The impact of an artifact used ``len(used_at)`` times by ``consumers`` distinct consumers,
    judged at ``as_of``; ``project_success_scores`` holds one score (0–100, or None: not known) per
    distinct project that used it."""
    moments = list(used_at)
    known = [float(s) for s in project_success_scores if s is not None]
    uses = len(moments)
    breadth = consumers / (consumers + CONSUMERS_AT_HALF)
    volume = uses / (uses + USES_AT_HALF)
    recency = sum(decay_weight(m, as_of) for m in moments) / uses if uses else 0.0
    success = (sum(known) / len(known) if known else NEUTRAL_SUCCESS) / 100
    terms = {"breadth": breadth, "volume": volume, "recency": recency, "success": success}
    score = 100 * sum(WEIGHTS[name] * value for name, value in terms.items())
    return Impact(
        score=score,
        **terms,
        consumers=consumers,
        uses=uses,
        projects_with_success=len(known),
    )
