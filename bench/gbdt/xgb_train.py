"""XGBoost 1.7 `hist` side of bench/gbdt/train.ts: reads the same float64 matrices and prints a JSON line."""
import json
import sys
import time

import numpy as np
import xgboost as xgb

d, n, nv, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
X = np.fromfile(f"{d}/X.bin", dtype="<f8").reshape(n, f)
y = np.fromfile(f"{d}/y.bin", dtype="<f8")
Xv = np.fromfile(f"{d}/Xv.bin", dtype="<f8").reshape(nv, f)
yv = np.fromfile(f"{d}/yv.bin", dtype="<f8")

t0 = time.perf_counter()
dtrain = xgb.QuantileDMatrix(X, y, max_bin=255, nthread=2)
dvalid = xgb.QuantileDMatrix(Xv, yv, ref=dtrain, nthread=2)
t1 = time.perf_counter()
c1 = time.process_time()
params = dict(
    nthread=2, tree_method="hist", grow_policy="lossguide", max_depth=8, max_leaves=210, eta=0.2,
    alpha=205.7, reg_lambda=580.98, colsample_bytree=0.8879, subsample=0.8789, max_bin=255,
    objective="reg:squarederror", eval_metric="rmse", seed=0,
)
bst = xgb.train(params, dtrain, num_boost_round=1000, evals=[(dvalid, "valid")], early_stopping_rounds=50, verbose_eval=False)
t2 = time.perf_counter()
c2 = time.process_time()
trees = bst.num_boosted_rounds()
pred = bst.predict(dvalid, iteration_range=(0, bst.best_iteration + 1))
print(json.dumps({
    "dmatrix_s": t1 - t0, "train_s": t2 - t1, "train_cpu_s": c2 - c1, "trees": trees, "best_iteration": bst.best_iteration + 1,
    "valid_mse": float(np.mean((pred - yv) ** 2)), "version": xgb.__version__,
}))
