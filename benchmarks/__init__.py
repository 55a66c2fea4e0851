"""Maestro's benchmarks: one module per figure group, each printing one JSON line per figure."""
