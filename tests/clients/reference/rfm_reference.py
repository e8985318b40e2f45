"""Reference computation of RFM scores with pandas/numpy, compared customer by customer.

Usage: python rfm_reference.py ORDERS_CSV HUAXIANG_RFM_CSV AS_OF

ORDERS_CSV: customer_id,order_ts,amount (raw orders); HUAXIANG_RFM_CSV: the output of
rfm_score(...). The rule: thresholds numpy.quantile(x, [j/5]) (linear, type 7); a score is
1 + searchsorted(thresholds, x, side='left') for F and M, and 5 - searchsorted(...) for R —
pandas.qcut(x, 5, labels=False) + 1 whenever the thresholds are distinct. Prints one line per
mismatch and a summary; exits non-zero on any mismatch.
"""
import sys

import numpy as np
import pandas as pd

orders = pd.read_csv(sys.argv[1])
ours = pd.read_csv(sys.argv[2], dtype={"rfm_cell": str})
as_of = pd.Timestamp(sys.argv[3])

orders["order_ts"] = pd.to_datetime(orders["order_ts"], utc=True, format="mixed").dt.tz_localize(None)
orders = orders[orders["order_ts"] < as_of]
per = orders.groupby("customer_id").agg(
    last_ts=("order_ts", "max"), frequency=("order_ts", "size"), monetary=("amount", "sum")
)
per["recency_days"] = np.floor((as_of - per["last_ts"]) / pd.Timedelta(days=1)).astype(int)

def scores(x, higher_is_better):
    t = np.quantile(x, [0.2, 0.4, 0.6, 0.8])
    below = np.searchsorted(t, x, side="left")
    return (1 + below) if higher_is_better else (5 - below)

per["r_score"] = scores(per["recency_days"].to_numpy(float), False)
per["f_score"] = scores(per["frequency"].to_numpy(float), True)
per["m_score"] = scores(per["monetary"].to_numpy(float), True)

# Where thresholds are distinct the rule is pandas.qcut's; check that claim on monetary.
qcut = pd.qcut(per["monetary"], 5, labels=False) + 1
assert (qcut.to_numpy() == per["m_score"].to_numpy()).all(), "qcut disagrees on monetary"

merged = per.join(ours.set_index("customer_id"), rsuffix="_hx", how="outer")
bad = 0
for column in ["recency_days", "frequency", "r_score", "f_score", "m_score"]:
    diff = merged[merged[column] != merged[column + "_hx"]]
    for cid, row in diff.head(5).iterrows():
        print(f"mismatch {column} customer {cid}: reference {row[column]} huaxiang {row[column + '_hx']}")
    bad += len(diff)
rel = np.abs(merged["monetary"] - merged["monetary_hx"]) / np.maximum(np.abs(merged["monetary"]), 1e-9)
if (rel > 1e-9).any():
    print(f"monetary differs beyond 1e-9 relative for {(rel > 1e-9).sum()} customers")
    bad += int((rel > 1e-9).sum())
print(f"customers {len(per)} compared; mismatches {bad}")
sys.exit(1 if bad else 0)
