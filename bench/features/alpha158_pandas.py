"""Baseline for bench/features/alpha158.ts: Alpha158 (Qlib's default config) in plain pandas.

A straightforward implementation, the way one would write it with pandas: group by symbol,
evaluate Qlib's expressions (qlib/contrib/data/loader.py, Alpha158DL.get_feature_config)
with Series arithmetic and rolling windows, rolling.apply where pandas has no builtin
(Slope, Rsquare, Resi, IdxMax, IdxMin). Same conventions as the TypeScript version so the
results are comparable row by row: min_periods = window, $vwap = (high + low + close) / 3,
Qlib's Corr/Rsquare mask (rolling std within 2e-5 of 0 -> NaN), +-inf -> NaN.

usage: alpha158_pandas.py CSV OUT_PREFIX SYM1,SYM2,...
Prints one JSON line: {"seconds": feature time (CSV read and adjustment excluded), ...}.
Writes OUT_PREFIX.bin (float64 little-endian: for each spot symbol, rows x 158 column-major)
and OUT_PREFIX.json (symbols, rows, day numbers, names).
"""

import json
import sys
import time

import numpy as np
import pandas as pd

W = [5, 10, 20, 30, 60]


def ols_funcs(d):
    x = np.arange(1, d + 1, dtype=float)
    xm = x.mean()
    xc = x - xm
    sxx = xc @ xc

    def slope(y):
        yc = y - y.mean()
        return (xc @ yc) / sxx

    def rsquare(y):
        yc = y - y.mean()
        sxy = xc @ yc
        return sxy * sxy / (sxx * (yc @ yc))

    def resi(y):
        yc = y - y.mean()
        b = (xc @ yc) / sxx
        return y[-1] - (y.mean() + b * (d - xm))

    return slope, rsquare, resi


def qlib_corr(a, b, d):
    r = a.rolling(d).corr(b)
    mask = np.isclose(a.rolling(d).std(), 0, atol=2e-05) | np.isclose(b.rolling(d).std(), 0, atol=2e-05)
    r[mask] = np.nan
    return r


def alpha158(g):
    o, h, l, c, v = g["open"], g["high"], g["low"], g["close"], g["volume"]
    vwap = (h + l + c) / 3
    f = {}
    f["KMID"] = (c - o) / o
    f["KLEN"] = (h - l) / o
    f["KMID2"] = (c - o) / (h - l + 1e-12)
    f["KUP"] = (h - np.maximum(o, c)) / o
    f["KUP2"] = (h - np.maximum(o, c)) / (h - l + 1e-12)
    f["KLOW"] = (np.minimum(o, c) - l) / o
    f["KLOW2"] = (np.minimum(o, c) - l) / (h - l + 1e-12)
    f["KSFT"] = (2 * c - h - l) / o
    f["KSFT2"] = (2 * c - h - l) / (h - l + 1e-12)
    f["OPEN0"] = o / c
    f["HIGH0"] = h / c
    f["LOW0"] = l / c
    f["VWAP0"] = vwap / c
    pc = c.shift(1)
    pv = v.shift(1)
    diff = c - pc
    vdiff = v - pv
    gt = (c > pc).astype(float)
    lt = (c < pc).astype(float)
    wv = np.abs(c / pc - 1) * v
    fam = {k: {} for k in ["ROC", "MA", "STD", "BETA", "RSQR", "RESI", "MAX", "MIN", "QTLU", "QTLD", "RANK", "RSV",
                          "IMAX", "IMIN", "IMXD", "CORR", "CORD", "CNTP", "CNTN", "CNTD", "SUMP", "SUMN", "SUMD",
                          "VMA", "VSTD", "WVMA", "VSUMP", "VSUMN", "VSUMD"]}
    for d in W:
        slope, rsquare, resi = ols_funcs(d)
        cr = c.rolling(d)
        fam["ROC"][d] = c.shift(d) / c
        fam["MA"][d] = cr.mean() / c
        fam["STD"][d] = cr.std() / c
        fam["BETA"][d] = cr.apply(slope, raw=True) / c
        rsq = cr.apply(rsquare, raw=True)
        rsq[np.isclose(cr.std(), 0, atol=2e-05)] = np.nan
        fam["RSQR"][d] = rsq
        fam["RESI"][d] = cr.apply(resi, raw=True) / c
        mx = h.rolling(d).max()
        mn = l.rolling(d).min()
        fam["MAX"][d] = mx / c
        fam["MIN"][d] = mn / c
        fam["QTLU"][d] = cr.quantile(0.8) / c
        fam["QTLD"][d] = cr.quantile(0.2) / c
        fam["RANK"][d] = cr.rank(pct=True)
        fam["RSV"][d] = (c - mn) / (mx - mn + 1e-12)
        imax = h.rolling(d).apply(lambda x: x.argmax() + 1, raw=True)
        imin = l.rolling(d).apply(lambda x: x.argmin() + 1, raw=True)
        fam["IMAX"][d] = imax / d
        fam["IMIN"][d] = imin / d
        fam["IMXD"][d] = (imax - imin) / d
        fam["CORR"][d] = qlib_corr(c, np.log(v + 1), d)
        fam["CORD"][d] = qlib_corr(c / pc, np.log(v / pv + 1), d)
        cntp = gt.rolling(d).mean()
        cntn = lt.rolling(d).mean()
        fam["CNTP"][d] = cntp
        fam["CNTN"][d] = cntn
        fam["CNTD"][d] = cntp - cntn
        sp = np.maximum(diff, 0).rolling(d).sum()
        sn = np.maximum(pc - c, 0).rolling(d).sum()
        sa = np.abs(diff).rolling(d).sum()
        fam["SUMP"][d] = sp / (sa + 1e-12)
        fam["SUMN"][d] = sn / (sa + 1e-12)
        fam["SUMD"][d] = (sp - sn) / (sa + 1e-12)
        fam["VMA"][d] = v.rolling(d).mean() / (v + 1e-12)
        fam["VSTD"][d] = v.rolling(d).std() / (v + 1e-12)
        fam["WVMA"][d] = wv.rolling(d).std() / (wv.rolling(d).mean() + 1e-12)
        vp = np.maximum(vdiff, 0).rolling(d).sum()
        vn = np.maximum(pv - v, 0).rolling(d).sum()
        va = np.abs(vdiff).rolling(d).sum()
        fam["VSUMP"][d] = vp / (va + 1e-12)
        fam["VSUMN"][d] = vn / (va + 1e-12)
        fam["VSUMD"][d] = (vp - vn) / (va + 1e-12)
    for k, per in fam.items():
        for d in W:
            f[f"{k}{d}"] = per[d]
    out = pd.DataFrame(f, index=g.index)
    return out.replace([np.inf, -np.inf], np.nan)


def main():
    csv, out_prefix, spots = sys.argv[1], sys.argv[2], [s for s in sys.argv[3].split(",") if s]
    df = pd.read_csv(csv)
    df["_row"] = np.arange(len(df))
    df = df.sort_values(["symbol", "date", "_row"]).reset_index(drop=True)
    if "adj_close" in df.columns:
        fac = df["adj_close"] / df["close"]
        for col in ["open", "high", "low", "close"]:
            df[col] = df[col] * fac
    with np.errstate(all="ignore"):
        t0 = time.perf_counter()
        parts = [alpha158(g) for _, g in df.groupby("symbol", sort=True)]
        feats = pd.concat(parts)
        seconds = time.perf_counter() - t0
    names = list(feats.columns)
    meta = {"names": names, "symbols": [], "rows": [], "days": []}
    with open(out_prefix + ".bin", "wb") as fh:
        for sym in spots:
            idx = df.index[df["symbol"] == sym]
            if len(idx) == 0:
                continue
            block = feats.loc[idx].to_numpy(dtype="<f8")
            fh.write(np.ascontiguousarray(block.T).tobytes())
            days = (pd.to_datetime(df.loc[idx, "date"]) - pd.Timestamp("1970-01-01")).dt.days
            meta["symbols"].append(sym)
            meta["rows"].append(int(len(idx)))
            meta["days"].append([int(x) for x in days])
    with open(out_prefix + ".json", "w") as fh:
        json.dump(meta, fh)
    print(json.dumps({"seconds": seconds, "rows": int(len(df)), "symbols": int(df["symbol"].nunique()),
                      "columns": len(names), "pandas": pd.__version__, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
