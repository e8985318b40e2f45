"""scikit-learn's KMeans(n_init=10) on the same standardised data as huaxiang's k-means.

Usage: python kmeans_reference.py FEATURES_CSV HUAXIANG_CSV

FEATURES_CSV: a row key, then numeric feature columns. HUAXIANG_CSV: k,inertia rows from
kmeans_choose_k over the same query. Standardisation is StandardScaler (population standard
deviation), as huaxiang's z-score. Prints both inertias per k; exits non-zero when huaxiang's
is more than 1% above scikit-learn's (lower is better, so lower is fine).
"""
import sys

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler

features = pd.read_csv(sys.argv[1]).dropna()
ours = pd.read_csv(sys.argv[2])
X = StandardScaler().fit_transform(features.iloc[:, 1:].to_numpy(float))
worst = 0.0
for k, inertia in zip(ours["k"], ours["inertia"]):
    sk = KMeans(n_clusters=int(k), n_init=10, random_state=0).fit(X).inertia_
    rel = (inertia - sk) / sk
    worst = max(worst, rel)
    print(f"k={k} huaxiang={inertia:.4f} sklearn={sk:.4f} relative={rel:+.4%}")
print(f"worst relative excess {worst:+.4%}")
sys.exit(1 if worst > 0.01 else 0)
