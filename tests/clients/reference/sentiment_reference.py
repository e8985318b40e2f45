"""vaderSentiment 3.3.2 (the reference implementation of VADER) beside huaxiang's English scores.

Usage: python sentiment_reference.py SCORES_JSON

SCORES_JSON: a list of {"text", "score", "label", "english"} (label "pos", "neg" or null) with
huaxiang's sentiment_score of each text. The score of every English-only text must equal
vaderSentiment's compound within 1e-4 (it rounds to four decimals); texts with Chinese words go
through huaxiang's Chinese rules instead. On the labelled texts the accuracy of the sign (0 is
wrong) must be at least vaderSentiment's. Exits non-zero otherwise.
"""
import json
import sys

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

TOLERANCE = 1e-4

analyzer = SentimentIntensityAnalyzer()
cases = json.load(open(sys.argv[1], encoding="utf-8"))
ours_right = reference_right = labelled = 0
worst = 0.0
wrong = []
for case in cases:
    reference = analyzer.polarity_scores(case["text"])["compound"]
    diff = abs(reference - case["score"]) if case["english"] else 0.0
    worst = max(worst, diff)
    if diff > TOLERANCE:
        wrong.append(f"  {case['text']!r}: huaxiang {case['score']} vaderSentiment {reference}")
    if case["label"]:
        labelled += 1
        sign = 1 if case["label"] == "pos" else -1
        ours_right += case["score"] * sign > 0
        reference_right += reference * sign > 0
english = sum(case["english"] for case in cases)
print(
    f"texts={len(cases)} english-only={english} largest difference={worst:.2e} (tolerance {TOLERANCE}); "
    f"labelled={labelled} accuracy huaxiang={ours_right / labelled:.4f} "
    f"vaderSentiment={reference_right / labelled:.4f}"
)
if wrong:
    print(f"{len(wrong)} texts differ:\n" + "\n".join(wrong))
if ours_right < reference_right:
    print("huaxiang is less accurate than vaderSentiment")
sys.exit(1 if wrong or ours_right < reference_right else 0)
