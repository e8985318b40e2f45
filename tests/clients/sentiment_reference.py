"""vaderSentiment (the reference implementation of VADER) on huaxiang's English evaluation set.

Usage: python sentiment_reference.py EVAL_TSV HUAXIANG_ACCURACY

EVAL_TSV: `label<TAB>text` lines (label pos or neg) after a header. A text counts as right when
the sign of VADER's compound score matches its label (0 is wrong), the rule huaxiang's side uses.
Exits non-zero when huaxiang's accuracy is below VADER's.
"""
import csv
import sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

analyzer = SentimentIntensityAnalyzer()
right = total = 0
with open(sys.argv[1], encoding="utf-8") as f:
    rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    next(rows)
    for label, text in rows:
        score = analyzer.polarity_scores(text)["compound"]
        total += 1
        right += (label == "pos" and score > 0) or (label == "neg" and score < 0)
reference = right / total
ours = float(sys.argv[2])
print(f"texts={total} huaxiang accuracy={ours:.4f} vaderSentiment accuracy={reference:.4f}")
sys.exit(0 if ours >= reference else 1)
