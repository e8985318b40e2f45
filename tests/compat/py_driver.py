"""The Python drivers of the compatibility suite: psycopg2, psycopg 3 (text and binary), asyncpg.

Usage: python py_driver.py DRIVER HOST PORT USER PASSWORD DBNAME CASES_JSON

Runs every case of CASES_JSON (tests/compat/cases.yaml as JSON) on one connection and prints
one JSON line per case: {"case", "columns": [[name, type]], "rows": [[text|null]], "error"}.
Values are written in PostgreSQL's text form, whatever the driver decoded them to. Then prints
one line per driver-specific check ({"check", "ok", "detail"}): server-side cursors, binary
parameters, pool reset, portal row limits. The harness (tests/it/compat.rs) compares.
"""
import asyncio
import datetime
import json
import math
import re
import sys
from decimal import Decimal

# PostgreSQL's type oids → names (pg_type.typname) for the types a case can produce.
TYPE_NAMES = {
    16: "bool", 17: "bytea", 18: "char", 19: "name", 20: "int8", 21: "int2", 23: "int4",
    25: "text", 26: "oid", 114: "json", 700: "float4", 701: "float8", 705: "unknown",
    1000: "_bool", 1007: "_int4", 1009: "_text", 1016: "_int8", 1022: "_float8",
    1042: "bpchar", 1043: "varchar", 1082: "date", 1083: "time", 1114: "timestamp",
    1184: "timestamptz", 1186: "interval", 1700: "numeric", 2950: "uuid", 3802: "jsonb",
}


def type_name(oid):
    return TYPE_NAMES.get(oid, str(oid))


def pg_text(value):
    """A decoded value back in PostgreSQL's text output form."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
        if value.microsecond:
            text += (".%06d" % value.microsecond).rstrip("0")
        if value.tzinfo is not None:
            minutes = int(value.utcoffset().total_seconds() // 60)
            sign = "+" if minutes >= 0 else "-"
            text += "%s%02d" % (sign, abs(minutes) // 60)
            if abs(minutes) % 60:
                text += ":%02d" % (abs(minutes) % 60)
        return text
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return "{" + ",".join("NULL" if v is None else pg_text(v) for v in value) + "}"
    return str(value)


def percent_style(sql, params):
    """`$n` placeholders → `%s` with the parameters repeated in order, `%` escaped."""
    if not params:
        return sql, None
    order = []

    def swap(match):
        order.append(int(match.group(1)) - 1)
        return "%s"

    rewritten = re.sub(r"\$(\d+)", swap, sql.replace("%", "%%"))
    return rewritten, [params[i] for i in order]


def result(case, columns=None, rows=None, error=None):
    return {"case": case, "columns": columns, "rows": rows, "error": error}


def emit(record):
    print(json.dumps(record, ensure_ascii=False), flush=True)


def check(name, ok, detail=""):
    emit({"check": name, "ok": bool(ok), "detail": str(detail)})


# --- psycopg2 ------------------------------------------------------------------------------------

def run_psycopg2(dsn, cases):
    import psycopg2

    conn = psycopg2.connect(**dsn)
    conn.autocommit = True
    for case in cases:
        cur = conn.cursor()
        for step in case.get("steps", []):
            try:
                cur.execute(step)
            except psycopg2.Error:
                pass
        sql, params = percent_style(case["sql"], case.get("params"))
        try:
            cur.execute(sql, params)
            columns = [[d.name, type_name(d.type_code)] for d in cur.description]
            rows = [[pg_text(v) for v in row] for row in cur.fetchall()]
            emit(result(case["name"], columns, rows))
        except psycopg2.Error as e:
            emit(result(case["name"], error=e.pgcode))
        if case.get("steps"):
            try:
                cur.execute("ROLLBACK")
            except psycopg2.Error:
                pass

    # A named (server-side) cursor: DECLARE … CURSOR, FETCH FORWARD n, CLOSE.
    conn.autocommit = False
    try:
        with conn.cursor(name="hx_people") as cur:
            cur.itersize = 2
            cur.execute("SELECT id FROM compat_people ORDER BY id")
            first = cur.fetchmany(2)
            rest = cur.fetchall()
        conn.commit()
        check("psycopg2_named_cursor", first == [(1,), (2,)] and rest == [(3,), (4,)],
              f"{first} then {rest}")
    except psycopg2.Error as e:
        conn.rollback()
        check("psycopg2_named_cursor", False, f"{e.pgcode}: {e}")
    conn.close()


# --- psycopg 3 -----------------------------------------------------------------------------------

def run_psycopg3(dsn, cases, binary):
    import psycopg

    conn = psycopg.connect(**dsn, autocommit=True)
    for case in cases:
        cur = conn.cursor(binary=binary)
        for step in case.get("steps", []):
            try:
                cur.execute(step)
            except psycopg.Error:
                pass
        sql, params = percent_style(case["sql"], case.get("params"))
        try:
            # binary=True sends parameters and asks for results in binary format.
            cur.execute(sql, params, binary=binary)
            columns = [[d.name, type_name(d.type_code)] for d in cur.description]
            rows = [[pg_text(v) for v in row] for row in cur.fetchall()]
            emit(result(case["name"], columns, rows))
        except psycopg.Error as e:
            emit(result(case["name"], error=e.sqlstate))
        if case.get("steps"):
            try:
                cur.execute("ROLLBACK")
            except psycopg.Error:
                pass

    if binary:
        # Typed binary parameters of several types in one statement.
        try:
            row = conn.execute(
                "SELECT %b::bigint + 1, %b::float8 / 2, %b::text || '!', NOT %b::boolean",
                [41, 5.0, "画像", False], binary=True).fetchone()
            check("psycopg3_binary_parameters", row == (42, 2.5, "画像!", True), row)
        except psycopg.Error as e:
            check("psycopg3_binary_parameters", False, f"{e.sqlstate}: {e}")
    else:
        # A server-side cursor (DECLARE / FETCH FORWARD / CLOSE) inside a transaction.
        try:
            with conn.transaction():
                with conn.cursor(name="hx_people") as cur:
                    cur.itersize = 2
                    cur.execute("SELECT id, name FROM compat_people ORDER BY id")
                    first = cur.fetchmany(2)
                    rest = cur.fetchall()
            check("psycopg3_server_side_cursor",
                  first == [(1, "Ann"), (2, "李雷")] and [r[0] for r in rest] == [3, 4],
                  f"{first} then {rest}")
        except psycopg.Error as e:
            check("psycopg3_server_side_cursor", False, f"{e.sqlstate}: {e}")
    conn.close()


# --- asyncpg -------------------------------------------------------------------------------------

async def run_asyncpg(dsn, cases):
    import asyncpg

    conn = await asyncpg.connect(host=dsn["host"], port=dsn["port"], user=dsn["user"],
                                 password=dsn["password"], database=dsn["dbname"], ssl=False)
    for case in cases:
        for step in case.get("steps", []):
            try:
                await conn.execute(step)
            except asyncpg.PostgresError:
                pass
        try:
            # Always the extended protocol, results in binary.
            statement = await conn.prepare(case["sql"])
            columns = [[a.name, type_name(a.type.oid)] for a in statement.get_attributes()]
            rows = [[pg_text(v) for v in row] for row in await statement.fetch(*case.get("params", []))]
            emit(result(case["name"], columns, rows))
        except asyncpg.PostgresError as e:
            emit(result(case["name"], error=e.sqlstate))
        except (asyncpg.InterfaceError, asyncpg.exceptions.DataError) as e:
            emit(result(case["name"], error="client: " + str(e)))
        if case.get("steps"):
            try:
                await conn.execute("ROLLBACK")
            except asyncpg.PostgresError:
                pass

    # A cursor: Execute with a row limit, PortalSuspended, Execute again.
    try:
        async with conn.transaction():
            cursor = await conn.cursor("SELECT g FROM generate_series(1, 10) AS t(g)")
            first = await cursor.fetch(3)
            rest = await cursor.fetch(100)
        got = [r[0] for r in first + rest]
        check("asyncpg_cursor", got == list(range(1, 11)) and len(first) == 3, got)
    except asyncpg.PostgresError as e:
        check("asyncpg_cursor", False, f"{e.sqlstate}: {e}")
    await conn.close()

    # A pool resets a released connection (RESET ALL, CLOSE ALL, UNLISTEN *, advisory unlock).
    try:
        pool = await asyncpg.create_pool(host=dsn["host"], port=dsn["port"], user=dsn["user"],
                                         password=dsn["password"], database=dsn["dbname"],
                                         ssl=False, min_size=1, max_size=1)
        async with pool.acquire() as c:
            await c.execute("SET statement_timeout = '7s'")
            during = await c.fetchval("SHOW statement_timeout")
        async with pool.acquire() as c:
            after = await c.fetchval("SHOW statement_timeout")
        await pool.close()
        check("asyncpg_pool_reset", during == "7s" and after == "0", f"{during} then {after}")
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        check("asyncpg_pool_reset", False, f"{type(e).__name__}: {e}")


def main():
    driver, host, port, user, password, dbname, cases_path = sys.argv[1:8]
    dsn = {"host": host, "port": int(port), "user": user, "password": password, "dbname": dbname,
           "sslmode": "disable"}
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    if driver == "psycopg2":
        run_psycopg2(dsn, cases)
    elif driver == "psycopg3":
        run_psycopg3(dsn, cases, binary=False)
    elif driver == "psycopg3-binary":
        run_psycopg3(dsn, cases, binary=True)
    elif driver == "asyncpg":
        asyncio.run(run_asyncpg(dsn, cases))
    else:
        sys.exit(f"unknown driver {driver}")


if __name__ == "__main__":
    main()
