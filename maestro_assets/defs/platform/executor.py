"""Maestro's default executor: steps in process unless a run asks for processes or Celery.

Measured by ``benchmarks/dagster_overhead.py`` on a 2-core machine (30-step chain): the stock
multiprocess executor costs about 2.4 s per step (a fresh Python process importing the
platform for every step), in-process about 0.1 s. Most of Maestro's steps are short or do their
heavy lifting in parallel themselves (streamed extraction, vectorised validation, scikit-learn
and Optuna with their own workers), so running steps in process is the default.

Nothing is given up where steps are heavy and independent: this is Dagster's own
``multi_or_in_process_executor`` with the default flipped, so a run (the launchpad's
``execution: config: multiprocess: …``) or a job (``maestro_executor.configured(…)``) switches
to one process per step, with ``max_concurrent`` and a forkserver start method.

Distributed execution: ``execution: config: celery: {broker: …, backend: …}`` sends each step
to Celery workers (``celery -A dagster_celery.app worker``, dagster-celery's task app) over the
broker, with dagster-celery's own options. A deployment makes that the default for every run by
setting ``MAESTRO_EXECUTOR=celery`` with ``MAESTRO_CELERY_BROKER_URL`` (and optionally
``MAESTRO_CELERY_BACKEND_URL``) in the code location's environment; unset, the default stays in
process. The workers need the same image, environment and a persistent instance
(``DAGSTER_HOME`` on PostgreSQL): they load the job from the code location and write events there.
"""

import os

from dagster import Field, Selector, executor, multi_or_in_process_executor, multiple_process_executor_requirements
from dagster_celery.executor import CELERY_CONFIG, celery_executor

from ...lib.errors import ConfigurationError

IN_PROCESS = {"in_process": {}}
ENV_EXECUTOR = "MAESTRO_EXECUTOR"
ENV_CELERY_BROKER = "MAESTRO_CELERY_BROKER_URL"
ENV_CELERY_BACKEND = "MAESTRO_CELERY_BACKEND_URL"
EXECUTOR_CHOICES = ("in_process", "multiprocess", "celery")


def default_executor_config() -> dict:
    """The run config a run gets without ``execution:``: in process, or Celery when the environment says so."""
    choice = (os.environ.get(ENV_EXECUTOR) or "in_process").strip()
    if choice not in EXECUTOR_CHOICES:
        raise ConfigurationError(
            ENV_EXECUTOR, f"{choice!r} is not an executor: use one of {', '.join(EXECUTOR_CHOICES)}"
        )
    if choice != "celery":
        return {choice: {}}
    if not os.environ.get(ENV_CELERY_BROKER, "").strip():
        raise ConfigurationError(ENV_CELERY_BROKER, f"not set, and {ENV_EXECUTOR}=celery needs the workers' broker URL")
    celery = {"broker": {"env": ENV_CELERY_BROKER}}
    if os.environ.get(ENV_CELERY_BACKEND, "").strip():
        celery["backend"] = {"env": ENV_CELERY_BACKEND}
    return {"celery": celery}


EXECUTOR_CONFIG = Selector(
    {**multi_or_in_process_executor.config_schema.as_field().config_type.fields, "celery": Field(CELERY_CONFIG)}
)


def _requirements(config):
    return multiple_process_executor_requirements() if "multiprocess" in config or "celery" in config else []


@executor(
    name="maestro_executor",
    config_schema=Field(
        EXECUTOR_CONFIG,
        default_value=default_executor_config(),
        description="in_process (default), multiprocess (one process per step, for heavy parallel steps) "
        f"or celery (steps on Celery workers; the default where {ENV_EXECUTOR}=celery)",
    ),
    requirements=_requirements,
)
def maestro_executor(init_context):
    if "celery" in init_context.executor_config:
        return celery_executor.executor_creation_fn(
            init_context._replace(executor_config=init_context.executor_config["celery"])
        )
    return multi_or_in_process_executor.executor_creation_fn(init_context)
