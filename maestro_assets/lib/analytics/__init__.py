"""Analytics of the platform's own activity (CI/CD runs and delivery metrics: cicd.py), with no Dagster in sight."""
