"""Team and artifact analytics, with no Dagster in sight: each module reads one source (a git
repository, CI runs, the warehouse) into plain tables; the Dagster assets live in defs/analytics."""
