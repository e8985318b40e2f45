//! Excel workbooks as tables: `read_excel` and `CREATE EXTERNAL TABLE … STORED AS EXCEL`, on
//! workbooks written here with rust_xlsxwriter (merged header cells, a Chinese sheet name,
//! mixed columns, trailing empty rows), and the errors of missing, corrupt or changed files.

use std::path::Path;

use rust_xlsxwriter::{Format, Workbook};

use super::common::{ServerProcess, path_str, psql, psql_as, run, sql_csv, temp_dir};

/// A workbook with a sheet `客户` whose header has a cell merged over two columns.
fn write_customers(path: &Path, extra_column: bool) {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("客户").unwrap();
    let bold = Format::new().set_bold();
    sheet.write_string(0, 0, "编号").unwrap();
    sheet.write_string(0, 1, "姓名").unwrap();
    sheet.merge_range(0, 2, 0, 3, "联系方式", &bold).unwrap();
    sheet.write_string(0, 4, "消费").unwrap();
    sheet.write_string(0, 5, "会员").unwrap();
    sheet.write_string(0, 6, "注册日期").unwrap();
    sheet.write_string(0, 7, "备注").unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    // id, name, phone, e-mail, spend, member, signed up
    type Row<'a> = (f64, &'a str, &'a str, &'a str, f64, bool, (u16, u8, u8));
    let rows: [Row; 3] = [
        (
            1.0,
            "宋杰洋",
            "138 1234 5678",
            "song@qq.com",
            120.5,
            true,
            (2025, 3, 1),
        ),
        (
            2.0,
            "李娜",
            "+86 139 0000 1111",
            "",
            80.0,
            false,
            (2026, 1, 15),
        ),
        (
            3.0,
            "王芳",
            "13700001111",
            "wang@163.com",
            0.0,
            true,
            (2024, 12, 31),
        ),
    ];
    for (r, (id, name, phone, email, spend, member, (y, m, d))) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_number(r, 0, *id).unwrap();
        sheet.write_string(r, 1, *name).unwrap();
        sheet.write_string(r, 2, *phone).unwrap();
        if !email.is_empty() {
            sheet.write_string(r, 3, *email).unwrap();
        }
        sheet.write_number(r, 4, *spend).unwrap();
        sheet.write_boolean(r, 5, *member).unwrap();
        let day = rust_xlsxwriter::ExcelDateTime::from_ymd(*y, *m, *d).unwrap();
        sheet.write_datetime_with_format(r, 6, &day, &date).unwrap();
    }
    // A column of mixed cells: a number, a text, a date.
    sheet.write_number(1, 7, 42.0).unwrap();
    sheet.write_string(2, 7, "VIP").unwrap();
    let day = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 5, 1).unwrap();
    sheet.write_datetime_with_format(3, 7, &day, &date).unwrap();
    // Formatted but empty trailing rows.
    sheet.write_blank(10, 0, &bold).unwrap();
    if extra_column {
        sheet.write_string(0, 8, "渠道").unwrap();
    }
    book.add_worksheet().set_name("Sheet2").unwrap();
    book.save(path).unwrap();
}

#[test]
fn read_excel_infers_types_and_names_columns_from_a_merged_header() {
    let dir = temp_dir();
    let book = dir.path().join("客户.xlsx");
    write_customers(&book, false);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let csv = sql_csv(
        &data,
        &format!(
            "SELECT arrow_typeof(编号), arrow_typeof(消费), arrow_typeof(会员), arrow_typeof(注册日期), \
             arrow_typeof(备注) FROM read_excel('{}', '客户') LIMIT 1",
            path_str(&book)
        ),
    );
    assert_eq!(
        csv.lines().nth(1),
        Some("Int64,Float64,Boolean,Date32,Utf8"),
        "{csv}"
    );
    let csv = sql_csv(
        &data,
        &format!(
            "SELECT 编号, 姓名, 联系方式, 联系方式_2, 消费, 会员, 注册日期, 备注 \
             FROM read_excel('{}', '客户') ORDER BY 编号",
            path_str(&book)
        ),
    );
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "编号,姓名,联系方式,联系方式_2,消费,会员,注册日期,备注",
            "1,宋杰洋,138 1234 5678,song@qq.com,120.5,true,2025-03-01,42",
            "2,李娜,+86 139 0000 1111,,80.0,false,2026-01-15,VIP",
            "3,王芳,13700001111,wang@163.com,0.0,true,2024-12-31,2026-05-01",
        ],
        "{csv}"
    );
    // Without a header row: column_1 … and every row, the header too, as data.
    let csv = sql_csv(
        &data,
        &format!(
            "SELECT count(*), min(column_2) FROM read_excel('{}', '客户', 'header=false')",
            path_str(&book)
        ),
    );
    assert_eq!(csv.lines().nth(1), Some("4,姓名"), "{csv}");
}

#[test]
fn excel_external_tables_snapshot_and_report_a_changed_workbook() {
    let dir = temp_dir();
    let book = dir.path().join("customers.xlsx");
    write_customers(&book, false);
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let create = format!(
        "CREATE EXTERNAL TABLE shop_customers STORED AS EXCEL LOCATION '{}' \
         OPTIONS ('sheet' '客户', 'header' 'true')",
        path_str(&book)
    );
    sql_csv(&data, &create);
    sql_csv(
        &data,
        "CREATE TABLE customers_snapshot AS SELECT * FROM shop_customers",
    );
    let csv = sql_csv(
        &data,
        "SELECT count(*), sum(消费) FROM shop_customers WHERE 会员",
    );
    assert_eq!(csv.lines().nth(1), Some("2,120.5"), "{csv}");
    // Over the wire, the workbook changes shape under a running server: the external table
    // says so (22023, naming file and sheet), the snapshot is unaffected, the server serves on.
    let server = ServerProcess::start(&data, &[]);
    let ok = psql(
        &server,
        &["-At", "-c", "SELECT count(*) FROM shop_customers"],
    );
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "3");
    write_customers(&book, true);
    let out = psql(
        &server,
        &[
            "-v",
            "VERBOSITY=verbose",
            "-c",
            "SELECT count(*) FROM shop_customers",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("22023") && stderr.contains("changed shape") && stderr.contains("客户"),
        "{stderr}"
    );
    let out = psql(
        &server,
        &["-At", "-c", "SELECT count(*) FROM customers_snapshot"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    // A new process opens the workbook as it now is.
    drop(server);
    let csv = sql_csv(
        &data,
        "SELECT count(*) FROM shop_customers WHERE 渠道 IS NULL",
    );
    assert_eq!(csv.lines().nth(1), Some("3"), "{csv}");
}

#[test]
fn missing_corrupt_and_wrong_sheet_workbooks_are_clear_errors() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let book = dir.path().join("customers.xlsx");
    write_customers(&book, false);
    let corrupt = dir.path().join("corrupt.xlsx");
    std::fs::write(&corrupt, b"PK\x03\x04 this is not a zip archive").unwrap();
    for (sql, code, words) in [
        (
            format!("SELECT * FROM read_excel('{}', 'Orders')", path_str(&book)),
            "42P01",
            "has no sheet 'Orders' (its sheets: 客户, Sheet2)",
        ),
        (
            format!("SELECT * FROM read_excel('{}')", path_str(&corrupt)),
            "22023",
            "cannot read workbook",
        ),
        (
            "SELECT * FROM read_excel('nothere.xlsx')".to_string(),
            "58P01",
            "imports/nothere.xlsx' does not exist",
        ),
        (
            format!(
                "CREATE EXTERNAL TABLE t STORED AS EXCEL LOCATION '{}' OPTIONS ('sheet' 'x')",
                path_str(&book)
            ),
            "42P01",
            "has no sheet 'x'",
        ),
        (
            format!(
                "CREATE EXTERNAL TABLE t STORED AS EXCEL LOCATION '{}' OPTIONS ('tab' 'x')",
                path_str(&book)
            ),
            "22023",
            "unknown Excel option 'tab'",
        ),
        (
            format!(
                "SELECT * FROM read_excel('{}', '客户', 'header=maybe')",
                path_str(&book)
            ),
            "22023",
            "header must be true or false",
        ),
    ] {
        let out = run(&["sql", "--data-dir", path_str(&data), "-c", &sql]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains(code) && stderr.contains(words),
            "{sql}: {stderr}"
        );
    }
    // Nothing was created by the failed statements.
    let csv = sql_csv(
        &data,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'",
    );
    assert_eq!(csv.lines().nth(1), Some("0"), "{csv}");
}

/// Over the wire, server files are an admin's, and only under the import directory: a user
/// without the admin role gets 42501 for read_excel, COPY TO a file and file-backed external
/// tables; an admin may use files under `<data dir>/imports` but not `/etc/passwd`, a `..` path
/// out of it, or a path elsewhere. (`huaxiang sql` in-process is not restricted: see above.)
#[test]
fn server_files_over_the_wire_need_an_admin_and_the_import_dir() {
    let dir = temp_dir();
    let data = dir.path().join("data");
    let imports = data.join("imports");
    std::fs::create_dir_all(&imports).unwrap();
    write_customers(&imports.join("book.xlsx"), false);
    let outside = dir.path().join("outside.xlsx");
    write_customers(&outside, false);
    std::fs::write(
        data.join("huaxiang.toml"),
        format!(
            "[users.boss]\npassword = \"{}\"\nadmin = true\n\n[users.ana]\npassword = \"{}\"\n",
            huaxiang::access::verifier::make_verifier("boss-pw"),
            huaxiang::access::verifier::make_verifier("ana-pw")
        ),
    )
    .unwrap();
    let server = ServerProcess::start(&data, &[]);
    let ask = |user: &str, sql: &str| {
        let out = psql_as(&server, user, &format!("{user}-pw"), sql);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let in_imports = |name: &str| path_str(&imports.join(name)).to_string();

    // A user without the admin role: no server files at all, but ordinary queries work.
    for sql in [
        "SELECT count(*) FROM read_excel('book.xlsx', '客户')".to_string(),
        format!("COPY (SELECT 1 AS a) TO '{}'", in_imports("ana.csv")),
        format!(
            "CREATE EXTERNAL TABLE t STORED AS EXCEL LOCATION '{}' OPTIONS ('sheet' '客户')",
            in_imports("book.xlsx")
        ),
        format!(
            "EXPLAIN COPY (SELECT 1 AS a) TO '{}'",
            in_imports("ana.csv")
        ),
    ] {
        let (ok, _, err) = ask("ana", &sql);
        assert!(
            !ok && err.contains("42501") && err.contains("admin"),
            "{sql}: {err}"
        );
    }
    assert!(!imports.join("ana.csv").exists());
    assert_eq!(ask("ana", "SELECT 1 + 1").1, "2");
    // ... and reads only: DDL, writes and model training are an admin's.
    let (ok, _, err) = ask("boss", "CREATE TABLE t1 AS SELECT 1 AS a");
    assert!(ok, "{err}");
    for sql in [
        "CREATE TABLE t2 (a INT)",
        "CREATE TABLE t2 AS SELECT 1 AS a",
        "CREATE VIEW v AS SELECT 1 AS a",
        "INSERT INTO t1 VALUES (2)",
        "DROP TABLE t1",
        "SELECT * FROM train_model('m', 'SELECT 1.0 AS x, true AS churned', 'churned')",
        "SELECT 1; DROP TABLE t1",
        "COPY t1 FROM STDIN",
    ] {
        let (ok, _, err) = ask("ana", sql);
        assert!(
            !ok && err.contains("42501") && err.contains("needs the admin role"),
            "{sql}: {err}"
        );
    }
    // Reading a table needs a grant, as in PostgreSQL.
    let (ok, _, err) = ask("ana", "SELECT count(*) FROM t1");
    assert!(
        !ok && err.contains("42501: permission denied for table t1"),
        "{err}"
    );
    let (ok, _, err) = ask("boss", "GRANT SELECT ON t1 TO ana");
    assert!(ok, "{err}");
    assert_eq!(ask("ana", "SELECT count(*) FROM t1").1, "1");
    // pg_roles lists the configured users, also for DBeaver's role query.
    assert_eq!(
        ask(
            "ana",
            "SELECT rolname, rolsuper FROM pg_catalog.pg_roles ORDER BY rolname"
        )
        .1,
        "ana|f\nboss|t"
    );
    let (ok, out, err) = ask(
        "ana",
        "SELECT a.oid, a.*, pd.description FROM pg_catalog.pg_roles a \
         LEFT JOIN pg_catalog.pg_shdescription pd ON a.oid = pd.objoid ORDER BY a.rolname",
    );
    assert!(ok && out.lines().count() == 2, "{out} {err}");
    // COPY … TO STDOUT is a query: a read-only user may.
    assert_eq!(ask("ana", "COPY (SELECT a FROM t1) TO STDOUT").1, "1");

    // An admin: files under the import directory work.
    let (ok, out, err) = ask(
        "boss",
        "SELECT count(*) FROM read_excel('book.xlsx', '客户')",
    );
    assert!(ok && out == "3", "{err}");
    let (ok, _, err) = ask(
        "boss",
        &format!("COPY (SELECT 1 AS a) TO '{}'", in_imports("out/boss.csv")),
    );
    assert!(ok, "{err}");
    assert!(imports.join("out/boss.csv").exists());
    let (ok, _, err) = ask(
        "boss",
        &format!(
            "CREATE EXTERNAL TABLE shop STORED AS EXCEL LOCATION '{}' OPTIONS ('sheet' '客户')",
            in_imports("book.xlsx")
        ),
    );
    assert!(ok, "{err}");
    assert!(ask("boss", "GRANT SELECT ON shop TO ana").0);
    assert_eq!(ask("ana", "SELECT count(*) FROM shop").1, "3");
    // A relative workbook path is taken in the import directory, as read_excel's is.
    let (ok, _, err) = ask(
        "boss",
        "CREATE EXTERNAL TABLE shop2 STORED AS EXCEL LOCATION 'book.xlsx' OPTIONS ('sheet' '客户')",
    );
    assert!(ok, "{err}");
    assert!(ask("boss", "GRANT SELECT ON shop2 TO ana").0);
    assert_eq!(ask("ana", "SELECT count(*) FROM shop2").1, "3");

    // ... and nothing outside it, however the path is written.
    for sql in [
        format!("SELECT * FROM read_excel('{}')", path_str(&outside)),
        "SELECT * FROM read_excel('../huaxiang.toml')".to_string(),
        "SELECT * FROM read_excel('/etc/passwd')".to_string(),
        format!(
            "COPY (SELECT 1 AS a) TO '{}'",
            path_str(&dir.path().join("x.csv"))
        ),
        format!("COPY (SELECT 1 AS a) TO '{}/../x.csv'", path_str(&imports)),
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'".to_string(),
        "CREATE EXTERNAL TABLE p STORED AS EXCEL LOCATION '../outside.xlsx'".to_string(),
    ] {
        let (ok, _, err) = ask("boss", &sql);
        assert!(
            !ok && err.contains("42501") && err.contains("import directory"),
            "{sql}: {err}"
        );
    }
    assert!(!dir.path().join("x.csv").exists());
    // A relative COPY target would land in the server's working directory: refused.
    let (ok, _, err) = ask("boss", "COPY (SELECT 1 AS a) TO 'rel.csv'");
    assert!(
        !ok && err.contains("22023") && err.contains("absolute"),
        "{err}"
    );

    // The extended protocol (prepared statements, as JDBC and BI tools send them) is checked
    // the same way.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let url = format!("postgresql://ana:ana-pw@127.0.0.1:{}/huaxiang", server.port);
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        let err = client
            .query("SELECT count(*) FROM read_excel('book.xlsx', '客户')", &[])
            .await
            .expect_err("read_excel must be refused");
        assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{err:?}");
        let copy = format!("COPY (SELECT 1 AS a) TO '{}'", in_imports("prep.csv"));
        let err = client
            .query(&copy, &[])
            .await
            .expect_err("COPY must be refused");
        assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{err:?}");
        let row = client
            .query_one("SELECT count(*) FROM shop", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 3);
    });
    assert!(!imports.join("prep.csv").exists());
}
