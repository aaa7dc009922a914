// pgJDBC against `omnimarket serve --pg`: DatabaseMetaData (tables, the semantic table's columns) and a prepared
// semantic query with a parameter, run twice. Prints key=value lines for tests/clients/test_postgres.py to check.
import java.sql.*;
import java.util.*;

public class PgJdbcCheck {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        props.setProperty("user", args[1]);
        props.setProperty("password", args[2]);
        // Server-side prepared statements from the first execution (the default waits for the 5th).
        props.setProperty("prepareThreshold", "1");
        try (Connection conn = DriverManager.getConnection(args[0], props)) {
            DatabaseMetaData meta = conn.getMetaData();
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = meta.getTables(null, "staging", "%", null)) {
                while (rs.next()) tables.add(rs.getString("TABLE_NAME"));
            }
            System.out.println("tables=" + String.join(",", tables));
            List<String> columns = new ArrayList<>();
            try (ResultSet rs = meta.getColumns(null, "semantic", "omnimarket", "%")) {
                while (rs.next()) columns.add(rs.getString("COLUMN_NAME"));
            }
            System.out.println("columns=" + String.join(",", columns));
            String sql = "SELECT \"Nom_Canal\", MEASURE(\"CA_Total\") AS ca FROM semantic.omnimarket WHERE \"Annee\" = ? GROUP BY 1 ORDER BY 1";
            try (PreparedStatement ps = conn.prepareStatement(sql)) {
                for (int year : new int[] {2023, 2024}) {
                    ps.setInt(1, year);
                    double total = 0;
                    int rows = 0;
                    try (ResultSet rs = ps.executeQuery()) {
                        while (rs.next()) {
                            total += rs.getDouble(2);
                            rows++;
                        }
                    }
                    if (rows != 3) throw new IllegalStateException(year + ": " + rows + " rows, expected 3");
                    System.out.println("ca_" + year + "=" + total);
                }
            }
        }
    }
}
