"""scikit-learn's LogisticRegression as the reference for huaxiang's train_model('logistic').

Usage: python churn_reference.py FEATURES_CSV HUAXIANG_AUC [balanced HUAXIANG_COEFFICIENTS]

FEATURES_CSV: feature columns, then a 0/1 `label` column (the query huaxiang trained on).
Fits StandardScaler + LogisticRegression(C=1.0) (huaxiang's defaults: z-scored features, L2
with C = 1) on all rows and computes the ROC AUC on the same rows. Exits non-zero when
huaxiang's AUC differs by more than 0.01.

With `balanced` the reference is LogisticRegression(C=1.0, class_weight='balanced') and
HUAXIANG_COEFFICIENTS (comma-separated, in feature order, per standard deviation) must also
match scikit-learn's coefficients within 1e-3 of the largest one: both minimise the same
strictly convex objective, so only the solvers' tolerances separate them.
"""
import sys

import numpy as np

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

data = pd.read_csv(sys.argv[1]).dropna()
ours = float(sys.argv[2])
X = StandardScaler().fit_transform(data.drop(columns=["label"]).to_numpy(float))
y = data["label"].to_numpy(int)
balanced = len(sys.argv) > 3 and sys.argv[3] == "balanced"
model = LogisticRegression(C=1.0, max_iter=1000, tol=1e-8,
                           class_weight="balanced" if balanced else None).fit(X, y)
reference = roc_auc_score(y, model.predict_proba(X)[:, 1])
print(f"rows={len(y)} positives={y.sum()} balanced={balanced} huaxiang auc={ours:.6f} "
      f"scikit-learn auc={reference:.6f} difference={ours - reference:+.6f}")
ok = abs(ours - reference) <= 0.01
if balanced:
    theirs = model.coef_[0]
    coefficients = np.array([float(v) for v in sys.argv[4].split(",")])
    worst = np.max(np.abs(coefficients - theirs))
    allowed = 1e-3 * max(1.0, np.max(np.abs(theirs)))
    print(f"coefficients huaxiang={coefficients.round(6).tolist()} "
          f"scikit-learn={theirs.round(6).tolist()} worst difference={worst:.2e} (allowed {allowed:.2e})")
    ok = ok and worst <= allowed
sys.exit(0 if ok else 1)
