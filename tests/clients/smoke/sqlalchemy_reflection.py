"""SQLAlchemy 2 reflection against huaxiang, as Superset runs it when a dataset is added:
every table and view of the demo is reflected (columns, primary key, foreign keys, indexes,
unique and check constraints, comments), the column types are PostgreSQL's, and a reflected
table can be queried through SQLAlchemy Core.

Usage: python sqlalchemy_reflection.py postgresql://huaxiang:huaxiang@127.0.0.1:5433/huaxiang
"""
import sys

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def check(ok, what):
    if not ok:
        raise AssertionError(what)
    print("ok:", what)


url = sys.argv[1].replace("postgresql://", "postgresql+psycopg2://", 1)
engine = sa.create_engine(url)
with engine.connect() as conn:
    conn.exec_driver_sql(
        "CREATE OR REPLACE VIEW sqlalchemy_big_orders AS SELECT order_id, amount FROM orders WHERE amount > 100"
    )
    conn.commit()

inspector = sa.inspect(engine)
check("public" in inspector.get_schema_names(), "schemas include public")
tables = inspector.get_table_names()
for table in ["customers", "orders", "order_items", "reviews", "crm_contacts"]:
    check(table in tables, f"table {table} is listed")
check("sqlalchemy_big_orders" in inspector.get_view_names(), "the view is listed")
check("models" not in tables, "huaxiang.models is not listed as a table of public")
check("models" in inspector.get_table_names(schema="huaxiang"), "huaxiang.models is in its schema")
check(inspector.has_table("orders") and not inspector.has_table("nope"), "has_table")

for name in tables + ["sqlalchemy_big_orders"]:
    columns = inspector.get_columns(name)
    check(len(columns) > 0, f"{name}: {len(columns)} columns")
    inspector.get_pk_constraint(name)
    inspector.get_foreign_keys(name)
    inspector.get_indexes(name)
    inspector.get_unique_constraints(name)
    inspector.get_check_constraints(name)
    inspector.get_table_comment(name)
    print("ok: reflected", name)

types = {c["name"]: c["type"] for c in inspector.get_columns("orders")}
check(isinstance(types["order_id"], postgresql.BIGINT), f"order_id is BIGINT: {types['order_id']!r}")
check(isinstance(types["category"], postgresql.TEXT), f"category is TEXT: {types['category']!r}")
check(
    isinstance(types["order_ts"], postgresql.TIMESTAMP) and types["order_ts"].timezone,
    f"order_ts is TIMESTAMP WITH TIME ZONE: {types['order_ts']!r}",
)
check(isinstance(types["amount"], postgresql.NUMERIC), f"amount is NUMERIC: {types['amount']!r}")
nullable = {c["name"]: c["nullable"] for c in inspector.get_columns("orders")}
check(nullable["order_id"] is False, "order_id is NOT NULL")
check(
    inspector.get_pk_constraint("orders")["constrained_columns"] == [],
    "no primary key (huaxiang has no constraints)",
)
check(inspector.get_indexes("orders") == [], "no indexes")

orders = sa.Table("orders", sa.MetaData(), autoload_with=engine)
with engine.connect() as conn:
    count = conn.execute(
        sa.select(sa.func.count()).select_from(orders).where(orders.c.amount > 100)
    ).scalar_one()
    view_count = conn.execute(sa.text("SELECT count(*) FROM sqlalchemy_big_orders")).scalar_one()
check(count == view_count and count > 0, f"Core query through the reflected table: {count}")
with engine.connect() as conn:
    conn.exec_driver_sql("DROP VIEW sqlalchemy_big_orders")
    conn.commit()
print("ALL OK")
