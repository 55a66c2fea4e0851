-- The databases besides `dagster` (POSTGRES_DB): Maestro's warehouse and MLflow's tracking store.
CREATE DATABASE warehouse;
CREATE DATABASE mlflow;
