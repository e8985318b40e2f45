"""pgcli's completion against huaxiang: pgcli's own refresher (the catalog queries it sends when
it connects and after DDL) fills pgcli's completer, and typing in pgcli then offers our tables,
their columns, views, schemas and functions, as it does on PostgreSQL.

Usage: python pgcli_completion.py postgresql://huaxiang:huaxiang@127.0.0.1:5433/huaxiang
"""
import sys
from urllib.parse import urlparse

from pgcli.completion_refresher import CompletionRefresher
from pgcli.pgcompleter import PGCompleter
from pgcli.pgexecute import PGExecute
from prompt_toolkit.document import Document


def check(ok, what):
    if not ok:
        raise AssertionError(what)
    print("ok:", what)


url = urlparse(sys.argv[1])
executor = PGExecute(
    database=url.path.lstrip("/"),
    user=url.username,
    password=url.password,
    host=url.hostname,
    port=url.port,
    dsn=None,
)
with executor.conn.cursor() as cur:
    cur.execute(
        "CREATE OR REPLACE VIEW pgcli_big_orders AS SELECT order_id, amount FROM orders WHERE amount > 100"
    )

completer = PGCompleter(smart_completion=True, pgspecial=None, settings={})
# Every refresher pgcli runs at connect, in its order, with pgcli's queries. (`casing` only
# runs with a casing file configured, which a default pgcli has not.)
for name, refresh in CompletionRefresher.refreshers.items():
    refresh(completer, executor)
    print("refreshed:", name)


def offered(text):
    document = Document(text=text, cursor_position=len(text))
    return [c.text for c in completer.get_completions(document, None)]


tables = offered("SELECT * FROM ")
for table in ["customers", "orders", "order_items", "reviews", "crm_contacts"]:
    check(table in tables, f"FROM offers table {table}")
check("pgcli_big_orders" in tables, "FROM offers the view")
check("information_schema" in offered("SELECT * FROM "), "FROM offers the schemas")

def offered_at(text, cursor):
    document = Document(text=text, cursor_position=cursor)
    return [c.text for c in completer.get_completions(document, None)]


columns = offered_at("SELECT  FROM orders", len("SELECT "))
for column in ["order_id", "customer_id", "amount", "order_ts"]:
    check(column in columns, f"SELECT … FROM orders offers column {column}")

functions = offered("SELECT rfm_")
check(any(f.startswith("rfm_score") for f in functions), f"functions offer rfm_score: {functions[:5]}")
functions = offered("SELECT sentiment_")
check(any(f.startswith("sentiment_score") for f in functions), "functions offer sentiment_score")
check(
    "pg_get_function_result()" in offered("SELECT pg_catalog.pg_get_f"),
    "pg_catalog's functions (from pg_proc) are offered too",
)
view_columns = offered_at("SELECT  FROM pgcli_big_orders", len("SELECT "))
check("amount" in view_columns, "the view's columns are offered")

with executor.conn.cursor() as cur:
    cur.execute("DROP VIEW pgcli_big_orders")
print("ALL OK")
