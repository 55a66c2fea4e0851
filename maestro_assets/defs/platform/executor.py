"""Maestro's default executor: steps in process unless a run asks for processes.

Measured by ``benchmarks/dagster_overhead.py`` on a 2-core machine (30-step chain): the stock
multiprocess executor costs about 2.4 s per step (a fresh Python process importing the
platform for every step), in-process about 0.1 s. Most of Maestro's steps are short or do their
heavy lifting in parallel themselves (streamed extraction, vectorised validation, scikit-learn
and Optuna with their own workers), so running steps in process is the default.

Nothing is given up where steps are heavy and independent: this is Dagster's own
``multi_or_in_process_executor`` with the default flipped, so a run (the launchpad's
``execution: config: multiprocess: …``) or a job (``maestro_executor.configured(…)``) switches
to one process per step, with ``max_concurrent`` and a forkserver start method.
"""

from dagster import Field, executor, multi_or_in_process_executor, multiple_process_executor_requirements

IN_PROCESS = {"in_process": {}}


@executor(
    name="maestro_executor",
    config_schema=Field(
        multi_or_in_process_executor.config_schema.as_field().config_type,
        default_value=IN_PROCESS,
        description="in_process (default) or multiprocess (one process per step, for heavy parallel steps)",
    ),
    requirements=lambda config: multiple_process_executor_requirements() if "multiprocess" in config else [],
)
def maestro_executor(init_context):
    return multi_or_in_process_executor.executor_creation_fn(init_context)
