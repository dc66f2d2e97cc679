-- Experiment tracking and the model registry (issue #3).
CREATE TABLE IF NOT EXISTS experiments (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS runs (
  id            text PRIMARY KEY,
  experiment_id bigint NOT NULL REFERENCES experiments(id),
  name          text NOT NULL,
  status        text NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
  params        jsonb NOT NULL DEFAULT '{}',
  metrics       jsonb NOT NULL DEFAULT '{}',
  tags          jsonb NOT NULL DEFAULT '{}',
  code_version  text NOT NULL,
  artifact_dir  text NOT NULL,
  error         text,
  started_at    timestamptz NOT NULL DEFAULT now(),
  ended_at      timestamptz
);
CREATE INDEX IF NOT EXISTS runs_experiment_started ON runs (experiment_id, started_at DESC);

-- Per-iteration metrics (training curves).
CREATE TABLE IF NOT EXISTS run_metrics (
  run_id  text NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  key     text NOT NULL,
  step    integer NOT NULL,
  value   double precision,
  at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, key, step)
);

CREATE TABLE IF NOT EXISTS model_versions (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL,
  version       integer NOT NULL,
  status        text NOT NULL CHECK (status IN ('staged', 'production', 'archived')),
  run_id        text REFERENCES runs(id),
  artifact_path text NOT NULL,
  metrics       jsonb NOT NULL DEFAULT '{}',
  description   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (name, version)
);
-- Exactly one production version per model name, enforced by the database itself.
CREATE UNIQUE INDEX IF NOT EXISTS model_versions_one_production ON model_versions (name) WHERE status = 'production';

-- Append-only audit of status changes.
CREATE TABLE IF NOT EXISTS model_events (
  id          bigserial PRIMARY KEY,
  name        text NOT NULL,
  version     integer NOT NULL,
  from_status text,
  to_status   text NOT NULL,
  actor       text NOT NULL,
  reason      text,
  at          timestamptz NOT NULL DEFAULT now()
);
