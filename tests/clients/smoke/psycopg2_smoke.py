"""psycopg2 against huaxiang: a parameterised query, an error, and recovery.

Usage: python psycopg2_smoke.py postgresql://huaxiang:huaxiang@127.0.0.1:5433/huaxiang
"""
import sys
from decimal import Decimal

import psycopg2
import psycopg2.errors


def check(ok, what):
    if not ok:
        raise AssertionError(what)
    print("ok:", what)


conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
cur = conn.cursor()

cur.execute(
    "SELECT customer_id, count(*) AS orders, sum(amount) AS total FROM orders "
    "WHERE customer_id = %s AND amount >= %s GROUP BY customer_id",
    (100001, Decimal("0")),
)
rows = cur.fetchall()
cur.execute("SELECT count(*) FROM orders WHERE customer_id = 100001")
expected = cur.fetchone()[0]
if expected:
    check(rows[0][0] == 100001, "customer id")
    check(rows[0][1] == expected, "order count matches")
    check(isinstance(rows[0][2], Decimal), "numeric arrives as Decimal")
else:
    check(rows == [], "no rows for a customer without orders")

cur.execute("SELECT name, city FROM customers WHERE city = %s LIMIT 3", ("北京",))
check(all(city == "北京" for _, city in cur.fetchall()), "Chinese text parameter")

cur.execute("SELECT %s::text AS a, %s AS b", (None, 3))
check(cur.fetchone() == (None, 3), "NULL parameter")

try:
    cur.execute("SELECT * FROM no_such_table")
    check(False, "error expected")
except psycopg2.errors.UndefinedTable as e:
    check(e.pgcode == "42P01", "UndefinedTable with 42P01")

cur.execute("SELECT 40 + 2")
check(cur.fetchone()[0] == 42, "next query after an error works")
conn.close()
print("ALL OK")
