// pgjdbc against huaxiang: what DBeaver and Metabase do first. Run with
//   java -cp /usr/share/java/postgresql.jar JdbcSmoke.java jdbc:postgresql://127.0.0.1:5433/huaxiang
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcSmoke {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("ok: " + what);
    }

    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", "huaxiang");
        props.setProperty("password", "huaxiang");
        try (Connection conn = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData meta = conn.getMetaData();
            check(meta.getDatabaseProductName().equals("PostgreSQL"), "product name PostgreSQL");

            Set<String> tables = new TreeSet<>();
            try (ResultSet rs = meta.getTables(null, "public", "%", new String[] {"TABLE"})) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
            }
            check(tables.containsAll(List.of("customers", "orders", "order_items", "reviews", "crm_contacts")),
                  "getTables lists the demo tables " + tables);

            // A PreparedStatement with parameters, run past pgjdbc's prepareThreshold (5), so
            // the driver switches to a named server-side statement.
            String sql = "SELECT customer_id, count(*) AS orders, sum(amount) AS total "
                       + "FROM orders WHERE customer_id = ? AND amount > ? GROUP BY customer_id";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int i = 0; i < 8; i++) {
                    long id = 100001 + i;
                    ps.setLong(1, id);
                    ps.setBigDecimal(2, new BigDecimal("0.00"));
                    long expected;
                    try (Statement st = conn.createStatement();
                         ResultSet rs = st.executeQuery("SELECT count(*) FROM orders WHERE customer_id = " + id + " AND amount > 0")) {
                        rs.next();
                        expected = rs.getLong(1);
                    }
                    try (ResultSet rs = ps.executeQuery()) {
                        if (expected == 0) {
                            check(!rs.next(), "no row for customer " + id);
                        } else {
                            check(rs.next(), "a row for customer " + id);
                            check(rs.getLong("customer_id") == id, "customer id " + id);
                            check(rs.getLong("orders") == expected, "order count " + expected);
                            check(rs.getBigDecimal("total").signum() > 0, "positive total");
                        }
                    }
                }
            }

            // A text parameter with Chinese characters.
            try (PreparedStatement ps = conn.prepareStatement("SELECT count(*) FROM customers WHERE city = ?")) {
                ps.setString(1, "上海");
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    check(rs.getLong(1) > 0, "customers in 上海");
                }
            }

            // A wrong query gets an error with a SQLSTATE, and the connection goes on working.
            try (Statement st = conn.createStatement()) {
                st.executeQuery("SELECT * FROM no_such_table");
                check(false, "error expected");
            } catch (SQLException e) {
                check("42P01".equals(e.getSQLState()), "SQLSTATE 42P01, got " + e.getSQLState());
            }
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT 1 + 1")) {
                rs.next();
                check(rs.getInt(1) == 2, "next query after an error works");
            }

            // DDL and DML over the extended protocol, durable like any other.
            try (Statement st = conn.createStatement()) {
                st.execute("DROP TABLE IF EXISTS jdbc_scratch");
                st.execute("CREATE TABLE jdbc_scratch (id BIGINT, note TEXT)");
            }
            try (PreparedStatement ps = conn.prepareStatement("INSERT INTO jdbc_scratch VALUES (?, ?)")) {
                ps.setLong(1, 1);
                ps.setString(2, "备注");
                check(ps.executeUpdate() == 1, "insert count 1");
            }
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT note FROM jdbc_scratch")) {
                rs.next();
                check(rs.getString(1).equals("备注"), "inserted text reads back");
                st.execute("DROP TABLE jdbc_scratch");
            }
        }
        System.out.println("ALL OK");
    }
}
