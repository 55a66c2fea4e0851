"""Team and artifact analytics ("the music library"), no Dagster: the warehouse data model and its
migrations (store.py), the artifact library (artifacts.py) and impact score (impact.py), CI/CD runs
and DORA metrics (cicd.py), git metrics (git_metrics.py); what the Dagster assets read
(config.py: analytics.yaml), how a materialization becomes an artifact version and its usage
(materializations.py), the weekly rows of analytics_process_metrics (process_metrics.py) and the
usage plot (plots.py)."""
