"""Reference for knn_impute: scikit-learn's KNNImputer on standardised features.

Usage: python knn_reference.py INPUT_CSV HUAXIANG_CSV K

INPUT_CSV: id plus the feature columns, empty cells for NULL; HUAXIANG_CSV: the output of
knn_impute over the same rows (same columns). The reference is StandardScaler (NaNs ignored in
fit), KNNImputer(n_neighbors=K, weights='uniform', metric='nan_euclidean'), then the inverse
transform. Prints the mismatches (relative difference above 1e-9) and a summary line.

Where the k-th and (k+1)-th nearest candidates are at the same distance (within 1e-6: scikit-
learn computes distances as x·x - 2x·y + y·y, which is that inexact), which of them scikit-learn
takes is unspecified (numpy's argpartition); those cells are counted as "tied" and not compared,
and must stay under 2% of the filled cells.
"""
import sys

import numpy as np
import pandas as pd
from sklearn.impute import KNNImputer
from sklearn.preprocessing import StandardScaler

given = pd.read_csv(sys.argv[1]).sort_values("id").reset_index(drop=True)
ours = pd.read_csv(sys.argv[2]).sort_values("id").reset_index(drop=True)
k = int(sys.argv[3])
features = [c for c in given.columns if c != "id"]
assert (given["id"].to_numpy() == ours["id"].to_numpy()).all(), "the rows differ"

scaler = StandardScaler()
z = scaler.fit_transform(given[features].to_numpy(float))
filled = scaler.inverse_transform(KNNImputer(n_neighbors=k).fit_transform(z))

missing = given[features].isna().to_numpy()
mine_all = ours[features].to_numpy(float)
present = ~np.isnan(z)
zero = np.nan_to_num(z)


def exact_distances(r):
    """nan_euclidean distances from row r to every row, summed directly."""
    shared = present & present[r]
    squares = np.where(shared, (zero - zero[r]) ** 2, 0.0).sum(axis=1)
    count = shared.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, np.sqrt(len(features) / count * squares), np.nan)


compared = tied = 0
bad = []
for r, c in zip(*np.nonzero(missing)):
    d = exact_distances(r)[~missing[:, c]]
    d = np.sort(d[~np.isnan(d)])
    if len(d) > k and abs(d[k - 1] - d[k]) <= 1e-6 * max(1.0, d[k]):
        tied += 1
        continue
    compared += 1
    if not abs(mine_all[r, c] - filled[r, c]) <= 1e-9 * max(1.0, abs(filled[r, c])):
        bad.append((r, c))
for r, c in bad[:20]:
    print("mismatch", r, features[c], mine_all[r, c], filled[r, c])
# Known values pass through unchanged.
assert np.allclose(mine_all[~missing], given[features].to_numpy(float)[~missing])
assert tied <= 0.02 * missing.sum(), f"{tied} tied cells of {missing.sum()}"
print(f"filled {missing.sum()} compared {compared} tied {tied} mismatches {len(bad)}")
