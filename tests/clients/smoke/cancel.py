"""A CancelRequest (what psql sends on Ctrl-C; psycopg2's connection.cancel()) stops a running
query within one second with 57014, for both protocols, and the connection goes on serving.

Usage: python cancel.py postgresql://huaxiang:huaxiang@127.0.0.1:5433/huaxiang
"""
import sys
import threading
import time

import psycopg2
import psycopg2.errors

SLOW = (
    "SELECT count(*) FROM orders a JOIN orders b ON a.customer_id = b.customer_id "
    "JOIN orders c ON b.customer_id = c.customer_id"
)


def cancelled_within_a_second(conn, sql, params):
    sent = {}

    def cancel_soon():
        time.sleep(0.5)
        sent["at"] = time.monotonic()
        conn.cancel()

    threading.Thread(target=cancel_soon).start()
    cur = conn.cursor()
    try:
        cur.execute(sql, params)
    except psycopg2.errors.QueryCanceled as e:
        waited = time.monotonic() - sent["at"]
        print(f"cancelled after {waited:.3f}s: {e.pgcode} {str(e).strip()}")
        if waited > 1.0:
            raise AssertionError(f"the cancel took {waited:.3f}s")
        return
    raise AssertionError(f"the query was not cancelled: {cur.fetchall()}")


conn = psycopg2.connect(sys.argv[1])
conn.autocommit = True
# Simple protocol (no parameters).
cancelled_within_a_second(conn, SLOW, None)
# psycopg2 sends parameters inline; a server-side prepared statement comes from PREPARE.
cancelled_within_a_second(conn, SLOW + " WHERE a.amount > %s", (0,))
cur = conn.cursor()
cur.execute("SELECT 41 + 1")
value = cur.fetchone()[0]
if value != 42:
    raise AssertionError(value)
print("ALL OK")
