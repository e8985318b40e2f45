"""scikit-learn's LogisticRegression as the reference for huaxiang's train_model('logistic').

Usage: python churn_reference.py FEATURES_CSV HUAXIANG_AUC

FEATURES_CSV: feature columns, then a 0/1 `label` column (the query huaxiang trained on).
Fits StandardScaler + LogisticRegression(C=1.0) (huaxiang's defaults: z-scored features, L2
with C = 1) on all rows and computes the ROC AUC on the same rows. Exits non-zero when
huaxiang's AUC differs by more than 0.01.
"""
import sys

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

data = pd.read_csv(sys.argv[1]).dropna()
ours = float(sys.argv[2])
X = StandardScaler().fit_transform(data.drop(columns=["label"]).to_numpy(float))
y = data["label"].to_numpy(int)
model = LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
reference = roc_auc_score(y, model.predict_proba(X)[:, 1])
print(f"rows={len(y)} positives={y.sum()} huaxiang auc={ours:.6f} scikit-learn auc={reference:.6f} "
      f"difference={ours - reference:+.6f}")
sys.exit(0 if abs(ours - reference) <= 0.01 else 1)
