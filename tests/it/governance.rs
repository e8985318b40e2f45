//! Roles, grants and column masking over the wire: who may read a table or view (42501 without
//! a grant), what masked columns show to whom, that both survive a restart, and the errors of
//! wrong statements.

use std::path::Path;

use crate::common::{ServerProcess, psql_as, temp_dir};

fn write_config(data: &Path) {
    std::fs::create_dir_all(data).unwrap();
    let verifier = |pw: &str| huaxiang::access::verifier::make_verifier(pw);
    std::fs::write(
        data.join("huaxiang.toml"),
        format!(
            "[users.boss]\npassword = \"{}\"\nadmin = true\n\n\
             [users.ana]\npassword = \"{}\"\nroles = [\"analyst\"]\n\n\
             [users.sam]\npassword = \"{}\"\nroles = [\"support\"]\n",
            verifier("boss-pw"),
            verifier("ana-pw"),
            verifier("sam-pw"),
        ),
    )
    .unwrap();
}

/// (succeeded, rows, stderr) of one psql call as `user` (password `<user>-pw`).
fn ask(server: &ServerProcess, user: &str, sql: &str) -> (bool, String, String) {
    let out = psql_as(server, user, &format!("{user}-pw"), sql);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(server: &ServerProcess, user: &str, sql: &str) -> String {
    let (ok, rows, err) = ask(server, user, sql);
    assert!(ok, "{user}: {sql}: {err}");
    rows
}

fn refused(server: &ServerProcess, user: &str, sql: &str, sqlstate: &str) -> String {
    let (ok, rows, err) = ask(server, user, sql);
    assert!(
        !ok && err.contains(&format!("ERROR:  {sqlstate}:")),
        "{user}: {sql}: expected {sqlstate}, got rows {rows:?} and {err}"
    );
    err
}

#[test]
fn grants_decide_who_reads_and_masks_what_they_see() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    write_config(&data);
    let mut server = ServerProcess::start(&data, &[]);
    ok(
        &server,
        "boss",
        "CREATE TABLE customers AS SELECT * FROM (VALUES \
           (1, '+86 138-1234-5678', 'dawei.song@gmail.com', '宋杰洋', 42), \
           (2, NULL, 'li@qq.com', '王五', 7)) AS t(id, phone, email, name, age); \
         CREATE VIEW contacts AS SELECT id, phone, email FROM customers;",
    );

    // No grant: every way of reading the table is refused, and nothing is shown.
    for sql in [
        "SELECT * FROM customers",
        "SELECT count(*) FROM public.customers",
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM huaxiang.public.customers)",
        "WITH c AS (SELECT * FROM customers) SELECT count(*) FROM c",
        "EXPLAIN SELECT * FROM customers",
        "SELECT * FROM contacts",
        "COPY customers TO STDOUT",
        "COPY (SELECT phone FROM customers) TO STDOUT",
        "SELECT * FROM profile('customers')",
        "SELECT * FROM profile('SELECT phone FROM \"customers\"')",
        "SELECT * FROM profile('SELECT * FROM profile(''customers'')')",
    ] {
        let err = refused(&server, "ana", sql, "42501");
        assert!(err.contains("permission denied for table"), "{sql}: {err}");
    }
    // Only admins grant; grants name known roles and what can be granted.
    refused(
        &server,
        "ana",
        "GRANT SELECT ON customers TO analyst",
        "42501",
    );
    refused(
        &server,
        "ana",
        "ALTER TABLE customers ALTER COLUMN phone DROP MASKED",
        "42501",
    );
    refused(
        &server,
        "boss",
        "GRANT SELECT ON customers TO nobody",
        "42704",
    );
    refused(
        &server,
        "boss",
        "GRANT SELECT ON missing TO analyst",
        "42P01",
    );
    refused(
        &server,
        "boss",
        "GRANT INSERT ON customers TO analyst",
        "0A000",
    );
    refused(&server, "boss", "GRANT analyst TO sam", "0A000");
    refused(&server, "boss", "GRANT SELECT ON customers", "42601");

    // A grant to a role reaches its members; a view is checked as itself (as in PostgreSQL).
    ok(&server, "boss", "GRANT SELECT ON customers TO analyst");
    assert_eq!(ok(&server, "ana", "SELECT count(*) FROM customers"), "2");
    refused(&server, "sam", "SELECT count(*) FROM customers", "42501");
    ok(&server, "boss", "GRANT SELECT ON TABLE contacts TO support");
    assert_eq!(ok(&server, "sam", "SELECT count(*) FROM contacts"), "2");
    refused(
        &server,
        "sam",
        "SELECT * FROM profile('customers')",
        "42501",
    );

    // Masks: what users without UNMASK see, wherever the column goes.
    ok(
        &server,
        "boss",
        "ALTER TABLE customers ALTER COLUMN phone ADD MASKED WITH (FUNCTION = 'mask_phone()'); \
         ALTER TABLE customers ALTER COLUMN email ADD MASKED WITH (FUNCTION = 'mask_email()'); \
         ALTER TABLE customers ALTER name ADD MASKED WITH (FUNCTION = 'mask_partial(1, \"**\", 0)')",
    );
    let masked = "1|138****5678|da******@gmail.com|宋**|42\n2||l******@qq.com|王**|7";
    let real = "1|+86 138-1234-5678|dawei.song@gmail.com|宋杰洋|42\n2||li@qq.com|王五|7";
    let all = "SELECT id, phone, email, name, age FROM customers ORDER BY id";
    assert_eq!(ok(&server, "ana", all), masked);
    assert_eq!(ok(&server, "boss", all), real);
    assert_eq!(
        ok(
            &server,
            "sam",
            "SELECT id, phone, email FROM contacts ORDER BY id"
        ),
        "1|138****5678|da******@gmail.com\n2||l******@qq.com"
    );
    assert_eq!(
        ok(
            &server,
            "ana",
            "COPY (SELECT c.phone FROM customers c WHERE c.id = 1) TO STDOUT"
        ),
        "138****5678"
    );
    // Filters see the masked value too, so a guess cannot be confirmed.
    assert_eq!(
        ok(
            &server,
            "ana",
            "SELECT count(*) FROM customers WHERE phone = '+86 138-1234-5678'"
        ),
        "0"
    );
    assert_eq!(
        ok(
            &server,
            "ana",
            "SELECT (SELECT max(email) FROM customers WHERE id = 2)"
        ),
        "l******@qq.com"
    );
    // UNMASK for a role shows the real values, through the view as well.
    ok(&server, "boss", "GRANT UNMASK ON customers TO support");
    assert_eq!(
        ok(&server, "sam", "SELECT phone FROM contacts WHERE id = 1"),
        "+86 138-1234-5678"
    );
    assert_eq!(
        ok(&server, "ana", "SELECT phone FROM customers WHERE id = 1"),
        "138****5678"
    );

    // Wrong masking statements.
    refused(
        &server,
        "boss",
        "ALTER TABLE customers ALTER COLUMN age ADD MASKED WITH (FUNCTION = 'mask_phone()')",
        "42804",
    );
    refused(
        &server,
        "boss",
        "ALTER TABLE customers ALTER COLUMN nope ADD MASKED WITH (FUNCTION = 'mask_phone()')",
        "42703",
    );
    refused(
        &server,
        "boss",
        "ALTER TABLE nope ALTER COLUMN phone ADD MASKED WITH (FUNCTION = 'mask_phone()')",
        "42P01",
    );
    refused(
        &server,
        "boss",
        "ALTER TABLE customers ALTER COLUMN phone ADD MASKED WITH (FUNCTION = 'md5()')",
        "22023",
    );
    refused(
        &server,
        "boss",
        "ALTER TABLE customers ALTER COLUMN age DROP MASKED",
        "42704",
    );

    refused(
        &server,
        "boss",
        "ALTER TABLE contacts ALTER COLUMN phone ADD MASKED WITH (FUNCTION = 'mask_phone()')",
        "42809",
    );

    // Grants and masks are durable.
    drop(server);
    server = ServerProcess::start(&data, &[]);
    assert!(server.is_running());
    assert_eq!(ok(&server, "ana", all), masked);
    assert_eq!(
        ok(&server, "sam", "SELECT phone FROM contacts WHERE id = 1"),
        "+86 138-1234-5678"
    );

    // The extended protocol (prepared statements, binary results) sees the same.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let connect = |user: &'static str| {
            let url = format!(
                "postgresql://{user}:{user}-pw@127.0.0.1:{}/huaxiang",
                server.port
            );
            async move {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(connection);
                client
            }
        };
        let ana = connect("ana").await;
        let row = ana
            .query_one("SELECT phone FROM customers WHERE id = $1", &[&1i64])
            .await
            .unwrap();
        assert_eq!(row.get::<_, String>(0), "138****5678");
        let e = ana
            .execute("REVOKE SELECT ON customers FROM analyst", &[])
            .await
            .unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("42501"));
        let boss = connect("boss").await;
        let statement = boss
            .prepare("REVOKE SELECT ON customers FROM analyst")
            .await
            .unwrap();
        boss.execute(&statement, &[]).await.unwrap();
        let e = ana
            .query("SELECT phone FROM customers", &[])
            .await
            .unwrap_err();
        assert_eq!(e.code().map(|c| c.code()), Some("42501"));
    });

    // PUBLIC reaches everyone; DROP forgets a relation's grants and masks.
    ok(
        &server,
        "boss",
        "GRANT SELECT ON ALL TABLES IN SCHEMA public TO PUBLIC",
    );
    assert_eq!(ok(&server, "ana", "SELECT count(*) FROM customers"), "2");
    ok(
        &server,
        "boss",
        "DROP VIEW contacts; DROP TABLE customers; \
         CREATE TABLE customers AS SELECT '+86 138-1234-5678' AS phone",
    );
    refused(&server, "ana", "SELECT * FROM customers", "42501");
    ok(&server, "boss", "GRANT SELECT ON customers TO PUBLIC");
    assert_eq!(
        ok(&server, "ana", "SELECT phone FROM customers"),
        "+86 138-1234-5678"
    );
}

/// Relations belong to the user who created them — `pg_class.relowner`, `pg_tables.tableowner`,
/// `pg_get_userbyid`, psql's `\dt` Owner — kept across a restart; CREATE OR REPLACE keeps the
/// owner; `pg_catalog`'s tables and oid 10 are the data dir's administrator's (the first admin
/// by name), as PostgreSQL's bootstrap superuser.
#[test]
fn relations_belong_to_the_user_who_created_them() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let verifier = |pw: &str| huaxiang::access::verifier::make_verifier(pw);
    std::fs::write(
        data.join("huaxiang.toml"),
        format!(
            "[users.zoe]\npassword = \"{}\"\nadmin = true\n\n\
             [users.boss]\npassword = \"{}\"\nadmin = true\n\n\
             [users.ana]\npassword = \"{}\"\n",
            verifier("zoe-pw"),
            verifier("boss-pw"),
            verifier("ana-pw"),
        ),
    )
    .unwrap();
    let mut server = ServerProcess::start(&data, &[]);
    ok(&server, "zoe", "CREATE TABLE t_zoe AS SELECT 1 AS x");
    ok(&server, "zoe", "CREATE VIEW v_zoe AS SELECT x FROM t_zoe");
    ok(&server, "boss", "CREATE TABLE t_boss (x int)");
    ok(
        &server,
        "boss",
        "CREATE OR REPLACE VIEW v_zoe AS SELECT x + 1 AS x FROM t_zoe",
    );
    let owners = |server: &ServerProcess| {
        ok(
            server,
            "ana",
            "SELECT c.relname, pg_get_userbyid(c.relowner), r.rolname \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_roles r ON r.oid = c.relowner \
             WHERE c.relname IN ('t_boss', 't_zoe', 'v_zoe', 'pg_class') ORDER BY 1",
        )
    };
    let expected = "pg_class|boss|boss\nt_boss|boss|boss\nt_zoe|zoe|zoe\nv_zoe|zoe|zoe";
    assert_eq!(owners(&server), expected);
    assert_eq!(
        ok(
            &server,
            "ana",
            "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        ),
        "t_boss|boss\nt_zoe|zoe"
    );
    assert_eq!(
        ok(
            &server,
            "ana",
            "SELECT pg_get_userbyid(10), pg_get_userbyid(12345), pg_get_userbyid(NULL) IS NULL",
        ),
        "boss|unknown (OID=12345)|t"
    );
    // psql's \dt: Schema | Name | Type | Owner.
    let dt = ok(&server, "ana", "\\dt");
    assert!(
        dt.lines().any(|l| l == "public|t_zoe|table|zoe"),
        "\\dt:\n{dt}"
    );

    drop(server);
    server = ServerProcess::start(&data, &[]);
    assert_eq!(owners(&server), expected);
    // A dropped relation's owner goes with it.
    ok(&server, "boss", "DROP TABLE t_boss");
    ok(&server, "zoe", "CREATE TABLE t_boss (y int)");
    assert_eq!(
        ok(
            &server,
            "ana",
            "SELECT tableowner FROM pg_tables WHERE tablename = 't_boss'",
        ),
        "zoe"
    );
}
