"""XGBoost 1.7 `hist` reference for bench/gbdt/alpha158-real.ts: trains on the same float64
matrices with Qlib's Alpha158 LightGBM parameters mapped to XGBoost, writes valid/test
predictions next to the inputs and prints a JSON line with timings."""
import json
import sys
import time

import numpy as np
import xgboost as xgb

d, n, nv, nt, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
load = lambda name, rows: np.fromfile(f"{d}/{name}.bin", dtype="<f8").reshape(rows, f)
X, Xv, Xt = load("X", n), load("Xv", nv), load("Xt", nt)
y = np.fromfile(f"{d}/y.bin", dtype="<f8")
yv = np.fromfile(f"{d}/yv.bin", dtype="<f8")

t0 = time.perf_counter()
dtrain = xgb.QuantileDMatrix(X, y, max_bin=255, nthread=2)
dvalid = xgb.QuantileDMatrix(Xv, yv, ref=dtrain, nthread=2)
t1 = time.perf_counter()
params = dict(
    nthread=2, tree_method="hist", grow_policy="lossguide", max_depth=8, max_leaves=210, eta=0.2,
    alpha=205.6999, reg_lambda=580.9768, colsample_bytree=0.8879, subsample=0.8789, max_bin=255,
    min_child_weight=1e-3, objective="reg:squarederror", eval_metric="rmse", seed=42,
)
bst = xgb.train(params, dtrain, num_boost_round=1000, evals=[(dvalid, "valid")], early_stopping_rounds=50, verbose_eval=False)
t2 = time.perf_counter()
best = bst.best_iteration + 1
bst.predict(xgb.DMatrix(Xv), iteration_range=(0, best)).astype("<f8").tofile(f"{d}/pv_xgb.bin")
bst.predict(xgb.DMatrix(Xt), iteration_range=(0, best)).astype("<f8").tofile(f"{d}/pt_xgb.bin")
print(json.dumps({"dmatrix_s": t1 - t0, "train_s": t2 - t1, "trees": bst.num_boosted_rounds(), "best_iteration": best, "version": xgb.__version__}))
