"""The platform's own health: alerts posted to a webhook and the metrics Prometheus scrapes."""
