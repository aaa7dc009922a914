//! The dimension files: Dim_Temps and Dim_Promotion (CSV), Dim_Canal and Dim_Livraison (JSON), Dim_Produit,
//! Dim_Motif_Retour and Referentiel_Geo (XML).

use std::path::Path;

use chrono::Datelike;

use super::Written;
use crate::generate::GenerateError;
use crate::generate::calendar::{Calendar, month_name, weekday_name};
use crate::generate::catalog::Catalog;
use crate::generate::dims::{CANAUX, LIVRAISONS, MOTIFS, REGIONS, VILLES, promotions};
use crate::generate::writers::csv::CsvWriter;
use crate::generate::writers::fmt::push_cents;
use crate::generate::writers::json::{Value, write_records};
use crate::generate::writers::sql_dump::column_names;
use crate::generate::writers::xml::XmlDoc;

pub fn dim_temps(dir: &Path, cal: &Calendar) -> Result<Written, GenerateError> {
    let name = super::DIM_TEMPS_CSV;
    let mut w = CsvWriter::create(dir, name, &column_names("Dim_Temps"))?;
    for d in &cal.days {
        let date = d.date;
        w.u64(u64::from(d.id))
            .str(&d.iso)
            .i64(i64::from(date.year()))
            .u64(u64::from((date.month() - 1) / 3 + 1))
            .u64(u64::from(date.month()))
            .str(month_name(date.month()))
            .u64(u64::from(date.iso_week().week()))
            .u64(u64::from(date.day()))
            .str(weekday_name(date.weekday()))
            .u64(u64::from(d.is_weekend()))
            .u64(u64::from(d.holiday))
            .str(d.season.label());
        w.end_row()?;
    }
    let (rows, bytes) = w.finish()?;
    Ok((name.to_string(), rows, bytes))
}

pub fn dim_promotion(dir: &Path, cal: &Calendar) -> Result<Written, GenerateError> {
    let name = super::DIM_PROMOTION_CSV;
    let mut w = CsvWriter::create(dir, name, &column_names("Dim_Promotion"))?;
    let iso = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
    for p in promotions(cal) {
        w.u64(u64::from(p.id))
            .opt_str(p.code)
            .str(p.campagne)
            .opt_str(p.type_remise)
            .i64(p.valeur)
            .opt_str(iso(p.debut).as_deref())
            .opt_str(iso(p.fin).as_deref());
        w.end_row()?;
    }
    let (rows, bytes) = w.finish()?;
    Ok((name.to_string(), rows, bytes))
}

pub fn dim_canal(dir: &Path) -> Result<Written, GenerateError> {
    let name = super::DIM_CANAL_JSON;
    let records: Vec<_> = CANAUX
        .iter()
        .map(|(id, nom, ty)| vec![("ID_Canal", Value::Int(i64::from(*id))), ("Nom_Canal", Value::Str(nom)), ("Type", Value::Str(ty))])
        .collect();
    let (rows, bytes) = write_records(dir, name, &records)?;
    Ok((name.to_string(), rows, bytes))
}

pub fn dim_livraison(dir: &Path) -> Result<Written, GenerateError> {
    let name = super::DIM_LIVRAISON_JSON;
    let records: Vec<_> = LIVRAISONS
        .iter()
        .map(|(id, transporteur, ty, delai)| {
            vec![
                ("ID_Livraison", Value::Int(i64::from(*id))),
                ("Transporteur", Value::Str(transporteur)),
                ("Type_Livraison", Value::Str(ty)),
                ("Delai_Prevu_Jours", Value::Int(i64::from(*delai))),
            ]
        })
        .collect();
    let (rows, bytes) = write_records(dir, name, &records)?;
    Ok((name.to_string(), rows, bytes))
}

pub fn dim_motif_retour(dir: &Path) -> Result<Written, GenerateError> {
    let name = super::DIM_MOTIF_RETOUR_XML;
    let mut x = XmlDoc::new();
    x.open("Dim_Motif_Retour");
    for (id, motif, cat) in MOTIFS {
        // The record element and one of its fields share the name `Motif`, as in the original export.
        x.open("Motif").leaf("ID_Motif", Some(&id.to_string())).leaf("Motif", Some(motif));
        x.leaf("Categorie", Some(cat)).close("Motif");
    }
    x.close("Dim_Motif_Retour");
    Ok((name.to_string(), MOTIFS.len() as u64, x.write(dir, name)?))
}

pub fn referentiel_geo(dir: &Path) -> Result<Written, GenerateError> {
    let name = super::REFERENTIEL_GEO_XML;
    let mut x = XmlDoc::new();
    x.open("Referentiel_Geo").open("regions");
    for r in REGIONS {
        x.leaf("region", Some(r));
    }
    x.close("regions").open("villes");
    for (nom, region, _) in VILLES {
        x.open("ville").leaf("nom", Some(nom)).leaf("region", Some(REGIONS[region])).close("ville");
    }
    x.close("villes").close("Referentiel_Geo");
    Ok((name.to_string(), VILLES.len() as u64, x.write(dir, name)?))
}

pub fn dim_produit(dir: &Path, catalog: &Catalog) -> Result<Written, GenerateError> {
    let name = super::DIM_PRODUIT_XML;
    let cents = |c: i64| {
        let mut b = Vec::new();
        push_cents(&mut b, c);
        String::from_utf8(b).unwrap_or_default()
    };
    let mut x = XmlDoc::new();
    x.open("Dim_Produit");
    for p in &catalog.products {
        x.open("Produit")
            .leaf("ID_Produit", Some(&p.id.to_string()))
            .leaf("SKU", Some(&p.sku))
            .leaf("Nom_Produit", Some(&p.name))
            .leaf("Categorie", Some(p.category.label()))
            .leaf("Sous_Categorie", Some(p.sous_categorie))
            .leaf("Marque", Some(p.marque))
            .leaf("Prix_Unitaire", Some(&cents(p.prix_cents)))
            .leaf("Cout_Achat", Some(&cents(p.cout_cents)))
            .leaf("Poids_Kg", Some(&cents(p.poids_centikg)))
            .leaf("Actif", Some(if p.actif { "1" } else { "0" }))
            .close("Produit");
    }
    x.close("Dim_Produit");
    Ok((name.to_string(), catalog.products.len() as u64, x.write(dir, name)?))
}
