-- What each model version was trained to predict (issue #13): `return` (next-day return) or
-- `abs_return` (its size: volatility). A strategy that trades scores as expected returns
-- refuses any other kind. NULL = registered before this column existed: read as `return`,
-- with a warning (every model trained before it was a return model unless --label said otherwise).
ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS label_kind text;
