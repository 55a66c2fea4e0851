"""Team and artifact analytics ("the music library"), no Dagster: the warehouse data model and its
migrations (store.py), the artifact library (artifacts.py) and impact score (impact.py), CI/CD runs
and DORA metrics (cicd.py), git metrics (git_metrics.py). Each module stands alone."""
