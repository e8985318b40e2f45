"""The profiling benchmark: the main customer-profiling statements at several demo sizes, timed
over the wire with psql against `huaxiang serve` (release build) — the whole result sent to
psql, and computed only (`EXPLAIN ANALYZE`: the plan runs, its rows are not sent) — with the
server's peak memory per statement, beside DuckDB in-process (the same aggregate SQL on the same Parquet files),
PostgreSQL 15 (the same tables loaded) and the Python references (scikit-learn, lifetimes).

Run it through scripts/bench, which builds the release binary and the Python environment.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "huaxiang"

# The aggregate every RFM analysis starts with; DuckDB and PostgreSQL run the same text.
RFM_AGGREGATE = (
    "SELECT customer_id, max(order_ts) AS last_order, count(*) AS orders, "
    "sum(amount) AS spend FROM orders GROUP BY customer_id"
)

STATEMENTS = [
    ("RFM aggregate", RFM_AGGREGATE),
    (
        "rfm_score",
        "SELECT * FROM rfm_score('SELECT customer_id, order_ts, amount FROM orders', "
        "DATE '2026-11-01')",
    ),
    (
        "k-means (k=6, RFM features)",
        "SELECT * FROM kmeans_segment('SELECT customer_id, "
        "date_part(''day'', TIMESTAMP ''2026-11-01'' - max(order_ts)) AS recency_days, "
        "count(*)::double precision AS orders, sum(amount)::double precision AS spend "
        "FROM orders GROUP BY customer_id', 6)",
    ),
    (
        "clv (90 days)",
        "SELECT * FROM clv('SELECT customer_id, order_ts, amount FROM orders', "
        "DATE '2026-10-31', 90)",
    ),
    (
        "resolve_identities (normalised phone + e-mail)",
        "SELECT * FROM resolve_identities('SELECT ''shop'' AS source, "
        "CAST(customer_id AS TEXT) AS record_id, normalize_phone(phone) AS phone, "
        "normalize_email(email) AS email FROM customers UNION ALL "
        "SELECT ''crm'', contact_id, normalize_phone(mobile), normalize_email(email) "
        "FROM crm_contacts')",
    ),
    ("sentiment of every review", "SELECT review_id, sentiment_tag(text) FROM reviews"),
]


def log(message):
    print(message, file=sys.stderr, flush=True)


def peak_rss_kib(pid):
    """The process's peak resident memory since the last reset (VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pid):
    """Resets VmHWM to the current resident memory (Linux: clear_refs 5)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass


def timed(command, **kwargs):
    """Runs `command` under GNU time; returns (seconds, peak KiB, completed process)."""
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.perf_counter()
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", report.name, *command], **kwargs
        )
        seconds = time.perf_counter() - started
        text = report.read().strip().splitlines()
    kib = int(text[-1]) if text and text[-1].isdigit() else 0
    return seconds, kib, done


class Server:
    """`huaxiang serve` on a free port, stopped on exit."""

    def __init__(self, data_dir):
        self.process = subprocess.Popen(
            [str(BIN), "serve", "--data-dir", str(data_dir), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for line in self.process.stdout:
            if "listening on" in line:
                self.port = int(line.rsplit(":", 1)[1])
                break
        else:
            raise SystemExit("huaxiang serve did not start")

    def psql(self, sql):
        """Runs one statement with psql, rows to /dev/null; returns (seconds, peak server MiB)."""
        reset_peak(self.process.pid)
        env = dict(os.environ, PGPASSWORD="huaxiang")
        started = time.perf_counter()
        done = subprocess.run(
            ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "huaxiang",
             "-d", "huaxiang", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"huaxiang failed on {sql[:60]}…: {done.stderr.strip()}")
        return seconds, peak_rss_kib(self.process.pid) / 1024

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def table_files(data_dir, table):
    """The Parquet files of a demo table (a fresh demo has one commit: all files are live)."""
    catalog = json.loads((data_dir / "catalog.json").read_text())
    entry = catalog["relations"][table]
    return sorted(str(p) for p in (data_dir / "tables" / entry["dir"]).glob("*.parquet"))


def duckdb_rfm(data_dir):
    import duckdb

    files = table_files(data_dir, "orders")
    con = duckdb.connect()
    con.execute(f"CREATE VIEW orders AS SELECT * FROM read_parquet({files!r})")
    con.execute(RFM_AGGREGATE).fetchnumpy()  # warm the file cache, as the server's run is
    started = time.perf_counter()
    rows = con.execute(RFM_AGGREGATE).fetchnumpy()
    return time.perf_counter() - started, len(rows["customer_id"])


class Postgres:
    """A PostgreSQL 15 cluster in a temporary directory, run as the postgres user."""

    BIN = Path("/usr/lib/postgresql/15/bin")

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="hx-bench-pg-"))
        shutil.chown(self.dir, "postgres")
        self.port = 54329
        as_postgres = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_postgres, str(self.BIN / "initdb"), "-D", str(self.dir / "data"),
                        "-A", "trust", "-U", "postgres"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([*as_postgres, str(self.BIN / "pg_ctl"), "-D", str(self.dir / "data"),
                        "-o", f"-p {self.port} -k {self.dir} -c shared_buffers=2GB "
                              "-c work_mem=512MB -c max_parallel_workers_per_gather=2",
                        "-l", str(self.dir / "log"), "-w", "start"],
                       check=True, stdout=subprocess.DEVNULL)

    def psql(self, sql, **kwargs):
        return subprocess.run(
            ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            text=True, **kwargs)

    def load_orders(self, server):
        self.psql("CREATE TABLE orders (order_id bigint, customer_id bigint, "
                  "order_ts timestamptz, amount numeric(12,2), category text, channel text, "
                  "store text)", check=True, stdout=subprocess.DEVNULL)
        env = dict(os.environ, PGPASSWORD="huaxiang")
        export = subprocess.Popen(
            ["psql", "-X", "-h", "127.0.0.1", "-p", str(server.port), "-U", "huaxiang",
             "-d", "huaxiang", "-c", "COPY orders TO STDOUT"],
            env=env, stdout=subprocess.PIPE)
        subprocess.run(
            ["psql", "-X", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-c", "COPY orders FROM STDIN"],
            stdin=export.stdout, check=True, stdout=subprocess.DEVNULL)
        export.wait()
        self.psql("VACUUM ANALYZE orders", check=True, stdout=subprocess.DEVNULL)

    def time(self, sql):
        self.psql(sql, check=True, stdout=subprocess.DEVNULL)  # warm, as the others are
        started = time.perf_counter()
        self.psql(sql, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - started

    def stop(self):
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.BIN / "pg_ctl"), "-D",
                        str(self.dir / "data"), "-m", "fast", "stop"], stdout=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def python_references(server, size):
    """scikit-learn k-means and lifetimes on the same inputs, timed without the data fetch."""
    import numpy as np
    import psycopg2

    out = {}
    con = psycopg2.connect(host="127.0.0.1", port=server.port, user="huaxiang",
                           password="huaxiang", dbname="huaxiang")
    cur = con.cursor()
    cur.execute("SELECT date_part('day', TIMESTAMP '2026-11-01' - max(order_ts)), count(*), "
                "sum(amount)::double precision FROM orders GROUP BY customer_id")
    x = np.array(cur.fetchall(), dtype=float)
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    started = time.perf_counter()
    KMeans(n_clusters=6, n_init=10, random_state=0).fit(StandardScaler().fit_transform(x))
    out["k-means (k=6, RFM features)"] = time.perf_counter() - started
    if size <= 1_000_000:
        import pandas as pd
        from lifetimes import BetaGeoFitter, GammaGammaFitter
        from lifetimes.utils import summary_data_from_transaction_data

        cur.execute("SELECT customer_id, order_ts, amount::double precision FROM orders")
        orders = pd.DataFrame(cur.fetchall(), columns=["customer_id", "order_ts", "amount"])
        orders["order_ts"] = pd.to_datetime(orders["order_ts"], utc=True).dt.tz_localize(None)
        started = time.perf_counter()
        s = summary_data_from_transaction_data(
            orders, "customer_id", "order_ts", monetary_value_col="amount",
            observation_period_end="2026-10-31", freq="D")
        bgf = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
        repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
        ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
        bgf.conditional_expected_number_of_purchases_up_to_time(
            90, s["frequency"], s["recency"], s["T"])
        ggf.conditional_expected_average_profit(s["frequency"], s["monetary_value"])
        out["clv (90 days)"] = time.perf_counter() - started
    con.close()
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000",
                        help="demo sizes (customers), comma-separated")
    parser.add_argument("--dir", default=str(ROOT / "bench-data"),
                        help="where the demo data dirs are kept between runs")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-python", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    base = Path(args.dir)
    base.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in sizes:
        data_dir = base / f"demo-{size}"
        if not (data_dir / "catalog.json").exists() or not (data_dir / ".complete").exists():
            shutil.rmtree(data_dir, ignore_errors=True)
            log(f"generating the demo with {size:,} customers …")
            seconds, kib, done = timed(
                [str(BIN), "demo", "--data-dir", str(data_dir), "--customers", str(size)],
                stderr=subprocess.DEVNULL)
            if done.returncode != 0:
                raise SystemExit(f"huaxiang demo failed for {size} customers")
            (data_dir / ".complete").write_text(f"{seconds:.1f} {kib}\n")
        seconds, kib = (data_dir / ".complete").read_text().split()
        rows.append((size, "demo generation", float(seconds), None, int(kib) / 1024, None, None,
                     None))
        server = Server(data_dir)
        postgres = None
        try:
            server.psql("SELECT count(*), sum(amount) FROM orders")  # the file cache warm
            for name, sql in STATEMENTS:
                seconds, mib = server.psql(sql)
                computed, _ = server.psql(f"EXPLAIN ANALYZE {sql}")
                log(f"{size:>10,} {name}: {seconds:.2f} s ({computed:.2f} s computed), "
                    f"{mib:.0f} MiB")
                rows.append([size, name, seconds, computed, mib, None, None, None])
            duck, _ = duckdb_rfm(data_dir)
            rows[-len(STATEMENTS)][5] = duck
            if not args.skip_postgres and Postgres.BIN.exists() and os.geteuid() == 0:
                log(f"{size:>10,} loading the orders into PostgreSQL 15 …")
                postgres = Postgres()
                postgres.load_orders(server)
                rows[-len(STATEMENTS)][6] = postgres.time(RFM_AGGREGATE)
            if not args.skip_python:
                for name, seconds in python_references(server, size).items():
                    for row in rows[-len(STATEMENTS):]:
                        if row[1] == name:
                            row[7] = seconds
        finally:
            server.stop()
            if postgres:
                postgres.stop()
    fmt = lambda v, spec: "—" if v is None else format(v, spec)
    print("| customers | statement | huaxiang to psql (s) | computed (s) | peak MiB | DuckDB (s) "
          "| PostgreSQL 15 (s) | Python (s) |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for size, name, seconds, computed, mib, duck, pg, py in rows:
        print(f"| {size:,} | {name} | {seconds:.2f} | {fmt(computed, '.2f')} | {mib:.0f} "
              f"| {fmt(duck, '.2f')} | {fmt(pg, '.2f')} | {fmt(py, '.2f')} |")


if __name__ == "__main__":
    main()
