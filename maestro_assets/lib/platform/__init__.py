"""The platform itself: alerts posted to a webhook, the metrics Prometheus scrapes, backups of its
databases, restores, and retention of old data."""
