//! A MySQL dump in the style of `mysqldump` 8: header comments, the `/*!40101 SET ... */;` session lines,
//! `DROP TABLE IF EXISTS` + `CREATE TABLE` for each table (alphabetical, as mysqldump orders them), a
//! `LOCK TABLES` data section per table with extended `INSERT ... VALUES (...),(...);` lines, and the closing
//! lines that restore the session.
//!
//! Only the DDL and the value syntax live here; which rows go in is the caller's business ([`DumpWriter`]
//! streams them).

use std::path::Path;

use super::fmt::{push_cents, push_i64, push_u64};
use crate::generate::GenerateError;
use crate::generate::output::AtomicFile;

/// Rows per extended INSERT statement.
pub const ROWS_PER_INSERT: usize = 1000;
const FLUSH_AT: usize = 1 << 20;

/// A column of a dumped table: name, MySQL type, nullable.
pub type Column = (&'static str, &'static str, bool);

/// A table of the dump: name, columns, primary key column.
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [Column],
    pub primary_key: &'static str,
}

const INT: &str = "int";
const DEC: &str = "decimal(12,2)";
const DATE: &str = "date";

/// The 11 tables of the OmniMarket database, in mysqldump's (alphabetical) order.
pub const TABLES: [Table; 11] = [
    Table {
        name: "Dim_Canal",
        columns: &[("ID_Canal", INT, false), ("Nom_Canal", "varchar(20)", true), ("Type", "varchar(20)", true)],
        primary_key: "ID_Canal",
    },
    Table {
        name: "Dim_Client",
        columns: &[
            ("ID_Client", INT, false),
            ("Code_Client", "varchar(12)", true),
            ("Prenom", "varchar(50)", true),
            ("Nom", "varchar(50)", true),
            ("Nom_Complet", "varchar(100)", true),
            ("Email", "varchar(120)", true),
            ("Telephone", "varchar(20)", true),
            ("Date_Inscription", DATE, true),
            ("Ville", "varchar(50)", true),
            ("Pays", "varchar(30)", true),
            ("Age", INT, true),
            ("Genre", "varchar(1)", true),
            ("Segment_RFM", "varchar(10)", true),
            ("Score_Fidelite", INT, true),
        ],
        primary_key: "ID_Client",
    },
    Table {
        name: "Dim_Livraison",
        columns: &[
            ("ID_Livraison", INT, false),
            ("Transporteur", "varchar(50)", true),
            ("Type_Livraison", "varchar(20)", true),
            ("Delai_Prevu_Jours", INT, true),
        ],
        primary_key: "ID_Livraison",
    },
    Table {
        name: "Dim_Motif_Retour",
        columns: &[("ID_Motif", INT, false), ("Motif", "varchar(50)", true), ("Categorie", "varchar(30)", true)],
        primary_key: "ID_Motif",
    },
    Table {
        name: "Dim_Produit",
        columns: &[
            ("ID_Produit", INT, false),
            ("SKU", "varchar(12)", true),
            ("Nom_Produit", "varchar(150)", true),
            ("Categorie", "varchar(30)", true),
            ("Sous_Categorie", "varchar(50)", true),
            ("Marque", "varchar(50)", true),
            ("Prix_Unitaire", DEC, true),
            ("Cout_Achat", DEC, true),
            ("Poids_Kg", DEC, true),
            ("Actif", INT, true),
        ],
        primary_key: "ID_Produit",
    },
    Table {
        name: "Dim_Promotion",
        columns: &[
            ("ID_Promotion", INT, false),
            ("Code_Promo", "varchar(20)", true),
            ("Nom_Campagne", "varchar(100)", true),
            ("Type_Remise", "varchar(20)", true),
            ("Valeur_Remise", INT, true),
            ("Date_Debut", DATE, true),
            ("Date_Fin", DATE, true),
        ],
        primary_key: "ID_Promotion",
    },
    Table {
        name: "Dim_Temps",
        columns: &[
            ("ID_Date", INT, false),
            ("Date_Complete", DATE, true),
            ("Annee", INT, true),
            ("Trimestre", INT, true),
            ("Mois", INT, true),
            ("Mois_Nom", "varchar(20)", true),
            ("Semaine", INT, true),
            ("Jour", INT, true),
            ("Jour_Semaine", "varchar(20)", true),
            ("Est_Weekend", INT, true),
            ("Est_Ferie", INT, true),
            ("Saison_Commerciale", "varchar(30)", true),
        ],
        primary_key: "ID_Date",
    },
    Table {
        name: "Fait_Retours",
        columns: &[
            ("ID_Retour", INT, false),
            ("ID_Vente", INT, true),
            ("ID_Date_Retour", INT, true),
            ("Date_Retour", DATE, true),
            ("ID_Motif", INT, true),
            ("Montant_Rembourse", DEC, true),
            ("Delai_Retour_Jours", INT, true),
        ],
        primary_key: "ID_Retour",
    },
    Table {
        name: "Fait_Stock",
        columns: &[
            ("ID_Stock", INT, false),
            ("ID_Produit", INT, true),
            ("ID_Date", INT, true),
            ("Date_Snapshot", DATE, true),
            ("Quantite_Disponible", INT, true),
            ("Quantite_Reservee", INT, true),
            ("Valeur_Stock", DEC, true),
        ],
        primary_key: "ID_Stock",
    },
    Table {
        name: "Fait_Trafic_Web",
        columns: &[
            ("ID_Session", INT, false),
            ("ID_Client", INT, true),
            ("ID_Date", INT, true),
            ("Pages_Vues", INT, true),
            ("Duree_Session_Sec", INT, true),
            ("A_Achete", INT, true),
            ("Panier_Abandonne", INT, true),
            ("Contexte_ID_Canal", INT, true),
            ("Contexte_Appareil", "varchar(20)", true),
            ("Contexte_Source_Trafic", "varchar(30)", true),
        ],
        primary_key: "ID_Session",
    },
    Table {
        name: "Fait_Ventes",
        columns: &[
            ("ID_Vente", INT, false),
            ("ID_Client", INT, true),
            ("ID_Produit", INT, true),
            ("ID_Date", INT, true),
            ("Date_Vente", DATE, true),
            ("Heure_Vente", INT, true),
            ("DateTime_Vente", "datetime", true),
            ("ID_Canal", INT, true),
            ("ID_Promotion", INT, true),
            ("ID_Livraison", INT, true),
            ("Quantite", INT, true),
            ("Montant_HT", DEC, true),
            ("Montant_TTC", DEC, true),
            ("Cout_Produit", DEC, true),
            ("Marge", DEC, true),
            ("Remise_Appliquee", DEC, true),
        ],
        primary_key: "ID_Vente",
    },
];

/// The column names of a table of [`TABLES`].
pub fn column_names(table: &str) -> Vec<&'static str> {
    TABLES.iter().find(|t| t.name == table).map(|t| t.columns.iter().map(|c| c.0).collect()).unwrap_or_default()
}

const HEADER: &str = "\
-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)
--
-- Host: localhost    Database: omnimarket
-- ------------------------------------------------------
-- Server version\t8.0.36

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;
/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;
/*!50503 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;
";

const FOOTER: &str = "\
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;

/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;
/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;
/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;
/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;

";

/// `CREATE TABLE` statement of a table, mysqldump style.
pub fn create_table(t: &Table) -> String {
    let mut s = format!(
        "--\n-- Table structure for table `{0}`\n--\n\nDROP TABLE IF EXISTS `{0}`;\n\
         /*!40101 SET @saved_cs_client     = @@character_set_client */;\n\
         /*!50503 SET character_set_client = utf8mb4 */;\nCREATE TABLE `{0}` (\n",
        t.name
    );
    for (name, ty, nullable) in t.columns {
        let null = if *nullable && *name != t.primary_key { "DEFAULT NULL" } else { "NOT NULL" };
        s.push_str(&format!("  `{name}` {ty} {null},\n"));
    }
    s.push_str(&format!(
        "  PRIMARY KEY (`{}`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;\n\
         /*!40101 SET character_set_client = @saved_cs_client */;\n\n",
        t.primary_key
    ));
    s
}

fn data_section_start(table: &str) -> String {
    format!(
        "--\n-- Dumping data for table `{table}`\n--\n\nLOCK TABLES `{table}` WRITE;\n\
         /*!40000 ALTER TABLE `{table}` DISABLE KEYS */;\n"
    )
}

fn data_section_end(table: &str) -> String {
    format!("/*!40000 ALTER TABLE `{table}` ENABLE KEYS */;\nUNLOCK TABLES;\n\n")
}

/// Appends `s` as a quoted SQL string with mysqldump's backslash escapes.
pub fn push_sql_string(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'\'');
    for &b in s.as_bytes() {
        match b {
            b'\'' => buf.extend_from_slice(b"\\'"),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            0 => buf.extend_from_slice(b"\\0"),
            0x1A => buf.extend_from_slice(b"\\Z"),
            _ => buf.push(b),
        }
    }
    buf.push(b'\'');
}

/// Streams a dump whose only rows belong to its last table (in mysqldump order), which is how the
/// OmniMarket dump is laid out: all DDL, the empty data sections, then the rows of `Fait_Ventes`.
pub struct DumpWriter {
    file: AtomicFile,
    buf: Vec<u8>,
    table: &'static str,
    rows_in_statement: usize,
    first_value: bool,
    rows: u64,
    completed_on: String,
}

impl DumpWriter {
    /// Writes everything up to the first row of `data_table`. `completed_on` is the text of the final
    /// "Dump completed on" comment (fixed, for reproducible output).
    pub fn create(dir: &Path, name: &str, data_table: &'static str, completed_on: String) -> Result<Self, GenerateError> {
        let mut file = AtomicFile::create(dir, name)?;
        let mut head = String::from(HEADER);
        head.push('\n');
        for t in &TABLES {
            head.push_str(&create_table(t));
            head.push_str(&data_section_start(t.name));
            if t.name != data_table {
                head.push_str(&data_section_end(t.name));
            }
        }
        file.write_all(head.as_bytes())?;
        Ok(Self { file, buf: Vec::with_capacity(FLUSH_AT * 2), table: data_table, rows_in_statement: 0, first_value: true, rows: 0, completed_on })
    }

    /// Starts a row: opens a new INSERT statement when needed. Follow with the value methods, then
    /// [`DumpWriter::end_row`].
    pub fn begin_row(&mut self) {
        if self.rows_in_statement == 0 {
            self.buf.extend_from_slice(b"INSERT INTO `");
            self.buf.extend_from_slice(self.table.as_bytes());
            self.buf.extend_from_slice(b"` VALUES (");
        } else {
            self.buf.extend_from_slice(b",(");
        }
        self.first_value = true;
    }

    fn sep(&mut self) {
        if !self.first_value {
            self.buf.push(b',');
        }
        self.first_value = false;
    }

    pub fn u64(&mut self, v: u64) {
        self.sep();
        push_u64(&mut self.buf, v);
    }

    pub fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            Some(v) => self.u64(v),
            None => self.null(),
        }
    }

    pub fn i64(&mut self, v: i64) {
        self.sep();
        push_i64(&mut self.buf, v);
    }

    pub fn cents(&mut self, v: i64) {
        self.sep();
        push_cents(&mut self.buf, v);
    }

    pub fn opt_cents(&mut self, v: Option<i64>) {
        match v {
            Some(v) => self.cents(v),
            None => self.null(),
        }
    }

    pub fn null(&mut self) {
        self.sep();
        self.buf.extend_from_slice(b"NULL");
    }

    pub fn string(&mut self, s: &str) {
        self.sep();
        push_sql_string(&mut self.buf, s);
    }

    /// A value already formatted by the caller, quoted without escaping (dates and times: digits, `-`, `:`
    /// and spaces only).
    pub fn quoted_raw(&mut self, parts: &[&[u8]]) {
        self.sep();
        self.buf.push(b'\'');
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.buf.push(b'\'');
    }

    /// Direct access for callers that format a value themselves (after [`DumpWriter::raw_sep`]).
    pub fn raw_sep(&mut self) -> &mut Vec<u8> {
        self.sep();
        &mut self.buf
    }

    pub fn end_row(&mut self) -> Result<(), GenerateError> {
        self.buf.push(b')');
        self.rows += 1;
        self.rows_in_statement += 1;
        if self.rows_in_statement == ROWS_PER_INSERT {
            self.buf.extend_from_slice(b";\n");
            self.rows_in_statement = 0;
        }
        if self.buf.len() >= FLUSH_AT {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Closes the last statement and the data section, writes the footer; returns (rows, bytes).
    pub fn finish(mut self) -> Result<(u64, u64), GenerateError> {
        if self.rows_in_statement > 0 {
            self.buf.extend_from_slice(b";\n");
        }
        self.buf.extend_from_slice(data_section_end(self.table).as_bytes());
        self.buf.extend_from_slice(FOOTER.as_bytes());
        self.buf.extend_from_slice(format!("-- Dump completed on {}\n", self.completed_on).as_bytes());
        self.file.write_all(&self.buf)?;
        let rows = self.rows;
        Ok((rows, self.file.commit()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_mysqldump() {
        let mut b = Vec::new();
        push_sql_string(&mut b, "L'Oréal \\ \"x\"\n");
        assert_eq!(String::from_utf8(b).unwrap(), "'L\\'Oréal \\\\ \\\"x\\\"\\n'");
    }

    #[test]
    fn ddl_shape() {
        let ddl = create_table(&TABLES[0]);
        assert!(ddl.contains("DROP TABLE IF EXISTS `Dim_Canal`;"));
        assert!(ddl.contains("  `ID_Canal` int NOT NULL,\n"));
        assert!(ddl.contains("  `Nom_Canal` varchar(20) DEFAULT NULL,\n"));
        assert!(ddl.contains("  PRIMARY KEY (`ID_Canal`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"));
        let names: Vec<_> = TABLES.iter().map(|t| t.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn batches_rows_into_extended_inserts() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DumpWriter::create(dir.path(), "d.sql", "Fait_Ventes", "2024-12-31 23:59:59".into()).unwrap();
        for i in 0..(ROWS_PER_INSERT as u64 + 2) {
            w.begin_row();
            w.u64(i);
            w.opt_cents(if i == 1 { None } else { Some(-5) });
            w.string("a'b");
            w.end_row().unwrap();
        }
        assert_eq!(w.finish().unwrap().0, ROWS_PER_INSERT as u64 + 2);
        let text = std::fs::read_to_string(dir.path().join("d.sql")).unwrap();
        let inserts: Vec<_> = text.lines().filter(|l| l.starts_with("INSERT INTO `Fait_Ventes`")).collect();
        assert_eq!(inserts.len(), 2);
        assert!(inserts[0].starts_with("INSERT INTO `Fait_Ventes` VALUES (0,-0.05,'a\\'b'),(1,NULL,'a\\'b'),"));
        assert!(inserts[1].ends_with("),(1001,-0.05,'a\\'b');"));
        assert!(text.starts_with("-- MySQL dump 10.13"));
        assert!(text.ends_with("-- Dump completed on 2024-12-31 23:59:59\n"));
        assert_eq!(text.matches("CREATE TABLE").count(), 11);
        assert_eq!(text.matches("UNLOCK TABLES;").count(), 11);
        let unlock = text.rfind("UNLOCK TABLES;").unwrap();
        assert!(text.rfind("INSERT INTO").unwrap() < unlock);
    }
}
