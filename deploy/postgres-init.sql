-- The databases besides `dagster` (POSTGRES_DB): Maestro's warehouse, MLflow's tracking store and
-- Feast's SQL registry (deploy/feature_store.yaml).
CREATE DATABASE warehouse;
CREATE DATABASE mlflow;
CREATE DATABASE feast;
