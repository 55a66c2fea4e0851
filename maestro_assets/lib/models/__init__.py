"""Models: training, MLflow registry and aliases, requirements, serving (no Dagster)."""
