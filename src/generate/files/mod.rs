//! The 14 output files: which table goes to which file, with which columns, in which order. Each submodule
//! turns generated rows into one family of files using the format writers.

pub mod clients;
pub mod dims;
pub mod facts;
pub mod sales;

pub const BASE_VENTES_SQL: &str = "base_ventes.sql";
pub const FAIT_VENTES_XLSX: &str = "Fait_Ventes.xlsx";
pub const DIM_CLIENT_XLSX: &str = "Dim_Client.xlsx";
pub const OBJECTIFS_XLSX: &str = "objectifs_mensuels.xlsx";
pub const DIM_TEMPS_CSV: &str = "Dim_Temps.csv";
pub const DIM_PROMOTION_CSV: &str = "Dim_Promotion.csv";
pub const FAIT_STOCK_CSV: &str = "Fait_Stock.csv";
pub const FAIT_RETOURS_CSV: &str = "Fait_Retours.csv";
pub const DIM_CANAL_JSON: &str = "Dim_Canal.json";
pub const DIM_LIVRAISON_JSON: &str = "Dim_Livraison.json";
pub const FAIT_TRAFIC_WEB_JSON: &str = "Fait_Trafic_Web.json";
pub const DIM_PRODUIT_XML: &str = "Dim_Produit.xml";
pub const DIM_MOTIF_RETOUR_XML: &str = "Dim_Motif_Retour.xml";
pub const REFERENTIEL_GEO_XML: &str = "Referentiel_Geo.xml";

/// Every file the generator writes, in the order the summary lists them.
pub const ALL_FILES: [&str; 14] = [
    BASE_VENTES_SQL,
    FAIT_VENTES_XLSX,
    DIM_CLIENT_XLSX,
    OBJECTIFS_XLSX,
    DIM_TEMPS_CSV,
    DIM_PROMOTION_CSV,
    FAIT_STOCK_CSV,
    FAIT_RETOURS_CSV,
    DIM_CANAL_JSON,
    DIM_LIVRAISON_JSON,
    FAIT_TRAFIC_WEB_JSON,
    DIM_PRODUIT_XML,
    DIM_MOTIF_RETOUR_XML,
    REFERENTIEL_GEO_XML,
];

/// What writing a file produced: its name, data rows and size in bytes.
pub type Written = (String, u64, u64);
