"""The organisation of the demo: teams and the users in them (skills, experience, capacity, rates)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import vocab
from ._common import DAY, Roster, Window, between, choose, timestamps, unique_names


@dataclass
class Organisation:
    """The ``teams`` and ``users`` tables plus the per-row arrays later builders draw on."""

    teams: pd.DataFrame
    users: pd.DataFrame
    team_of_user: np.ndarray  # positional team index of every user
    skills: np.ndarray  # (users, 4) skill levels in [0, 1]
    team_profile: np.ndarray  # (teams, 4) what each team specialises in
    roster: Roster  # users by team, weighted by how much work lands on each
    team_size: np.ndarray
    team_experience: np.ndarray  # mean years of experience per team

    @property
    def n_teams(self) -> int:
        return len(self.teams)


def build_organisation(rng: np.random.Generator, n_teams: int, n_users: int, window: Window) -> Organisation:
    team_created = window.start - rng.integers(200, 2_000, n_teams) * DAY - rng.integers(0, DAY, n_teams)
    team_profile = np.clip(rng.beta(2.0, 2.0, (n_teams, 4)) + 0.35 * np.eye(4)[rng.integers(0, 4, n_teams)], 0, 1)
    team_mean_years = rng.uniform(2.5, 10.0, n_teams)
    teams = pd.DataFrame(
        {
            "team_id": np.arange(1, n_teams + 1, dtype=np.int64),
            "name": unique_names(rng, vocab.TEAM_ADJECTIVES, vocab.TEAM_NOUNS, n_teams),
            "department": choose(rng, vocab.DEPARTMENTS, n_teams),
            "created_at": timestamps(team_created),
        }
    )

    # every team gets at least two people, the rest are spread unevenly
    size_weight = rng.gamma(2.5, 1.0, n_teams)
    sizes = 2 + rng.multinomial(n_users - 2 * n_teams, size_weight / size_weight.sum())
    team_of_user = rng.permutation(np.repeat(np.arange(n_teams), sizes))

    role = rng.choice(len(vocab.ROLES), size=n_users, p=vocab.ROLE_WEIGHTS)
    seniority = np.array([0.0, 3.0, 6.0, 0.0, 0.5, 0.0, 4.0])[role]
    years = np.clip(team_mean_years[team_of_user] * rng.lognormal(0.0, 0.45, n_users) + seniority, 0.3, 38.0)
    years = np.round(years, 1)
    centre = 0.5 * np.asarray(vocab.ROLE_SKILLS)[role] + 0.5 * team_profile[team_of_user] + 0.012 * years[:, None]
    skills = np.round(np.clip(centre + rng.normal(0.0, 0.15, (n_users, 4)), 0.0, 1.0), 3)
    capacity = choose(rng, vocab.CAPACITIES, n_users, vocab.CAPACITY_WEIGHTS).astype(float)
    rate = np.asarray(vocab.ROLE_BASE_RATE)[role] * (1 + 0.025 * years) * rng.lognormal(0.0, 0.1, n_users)
    hired = between(
        rng,
        np.maximum(team_created[team_of_user], window.start - (years * 365 * DAY).astype(np.int64)),
        np.full(n_users, window.start - DAY),
    )

    first = choose(rng, vocab.FIRST_NAMES, n_users)
    last = choose(rng, vocab.LAST_NAMES, n_users)
    local = pd.Series(first + "." + last).str.lower()
    duplicate = local.groupby(local).cumcount()
    local = local.where(duplicate == 0, local + (duplicate + 1).astype(str))

    users = pd.DataFrame(
        {
            "user_id": np.arange(1, n_users + 1, dtype=np.int64),
            "name": first + " " + last,
            "email": (local + "@maestro.example").to_numpy(dtype=object),
            "team_id": team_of_user.astype(np.int64) + 1,
            "role": np.asarray(vocab.ROLES, dtype=object)[role],
            "years_experience": years,
            **{f"skill_{name}": skills[:, k] for k, name in enumerate(vocab.SKILLS)},
            "capacity_hours_per_week": capacity,
            "hourly_rate": np.round(rate, 2),
            "hired_at": timestamps(hired),
        }
    )

    workload = rng.gamma(2.0, 1.0, n_users) * np.where(np.asarray(vocab.ROLES)[role] == "manager", 0.25, 1.0)
    team_size = np.bincount(team_of_user, minlength=n_teams)
    return Organisation(
        teams=teams,
        users=users,
        team_of_user=team_of_user,
        skills=skills,
        team_profile=team_profile,
        roster=Roster(team_of_user, n_teams, workload),
        team_size=team_size,
        team_experience=np.bincount(team_of_user, weights=years, minlength=n_teams) / team_size,
    )
