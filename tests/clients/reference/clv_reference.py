"""The `lifetimes` package (0.11.3) as the reference for huaxiang's clv functions.

Usage:
  python clv_reference.py export DIR
      Writes DIR/cdnow_summary.csv (customer_id, frequency, recency, t, monetary_value: the CDNOW
      sample of Fader & Hardie shipped inside lifetimes, 2,357 customers, weeks),
      DIR/cdnow_transactions.csv (customer_id, order_date, amount: the raw CDNOW sample) and
      DIR/simulated.csv (customer_id, frequency, recency, t: 20,000 customers drawn from the
      BG/NBD process with r=0.25, alpha=4, a=0.8, b=2.5 over 52 weeks, seed 2026).
  python clv_reference.py recovery DIR HUAXIANG_CSV
      HUAXIANG_CSV: clv_fit() over DIR/simulated.csv. Each parameter must be within 3 standard
      errors of the truth.
  python clv_reference.py summary DIR HUAXIANG_CSV HORIZON
      HUAXIANG_CSV: clv() over DIR/cdnow_summary.csv in weeks. Fits lifetimes' BetaGeoFitter and
      GammaGammaFitter on the same summary and compares customer by customer.
  python clv_reference.py transactions DIR HUAXIANG_CSV HORIZON
      HUAXIANG_CSV: clv() over the raw transactions, as_of 1997-09-30, weeks. lifetimes'
      summary_data_from_transaction_data (freq='D', times / 7) is the reference summary.
  python clv_reference.py mbg DIR HUAXIANG_CSV HORIZON
      As summary, with ModifiedBetaGeoFitter.

Every comparison prints its worst relative difference; the exit status is non-zero when any
value differs by more than 1e-4 relative (see `close`).
"""
import sys

import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter
from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value, load_dataset
from lifetimes.utils import summary_data_from_transaction_data

TOLERANCE = 1e-4


def close(name, ours, ref):
    """Largest relative difference (absolute below 1e-6, where relative is meaningless)."""
    ours = np.asarray(ours, float)
    ref = np.asarray(ref, float)
    diff = np.abs(ours - ref) / np.maximum(np.abs(ref), 1e-6)
    worst = float(diff.max())
    print(f"{name}: worst relative difference {worst:.3e} over {len(ref)} customers")
    return worst <= TOLERANCE


def export(directory):
    d = load_cdnow_summary_data_with_monetary_value().reset_index()
    d = d.rename(columns={"T": "t"})
    d[["customer_id", "frequency", "recency", "t", "monetary_value"]].to_csv(
        f"{directory}/cdnow_summary.csv", index=False
    )
    raw = load_dataset(
        "CDNOW_sample.txt", header=None, sep=r"\s+",
        names=["customer_id", "customer_index", "date", "quantity", "amount"],
    )
    raw["order_date"] = pd.to_datetime(raw["date"].astype(str), format="%Y%m%d").dt.strftime("%Y-%m-%d")
    raw[["customer_id", "order_date", "amount"]].to_csv(f"{directory}/cdnow_transactions.csv", index=False)
    np.random.seed(2026)
    simulate(20000, 52.0, TRUE_PARAMS, 2026).to_csv(f"{directory}/simulated.csv", index=False)


TRUE_PARAMS = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def simulate(customers, t, params, seed):
    """The BG/NBD process of Fader, Hardie & Lee (2005): purchase rate ~ Gamma(r, rate alpha),
    drop-out probability ~ Beta(a, b); after each repeat purchase the customer drops out with
    that probability. (lifetimes' own generator counts distinct whole periods, not purchases, so
    its data does not follow the model.)"""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(params["r"], 1.0 / params["alpha"], size=customers)
    dropout = rng.beta(params["a"], params["b"], size=customers)
    rows = []
    for i in range(customers):
        now, x, tx = 0.0, 0, 0.0
        while True:
            now += rng.exponential(1.0 / rates[i])
            if now > t:
                break
            x, tx = x + 1, now
            if rng.random() < dropout[i]:
                break
        rows.append((i + 1, x, tx, t))
    return pd.DataFrame(rows, columns=["customer_id", "frequency", "recency", "t"])


def recovery(directory, ours_path):
    """Our fitted parameters are within 3 standard errors (lifetimes' Hessian on the same data)
    of the parameters the data was simulated with."""
    sim = pd.read_csv(f"{directory}/simulated.csv")
    ours = pd.read_csv(ours_path)
    ours = dict(zip(ours[ours["model"] == "bgnbd"]["parameter"], ours[ours["model"] == "bgnbd"]["value"]))
    bgf = BetaGeoFitter().fit(sim["frequency"], sim["recency"], sim["t"])
    ok = True
    for name, truth in TRUE_PARAMS.items():
        se = float(bgf.standard_errors_[name])
        off = abs(ours[name] - truth) / se
        print(f"{name}: true {truth}, huaxiang {ours[name]:.6f}, lifetimes {bgf.params_[name]:.6f}, "
              f"standard error {se:.6f}, {off:.2f} standard errors off")
        ok &= off <= 3.0
    return ok


def compare(summary, ours, horizon, fitter):
    ok = True
    bgf = fitter().fit(summary["frequency"], summary["recency"], summary["T"])
    print("lifetimes", type(bgf).__name__, dict(bgf.params_.round(6)))
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    print("lifetimes GammaGammaFitter", dict(ggf.params_.round(6)))
    m = summary.join(ours.set_index("customer_id"), how="inner", rsuffix="_ours")
    if len(m) != len(summary) or len(ours) != len(summary):
        print(f"customers: lifetimes {len(summary)}, huaxiang {len(ours)}, matched {len(m)}")
        return False
    for column, ref_column in [("frequency", "frequency"), ("recency", "recency"), ("t", "T")]:
        ok &= close(column, m[column], m[ref_column])
    ok &= close("p_alive", m["p_alive"],
                bgf.conditional_probability_alive(m["frequency"], m["recency"], m["T"]))
    ok &= close("expected_purchases", m["expected_purchases"],
                bgf.conditional_expected_number_of_purchases_up_to_time(
                    horizon, m["frequency"], m["recency"], m["T"]))
    value = np.where((m["frequency"] > 0) & (m["monetary_value"] > 0), m["monetary_value"], 0.0)
    ok &= close("expected_avg_value", m["expected_avg_value"],
                ggf.conditional_expected_average_profit(m["frequency"], pd.Series(value, index=m.index))
                .where(value > 0, ggf.params_["v"] * ggf.params_["p"] / (ggf.params_["q"] - 1)))
    return ok


def main():
    mode, directory = sys.argv[1], sys.argv[2]
    if mode == "export":
        export(directory)
        return 0
    if mode == "recovery":
        return 0 if recovery(directory, sys.argv[3]) else 1
    ours = pd.read_csv(sys.argv[3])
    horizon = float(sys.argv[4])
    if mode in ("summary", "mbg"):
        summary = pd.read_csv(f"{directory}/cdnow_summary.csv").rename(columns={"t": "T"})
        summary = summary.set_index("customer_id")
        fitter = BetaGeoFitter if mode == "summary" else ModifiedBetaGeoFitter
        return 0 if compare(summary, ours, horizon, fitter) else 1
    if mode == "transactions":
        raw = pd.read_csv(f"{directory}/cdnow_transactions.csv")
        summary = summary_data_from_transaction_data(
            raw, "customer_id", "order_date", monetary_value_col="amount",
            observation_period_end="1997-09-30", freq="D",
        )
        for column in ("recency", "T"):
            summary[column] = summary[column] / 7.0
        return 0 if compare(summary, ours, horizon, BetaGeoFitter) else 1
    print(f"unknown mode {mode}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
