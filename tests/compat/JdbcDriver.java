// The pgjdbc driver of the compatibility suite (the Debian jar, /usr/share/java/postgresql.jar).
//
// Usage: java -cp postgresql.jar JdbcDriver.java JDBC_URL USER PASSWORD CASES_TSV
//
// CASES_TSV is the case list as tests/it/compat.rs writes it for Java (which has no JSON or
// YAML parser of its own): one case per line, tab-separated: name, base64 SQL, base64 steps
// (joined by U+001E), parameters (comma-separated i:<int>, f:<float>, b:<bool>, n, s:<base64>).
// Every case runs as a PreparedStatement six times — past pgjdbc's prepareThreshold (5), so
// the last runs use a named server statement and binary transfer — and must answer alike each
// time. Prints JSON lines like tests/compat/py_driver.py, then the DatabaseMetaData and
// setFetchSize checks.
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.*;
import java.util.*;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

public class JdbcDriver {
    static String json(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c)); else b.append(c);
            }
        }
        return b.append('"').toString();
    }

    static String decode(String base64) {
        return new String(Base64.getDecoder().decode(base64), StandardCharsets.UTF_8);
    }

    /** One case's answer as a JSON line (without the case name). */
    static String answer(PreparedStatement st, List<String> params, List<Integer> order) throws SQLException {
        for (int i = 0; i < order.size(); i++) {
            String p = params.get(order.get(i));
            int at = i + 1;
            if (p.equals("n")) st.setNull(at, Types.VARCHAR);
            else if (p.startsWith("i:")) st.setLong(at, Long.parseLong(p.substring(2)));
            else if (p.startsWith("f:")) st.setDouble(at, Double.parseDouble(p.substring(2)));
            else if (p.startsWith("b:")) st.setBoolean(at, Boolean.parseBoolean(p.substring(2)));
            else st.setString(at, decode(p.substring(2)));
        }
        try (ResultSet rs = st.executeQuery()) {
            ResultSetMetaData md = rs.getMetaData();
            StringBuilder cols = new StringBuilder("[");
            for (int c = 1; c <= md.getColumnCount(); c++) {
                if (c > 1) cols.append(',');
                cols.append('[').append(json(md.getColumnLabel(c))).append(',')
                    .append(json(md.getColumnTypeName(c))).append(']');
            }
            StringBuilder rows = new StringBuilder("[");
            boolean firstRow = true;
            while (rs.next()) {
                if (!firstRow) rows.append(',');
                firstRow = false;
                rows.append('[');
                for (int c = 1; c <= md.getColumnCount(); c++) {
                    if (c > 1) rows.append(',');
                    String value;
                    String type = md.getColumnTypeName(c);
                    if (type.equals("bool")) {
                        boolean v = rs.getBoolean(c);
                        value = rs.wasNull() ? null : (v ? "t" : "f");
                    } else if (type.equals("float8") || type.equals("float4")) {
                        // Text and binary transfer print doubles differently; the harness
                        // compares floating-point values as numbers.
                        double v = rs.getDouble(c);
                        value = rs.wasNull() ? null : Double.toString(v);
                    } else {
                        value = rs.getString(c);
                    }
                    rows.append(json(value));
                }
                rows.append(']');
            }
            return "\"columns\":" + cols + "],\"rows\":" + rows + "],\"error\":null";
        }
    }

    interface SqlCheck {
        void run() throws SQLException;
    }

    /** Runs one check; an exception fails that check alone. */
    static void metaCheck(String name, SqlCheck body) {
        try {
            body.run();
        } catch (SQLException e) {
            check(name, false, e.getSQLState() + ": " + e.getMessage());
        }
    }

    static void check(String name, boolean ok, String detail) {
        System.out.println("{\"check\":" + json(name) + ",\"ok\":" + ok + ",\"detail\":" + json(detail) + "}");
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        props.setProperty("sslmode", "disable");
        Pattern placeholder = Pattern.compile("\\$(\\d+)");
        try (Connection conn = DriverManager.getConnection(args[0], props)) {
            for (String line : Files.readAllLines(Path.of(args[3]), StandardCharsets.UTF_8)) {
                if (line.isEmpty()) continue;
                String[] f = line.split("\t", -1);
                String name = f[0];
                String sql = decode(f[1]);
                List<String> steps = f[2].isEmpty() ? List.of() : Arrays.asList(decode(f[2]).split("\u001e"));
                List<String> params = f[3].isEmpty() ? List.of() : Arrays.asList(f[3].split(","));
                List<Integer> order = new ArrayList<>();
                Matcher m = placeholder.matcher(sql);
                StringBuilder jdbcSql = new StringBuilder();
                while (m.find()) {
                    order.add(Integer.parseInt(m.group(1)) - 1);
                    m.appendReplacement(jdbcSql, "?");
                }
                m.appendTail(jdbcSql);
                try (Statement plain = conn.createStatement()) {
                    for (String step : steps) {
                        try { plain.execute(step); } catch (SQLException e) { /* part of the case */ }
                    }
                }
                String out;
                try (PreparedStatement st = conn.prepareStatement(jdbcSql.toString())) {
                    String first = answer(st, params, order);
                    out = first;
                    for (int run = 2; run <= 6 && steps.isEmpty(); run++) {
                        String again = answer(st, params, order);
                        if (!again.equals(first)) {
                            out = "\"columns\":null,\"rows\":null,\"error\":" + json(
                                "client: run " + run + " answered " + again + " after " + first);
                            break;
                        }
                    }
                } catch (SQLException e) {
                    out = "\"columns\":null,\"rows\":null,\"error\":" + json(e.getSQLState());
                }
                System.out.println("{\"case\":" + json(name) + "," + out + "}");
                if (!steps.isEmpty()) {
                    try (Statement plain = conn.createStatement()) {
                        plain.execute("ROLLBACK");
                    } catch (SQLException e) { /* nothing open */ }
                }
            }

            DatabaseMetaData meta = conn.getMetaData();
            metaCheck("jdbc_get_schemas", () -> {
                List<String> schemas = new ArrayList<>();
                try (ResultSet rs = meta.getSchemas()) {
                    while (rs.next()) schemas.add(rs.getString("TABLE_SCHEM"));
                }
                check("jdbc_get_schemas", schemas.contains("public"), schemas.toString());
            });
            metaCheck("jdbc_get_tables", () -> {
                List<String> tables = new ArrayList<>();
                try (ResultSet rs = meta.getTables(null, "public", "compat%", new String[] {"TABLE"})) {
                    while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
                }
                check("jdbc_get_tables", tables.equals(List.of("compat_people")), tables.toString());
            });
            metaCheck("jdbc_get_columns", () -> {
                List<String> columns = new ArrayList<>();
                try (ResultSet rs = meta.getColumns(null, "public", "compat_people", "%")) {
                    while (rs.next()) columns.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                }
                check("jdbc_get_columns",
                      columns.equals(List.of("id:int8", "name:text", "score:float8", "joined:date", "active:bool")),
                      columns.toString());
            });
            metaCheck("jdbc_get_primary_keys", () -> {
                int keys = 0;
                try (ResultSet rs = meta.getPrimaryKeys(null, "public", "compat_people")) {
                    while (rs.next()) keys++;
                }
                check("jdbc_get_primary_keys", keys == 0, "no primary key declared, " + keys + " listed");
            });
            metaCheck("jdbc_get_type_info", () -> {
                Set<String> types = new HashSet<>();
                try (ResultSet rs = meta.getTypeInfo()) {
                    while (rs.next()) types.add(rs.getString("TYPE_NAME"));
                }
                check("jdbc_get_type_info",
                      types.containsAll(List.of("int8", "text", "float8", "bool", "date", "numeric")),
                      types.size() + " types");
            });

            // setFetchSize inside a transaction: pgjdbc reads through a portal, 3 rows at a time.
            metaCheck("jdbc_fetch_size_in_transaction", () -> {
                conn.setAutoCommit(false);
                long count = 0, sum = 0;
                try (Statement st = conn.createStatement()) {
                    st.setFetchSize(3);
                    try (ResultSet rs = st.executeQuery("SELECT g FROM generate_series(1, 10) AS t(g)")) {
                        while (rs.next()) { count++; sum += rs.getLong(1); }
                    }
                }
                conn.commit();
                check("jdbc_fetch_size_in_transaction", count == 10 && sum == 55, count + " rows, sum " + sum);
            });
        }
    }
}
