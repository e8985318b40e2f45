// The node-postgres driver of the compatibility suite (`pg` and `pg-cursor`, pinned in
// package.json).
//
// Usage: node node_driver.js HOST PORT USER PASSWORD DBNAME CASES_JSON
//
// Prints one JSON line per case ({case, columns, rows, error}) and per driver-specific check
// ({check, ok, detail}), as tests/compat/py_driver.py does. Values are kept in the text form the
// server sent (every type parser is the identity), so they are PostgreSQL's text output.
'use strict';

const fs = require('fs');
const { Client } = require('pg');
const Cursor = require('pg-cursor');

const TYPE_NAMES = {
  16: 'bool', 17: 'bytea', 18: 'char', 19: 'name', 20: 'int8', 21: 'int2', 23: 'int4',
  25: 'text', 26: 'oid', 114: 'json', 700: 'float4', 701: 'float8', 705: 'unknown',
  1000: '_bool', 1007: '_int4', 1009: '_text', 1016: '_int8', 1022: '_float8',
  1042: 'bpchar', 1043: 'varchar', 1082: 'date', 1083: 'time', 1114: 'timestamp',
  1184: 'timestamptz', 1186: 'interval', 1700: 'numeric', 2950: 'uuid', 3802: 'jsonb',
};
const typeName = (oid) => TYPE_NAMES[oid] || String(oid);
const rawText = { getTypeParser: () => (value) => value };

function emit(record) {
  process.stdout.write(JSON.stringify(record) + '\n');
}

async function main() {
  const [host, port, user, password, database, casesPath] = process.argv.slice(2);
  const { cases } = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
  const client = new Client({ host, port: Number(port), user, password, database, ssl: false });
  await client.connect();

  for (const c of cases) {
    for (const step of c.steps || []) {
      try { await client.query(step); } catch (e) { /* a step's error is part of the case */ }
    }
    try {
      // With values node-postgres uses the extended protocol (NULL parameters included);
      // without, the simple one.
      const query = { text: c.sql, types: rawText, rowMode: 'array' };
      if (c.params && c.params.length) query.values = c.params;
      const res = await client.query(query);
      emit({
        case: c.name,
        columns: res.fields.map((f) => [f.name, typeName(f.dataTypeID)]),
        rows: res.rows,
        error: null,
      });
    } catch (e) {
      emit({ case: c.name, columns: null, rows: null, error: e.code || 'client: ' + e.message });
    }
    if (c.steps && c.steps.length) {
      try { await client.query('ROLLBACK'); } catch (e) { /* nothing open */ }
    }
  }

  // pg-cursor: Execute with a row limit (PortalSuspended) inside a transaction.
  try {
    await client.query('BEGIN');
    const cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 10) AS t(g) WHERE g > $1', [0]));
    const first = await cursor.read(4);
    const rest = await cursor.read(100);
    await cursor.close();
    await client.query('COMMIT');
    const got = first.concat(rest).map((r) => Number(r.g));
    emit({
      check: 'pg_cursor_reads_in_batches',
      ok: first.length === 4 && JSON.stringify(got) === JSON.stringify([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
      detail: JSON.stringify(got),
    });
  } catch (e) {
    emit({ check: 'pg_cursor_reads_in_batches', ok: false, detail: `${e.code}: ${e.message}` });
  }
  await client.end();
}

main().catch((e) => {
  process.stderr.write(String(e.stack || e) + '\n');
  process.exit(1);
});
