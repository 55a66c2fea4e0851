"""The demo source system as assets: where every other asset's data comes from.

One generation produces the operational database (a separate database from the warehouse,
as a real source system would be), landing files in the lake, a git repository and a CI-runs
export in the GitHub Actions API's shape.
"""

import json

from dagster import AssetExecutionContext, AssetKey, AssetSpec, Config, MaterializeResult, MetadataValue, multi_asset
from pydantic import Field

from ...lib import demo, settings
from ...resources import DemoSourceDatabaseResource, LakeResource
from ..metadata import frame_metadata

GROUP = "demo_source_system"
OWNER = "team:platform"
CI_EXPORT_KEY = "landing/ci_exports/github_actions_runs.json"

DEMO_TABLE_KEYS = {table: AssetKey(["demo", table]) for table in demo.TABLES}
LANDING_KEY = AssetKey(["demo", "landing_files"])
GIT_KEY = AssetKey(["demo", "git_repository"])
CI_KEY = AssetKey(["demo", "ci_runs_export"])


class DemoSourceConfig(Config):
    scale: float | None = Field(
        default=None, description="1.0 ≈ 2,000 users, 60,000 tasks, 1M events; default MAESTRO_DEMO_SCALE or 1.0"
    )
    seed: int = Field(default=42, description="same seed, same data")


def _specs() -> list[AssetSpec]:
    common = {"group_name": GROUP, "owners": [OWNER]}
    specs = [
        AssetSpec(
            key,
            description=f"Demo operational database table `{table}` (the source system).",
            kinds={"sql", "python"},
            **common,
        )
        for table, key in DEMO_TABLE_KEYS.items()
    ]
    specs += [
        AssetSpec(
            LANDING_KEY,
            description="CSV, JSON lines and parquet files dropped under `landing/` in the lake.",
            kinds={"csv", "parquet"},
            **common,
        ),
        AssetSpec(
            GIT_KEY,
            description="A git repository of the platform service with several authors and branches.",
            kinds={"git"},
            **common,
        ),
        AssetSpec(
            CI_KEY,
            description="CI runs exported in the GitHub Actions REST API's JSON shape.",
            kinds={"json"},
            **common,
        ),
    ]
    return specs


@multi_asset(specs=_specs(), can_subset=False, name="demo_source_system")
def demo_source_system(
    context: AssetExecutionContext,
    config: DemoSourceConfig,
    demo_source_db: DemoSourceDatabaseResource,
    lake: LakeResource,
):
    scale = config.scale if config.scale is not None else settings.demo_scale()
    data = demo.generate(scale=scale, seed=config.seed)
    source = demo_source_db.client()
    for table, frame in data.tables().items():
        source.write_frame(table, frame)
        yield MaterializeResult(
            asset_key=DEMO_TABLE_KEYS[table],
            metadata={
                **frame_metadata(frame),
                "database": source.display_url,
                "scale": scale,
                "seed": config.seed,
            },
        )
    context.log.info(f"loaded {len(data.tables())} tables into {source.display_url}")

    store = lake.client()
    files = demo.landing_files(data)
    for key, payload in files.items():
        store.put(key, payload)
    yield MaterializeResult(
        asset_key=LANDING_KEY,
        metadata={
            "files": len(files),
            "bytes": sum(len(p) for p in files.values()),
            "keys": MetadataValue.md("\n".join(f"- `{k}`" for k in sorted(files))),
            "lake": store.url,
        },
    )

    repo = demo.write_git_repository(data, settings.demo_git_path())
    yield MaterializeResult(
        asset_key=GIT_KEY,
        metadata={
            "path": MetadataValue.path(str(repo.path)),
            "commits": repo.commits,
            "authors": len(repo.authors),
            "branches": MetadataValue.json(list(repo.branches)),
        },
    )

    export = demo.ci_runs_export(data)
    store.put(CI_EXPORT_KEY, json.dumps(export).encode())
    yield MaterializeResult(
        asset_key=CI_KEY,
        metadata={
            "runs": export["total_count"],
            "key": CI_EXPORT_KEY,
            "lake": store.url,
        },
    )
