//! Measures the business patterns and the planted defects in the files the generator writes at scale 1, by
//! reading the files back (the dump, the workbooks, the CSV, the JSON), not the generator's internals.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use calamine::{Data, Reader, Xlsx, open_workbook};
use omnimarket::generate::writers::xlsx::{MAX_DATA_ROWS_PER_SHEET, sheet_position, sheets_needed, split_sheet_name};
use omnimarket::generate::{DefectCounts, GenerateConfig, GenerateSummary, NoProgress, generate};

struct Fixture {
    _dir: tempfile::TempDir,
    out: PathBuf,
    cfg: GenerateConfig,
    summary: GenerateSummary,
}

/// One scale-1 run with the default configuration, shared by the tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("data");
        let cfg = GenerateConfig { out_dir: out.clone(), ..GenerateConfig::default() };
        let summary = generate(&cfg, &NoProgress).unwrap();
        Fixture { _dir: dir, out, cfg, summary }
    })
}

/// A sale as read back from the dump. Money in cents.
#[derive(Debug, Clone, PartialEq)]
struct Sale {
    id: u64,
    client: u64,
    product: u64,
    id_date: u64,
    date: String,
    hour: u64,
    datetime: String,
    canal: u64,
    promotion: u64,
    livraison: Option<u64>,
    quantite: u64,
    ht: Option<i64>,
    ttc: Option<i64>,
    cout: i64,
    marge: i64,
    remise: i64,
}

fn cents(s: &str) -> i64 {
    let neg = s.starts_with('-');
    let (a, b) = s.trim_start_matches('-').split_once('.').unwrap();
    let v = a.parse::<i64>().unwrap() * 100 + b.parse::<i64>().unwrap();
    if neg { -v } else { v }
}

fn opt<T>(s: &str, f: impl Fn(&str) -> T) -> Option<T> {
    if s == "NULL" { None } else { Some(f(s)) }
}

fn dump_sales(out: &Path) -> Vec<Sale> {
    let text = std::fs::read_to_string(out.join("base_ventes.sql")).unwrap();
    let mut sales = Vec::new();
    for line in text.lines().filter(|l| l.starts_with("INSERT INTO `Fait_Ventes` VALUES (")) {
        let body = line.strip_prefix("INSERT INTO `Fait_Ventes` VALUES (").unwrap().strip_suffix(");").unwrap();
        for row in body.split("),(") {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f.len(), 16, "{row}");
            let n = |s: &str| s.parse::<u64>().unwrap();
            let q = |s: &str| s.trim_matches('\'').to_string();
            sales.push(Sale {
                id: n(f[0]),
                client: n(f[1]),
                product: n(f[2]),
                id_date: n(f[3]),
                date: q(f[4]),
                hour: n(f[5]),
                datetime: q(f[6]),
                canal: n(f[7]),
                promotion: n(f[8]),
                livraison: opt(f[9], n),
                quantite: n(f[10]),
                ht: opt(f[11], cents),
                ttc: opt(f[12], cents),
                cout: cents(f[13]),
                marge: cents(f[14]),
                remise: cents(f[15]),
            });
        }
    }
    sales
}

fn sales() -> &'static Vec<Sale> {
    static S: OnceLock<Vec<Sale>> = OnceLock::new();
    S.get_or_init(|| dump_sales(&fixture().out))
}

/// A `;` CSV with BOM, as rows of fields (header excluded) plus the header.
fn csv(out: &Path, name: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(out.join(name)).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("UTF-8 BOM");
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(';').map(str::to_string).collect::<Vec<_>>();
    let rows = lines.map(|l| l.split(';').map(str::to_string).collect::<Vec<_>>()).collect::<Vec<_>>();
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{name}: {r:?}");
    }
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
}

/// Season of each ID_Date, from Dim_Temps.csv.
fn seasons(out: &Path) -> HashMap<u64, String> {
    let (h, rows) = csv(out, "Dim_Temps.csv");
    let (id, s) = (col(&h, "ID_Date"), col(&h, "Saison_Commerciale"));
    rows.iter().map(|r| (r[id].parse().unwrap(), r[s].clone())).collect()
}

fn sheet(out: &Path, file: &str, name: &str) -> Vec<Vec<Data>> {
    let mut wb: Xlsx<_> = open_workbook(out.join(file)).unwrap();
    let range = wb.worksheet_range(name).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

fn num(d: &Data) -> Option<f64> {
    match d {
        Data::Float(f) => Some(*f),
        Data::Int(i) => Some(*i as f64),
        Data::DateTime(dt) => Some(dt.as_f64()),
        Data::Empty => None,
        other => panic!("not a number: {other:?}"),
    }
}

fn text(d: &Data) -> Option<String> {
    match d {
        Data::String(s) => Some(s.clone()),
        Data::Empty => None,
        other => panic!("not text: {other:?}"),
    }
}

#[test]
fn writes_the_fourteen_files_and_no_temporaries() {
    let f = fixture();
    let mut names: Vec<String> = std::fs::read_dir(&f.out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let mut expected = vec![
        "base_ventes.sql",
        "Fait_Ventes.xlsx",
        "Dim_Client.xlsx",
        "objectifs_mensuels.xlsx",
        "Dim_Temps.csv",
        "Dim_Promotion.csv",
        "Fait_Stock.csv",
        "Fait_Retours.csv",
        "Dim_Canal.json",
        "Dim_Livraison.json",
        "Fait_Trafic_Web.json",
        "Dim_Produit.xml",
        "Dim_Motif_Retour.xml",
        "Referentiel_Geo.xml",
    ];
    expected.sort();
    assert_eq!(names, expected);
    assert_eq!(f.summary.files.len(), 14);
    for (name, rows, bytes) in &f.summary.files {
        assert!(*rows > 0 && *bytes > 0, "{name}");
        assert_eq!(std::fs::metadata(f.out.join(name)).unwrap().len(), *bytes, "{name}");
    }
    let rows: HashMap<&str, u64> = f.summary.files.iter().map(|(n, r, _)| (n.as_str(), *r)).collect();
    assert_eq!(rows["base_ventes.sql"], 50_000);
    assert_eq!(rows["Fait_Ventes.xlsx"], 50_000);
    assert_eq!(rows["Fait_Trafic_Web.json"], 100_000);
    assert_eq!(rows["Dim_Client.xlsx"], 5_050);
    assert_eq!(rows["Dim_Temps.csv"], 731);
}

#[test]
fn sales_follow_the_seasons() {
    let f = fixture();
    let seasons = seasons(&f.out);
    assert_eq!(seasons.len(), 731);
    let mut per_day: HashMap<u64, u64> = seasons.keys().map(|d| (*d, 0)).collect();
    for s in sales() {
        *per_day.get_mut(&s.id_date).unwrap() += 1;
    }
    let mut by_season: HashMap<&str, (u64, u64)> = HashMap::new();
    for (day, n) in &per_day {
        let e = by_season.entry(seasons[day].as_str()).or_default();
        e.0 += n;
        e.1 += 1;
    }
    let mean = |s: &str| by_season[s].0 as f64 / by_season[s].1 as f64;
    let normal = mean("Normal");
    let ratio = |s: &str| mean(s) / normal;
    assert!((ratio("Ramadan") - 1.4).abs() < 0.1, "Ramadan ×{}", ratio("Ramadan"));
    assert!((ratio("Black Friday") - 2.5).abs() < 0.2, "Black Friday ×{}", ratio("Black Friday"));
    assert!((ratio("Soldes Hiver") - 1.3).abs() < 0.1, "Soldes Hiver ×{}", ratio("Soldes Hiver"));
    assert!((ratio("Soldes Été") - 1.2).abs() < 0.1, "Soldes Été ×{}", ratio("Soldes Été"));
    // Ramadan 2023 is real: from 23 March to 21 April.
    let (h, rows) = csv(&f.out, "Dim_Temps.csv");
    let (date, season) = (col(&h, "Date_Complete"), col(&h, "Saison_Commerciale"));
    let s = |d: &str| rows.iter().find(|r| r[date] == d).unwrap()[season].clone();
    assert_eq!(s("2023-03-22"), "Normal");
    assert_eq!(s("2023-03-23"), "Ramadan");
    assert_eq!(s("2024-04-09"), "Ramadan");
    assert_eq!(s("2024-04-10"), "Normal");
}

#[test]
fn sales_peak_in_the_evening() {
    let mut hours = [0u64; 24];
    for s in sales() {
        hours[s.hour as usize] += 1;
        assert_eq!(&s.datetime[..10], s.date);
        assert_eq!(s.datetime[11..13].parse::<u64>().unwrap(), s.hour);
    }
    let evening = hours[19] + hours[20] + hours[21];
    let night = hours[2] + hours[3] + hours[4];
    assert!(evening > 10 * night, "evening {evening}, night {night}");
    let peak = (0..24).max_by_key(|h| hours[*h]).unwrap();
    assert!((18..=22).contains(&peak), "peak at {peak}h");
}

#[test]
fn channel_mix_and_deliveries() {
    let all = sales();
    let n = all.len() as f64;
    let share = |c: u64| all.iter().filter(|s| s.canal == c).count() as f64 / n;
    assert!((share(1) - 0.60).abs() < 0.02, "Web {}", share(1));
    assert!((share(2) - 0.30).abs() < 0.02, "Mobile {}", share(2));
    assert!((share(3) - 0.10).abs() < 0.02, "Magasin {}", share(3));
    for s in all {
        assert_eq!(s.canal == 3, s.livraison.is_none(), "sale {}", s.id);
        assert!(s.livraison.is_none_or(|l| (1..=3).contains(&l)));
    }
}

#[test]
fn sales_are_ordered_and_amounts_consistent() {
    let all = sales();
    assert_eq!(all.len(), 50_000);
    let percent = HashMap::from([(1u64, 10i64), (2, 30), (3, 50), (4, 20), (5, 0)]);
    let mut negative_margins = 0;
    for (i, s) in all.iter().enumerate() {
        assert_eq!(s.id, i as u64 + 1);
        if i > 0 {
            assert!(all[i - 1].datetime <= s.datetime, "sale {} out of order", s.id);
        }
        let p = percent[&s.promotion];
        if let Some(ht) = s.ht {
            assert_eq!(s.remise, (ht * p + 50) / 100, "sale {}", s.id);
            assert_eq!(s.marge, ht - s.remise - s.cout, "sale {}", s.id);
            if let Some(ttc) = s.ttc {
                assert_eq!(ttc, ((ht - s.remise) * 12 + 5) / 10, "sale {}", s.id);
            }
        }
        if s.marge < 0 {
            negative_margins += 1;
        }
        assert!((1..=5).contains(&s.quantite) && (1..=300).contains(&s.product));
    }
    assert!(negative_margins > 0, "deep discounts should produce negative margins");
}

#[test]
fn promotions_follow_the_season() {
    let f = fixture();
    let seasons = seasons(&f.out);
    let mut counts: HashMap<(&str, u64), u64> = HashMap::new();
    for s in sales() {
        *counts.entry((seasons[&s.id_date].as_str(), s.promotion)).or_default() += 1;
    }
    let c = |season, promo| counts.get(&(season, promo)).copied().unwrap_or(0);
    assert!(c("Black Friday", 2) > c("Black Friday", 5), "BLACKFRIDAY dominates November");
    assert_eq!(c("Normal", 2) + c("Normal", 3) + c("Normal", 4), 0, "no seasonal code outside its season");
    assert_eq!(c("Ramadan", 3), 0, "Ramadan wins over the sales");
    assert!(c("Ramadan", 4) > 0 && c("Soldes Hiver", 3) > 0 && c("Soldes Été", 3) > 0);
    let normal: u64 = [1, 5].iter().map(|p| c("Normal", *p)).sum();
    let welcome = c("Normal", 1) as f64 / normal as f64;
    assert!((welcome - 0.10).abs() < 0.015, "BIENVENUE10 on {welcome} of normal sales");
}

#[test]
fn pareto_top_fifth_of_clients_makes_most_transactions() {
    let f = fixture();
    let clients = sheet(&f.out, "Dim_Client.xlsx", "Dim_Client");
    let n_clients = clients.len() - 1;
    let mut per_client: HashMap<u64, u64> = HashMap::new();
    let mut known = 0u64;
    for s in sales() {
        if s.client as usize <= n_clients {
            *per_client.entry(s.client).or_default() += 1;
            known += 1;
        }
    }
    let mut counts: Vec<u64> = per_client.values().copied().collect();
    counts.resize(n_clients, 0);
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u64 = counts[..n_clients / 5].iter().sum();
    let share = top as f64 / known as f64;
    assert!((share - 0.8).abs() < 0.05, "top 20% of clients make {share} of transactions");
}

#[test]
fn returns_rate_reasons_and_refunds() {
    let f = fixture();
    let (h, rows) = csv(&f.out, "Fait_Retours.csv");
    let by_id: HashMap<u64, &Sale> = sales().iter().map(|s| (s.id, s)).collect();
    let rate = rows.len() as f64 / sales().len() as f64;
    assert!((rate - 0.05).abs() < 0.006, "return rate {rate}");
    let (vente, motif, montant, delai, date, id_date) = (
        col(&h, "ID_Vente"),
        col(&h, "ID_Motif"),
        col(&h, "Montant_Rembourse"),
        col(&h, "Delai_Retour_Jours"),
        col(&h, "Date_Retour"),
        col(&h, "ID_Date_Retour"),
    );
    let mut motifs: HashMap<u64, u64> = HashMap::new();
    for r in &rows {
        let sale = by_id[&r[vente].parse::<u64>().unwrap()];
        let d: u64 = r[delai].parse().unwrap();
        assert!((1..=14).contains(&d));
        assert_eq!(r[id_date].parse::<u64>().unwrap(), sale.id_date + d);
        assert!(r[date].as_str() > sale.date.as_str() && r[date].as_str() <= "2024-12-31");
        assert_eq!(Some(cents(&r[montant])), sale.ttc, "refund is the sale's TTC");
        *motifs.entry(r[motif].parse().unwrap()).or_default() += 1;
    }
    let size_colour = (motifs[&2] + motifs[&3]) as f64 / rows.len() as f64;
    assert!(size_colour > 0.35, "Taille + Couleur = {size_colour}");
    assert_eq!(motifs.len(), 7);
    let xml = std::fs::read_to_string(f.out.join("Dim_Motif_Retour.xml")).unwrap();
    assert!(xml.contains("<Motif><ID_Motif>2</ID_Motif><Motif>Taille incorrecte</Motif><Categorie>Erreur</Categorie></Motif>"));
    assert!(xml.contains("<Motif>Couleur différente</Motif>"));
}

#[test]
fn web_sessions_rates_and_context() {
    let f = fixture();
    let text = std::fs::read_to_string(f.out.join("Fait_Trafic_Web.json")).unwrap();
    assert!(text.starts_with("{\n  \"generated_at\": \"2024-12-31T23:59:59\",\n  \"sessions\": [\n    {\n      \"ID_Session\": 1,"));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 100_000);
    let n = sessions.len() as f64;
    let anon = sessions.iter().filter(|s| s["ID_Client"].is_null()).count() as f64 / n;
    let bought: Vec<_> = sessions.iter().map(|s| s["A_Achete"].as_u64().unwrap() == 1).collect();
    let buy = bought.iter().filter(|b| **b).count() as f64 / n;
    let non_buyers: Vec<_> = sessions.iter().filter(|s| s["A_Achete"] == 0).collect();
    let abandon = non_buyers.iter().filter(|s| s["Panier_Abandonne"] == 1).count() as f64 / non_buyers.len() as f64;
    assert!((anon - 0.5).abs() < 0.03, "anonymous {anon}");
    assert!((buy - 0.5).abs() < 0.03, "bought {buy}");
    assert!((abandon - 0.3).abs() < 0.03, "abandoned {abandon}");
    let mut pages = 0.0;
    for s in sessions {
        assert!(!(s["A_Achete"] == 1 && s["Panier_Abandonne"] == 1));
        let ctx = &s["Contexte"];
        assert!(matches!(ctx["ID_Canal"].as_u64(), Some(1 | 2)), "{s}");
        assert!(ctx["Appareil"].is_string() && ctx["Source_Trafic"].is_string());
        let p = s["Pages_Vues"].as_u64().unwrap();
        let d = s["Duree_Session_Sec"].as_u64().unwrap();
        assert!(p >= 1 && d >= p * 20, "{s}");
        pages += p as f64;
    }
    let mean_pages = pages / n;
    assert!((3.0..15.0).contains(&mean_pages), "mean pages {mean_pages}");
}

#[test]
fn planted_defects_have_exact_counts() {
    let f = fixture();
    let expected = DefectCounts::expected(&f.cfg);
    assert_eq!(f.summary.defects, expected);
    assert_eq!((expected.duplicate_clients, expected.null_telephone, expected.null_ville, expected.orphan_sales), (50, 100, 100, 50));
    assert_eq!(expected.null_amount_sales, 25);

    // Count them again in the files.
    let rows = sheet(&f.out, "Dim_Client.xlsx", "Dim_Client");
    let header: Vec<String> = rows[0].iter().map(|d| text(d).unwrap()).collect();
    let (id, email, tel, ville, code) =
        (col(&header, "ID_Client"), col(&header, "Email"), col(&header, "Telephone"), col(&header, "Ville"), col(&header, "Code_Client"));
    let clients = &rows[1..];
    assert_eq!(clients.len(), 5050);
    let geo = std::fs::read_to_string(f.out.join("Referentiel_Geo.xml")).unwrap();
    let mut null_tel = 0;
    let mut null_ville = 0;
    let mut messy = 0;
    let mut emails: HashMap<String, Vec<u64>> = HashMap::new();
    for (i, r) in clients.iter().enumerate() {
        let cid = num(&r[id]).unwrap() as u64;
        assert_eq!(cid, i as u64 + 1);
        assert_eq!(text(&r[code]).unwrap(), format!("CLI{cid:05}"));
        match text(&r[tel]) {
            None => null_tel += 1,
            Some(t) => assert!(t.len() == 13 && t.starts_with("+2126"), "{t}"),
        }
        match text(&r[ville]) {
            None => null_ville += 1,
            Some(v) if !geo.contains(&format!("<nom>{v}</nom>")) => {
                assert!(geo.to_lowercase().contains(&format!("<nom>{}</nom>", v.trim().to_lowercase())), "{v:?}");
                messy += 1;
            }
            Some(_) => {}
        }
        emails.entry(text(&r[email]).unwrap()).or_default().push(cid);
    }
    let dups: Vec<_> = emails.values().filter(|ids| ids.len() > 1).collect();
    assert_eq!(dups.len() as u64, expected.duplicate_clients);
    assert!(dups.iter().all(|ids| ids.len() == 2 && ids[0] <= 5000 && ids[1] > 5000));
    assert_eq!(null_tel, expected.null_telephone);
    assert_eq!(null_ville, expected.null_ville);
    assert_eq!(messy, expected.messy_ville);
    let share = messy as f64 / (clients.len() as u64 - null_ville) as f64;
    assert!((share - 0.02).abs() < 0.005, "messy share {share}");

    let orphans = sales().iter().filter(|s| s.client > 5050).count() as u64;
    let null_amounts = sales().iter().filter(|s| s.ht.is_none() || s.ttc.is_none()).count() as u64;
    assert_eq!(orphans, expected.orphan_sales);
    assert_eq!(null_amounts, expected.null_amount_sales);
    assert!(sales().iter().filter(|s| s.client > 5050).all(|s| s.client > 10 * 5050));
    assert!(sales().iter().any(|s| s.client > 5000 && s.client <= 5050), "duplicate accounts buy too");
}

#[test]
fn dump_and_xlsx_hold_the_same_sales() {
    let f = fixture();
    let rows = sheet(&f.out, "Fait_Ventes.xlsx", "Fait_Ventes");
    let header: Vec<String> = rows[0].iter().map(|d| text(d).unwrap()).collect();
    let dump_text = std::fs::read_to_string(f.out.join("base_ventes.sql")).unwrap();
    let ddl = dump_text.split("CREATE TABLE `Fait_Ventes` (").nth(1).unwrap();
    let ddl_columns: Vec<&str> = ddl.lines().skip(1).take(16).map(|l| l.trim().split('`').nth(1).unwrap()).collect();
    assert_eq!(header, ddl_columns);
    let data = &rows[1..];
    let all = sales();
    assert_eq!(data.len(), all.len());
    let c = |d: &Data| num(d).map(|v| (v * 100.0).round() as i64);
    let i = |d: &Data| num(d).map(|v| v as u64);
    for (r, s) in data.iter().zip(all) {
        assert_eq!(i(&r[0]), Some(s.id));
        assert_eq!(i(&r[1]), Some(s.client));
        assert_eq!(i(&r[2]), Some(s.product));
        assert_eq!(i(&r[3]), Some(s.id_date));
        // Excel serial 45000 = 2023-03-15; the date cell and the datetime cell agree with the dump text.
        let date = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap() + chrono::Duration::days(num(&r[4]).unwrap() as i64);
        assert_eq!(date.format("%Y-%m-%d").to_string(), s.date);
        let secs = ((num(&r[6]).unwrap() - num(&r[4]).unwrap()) * 86_400.0).round() as u64;
        assert_eq!(format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60), s.datetime[11..]);
        assert!(matches!(r[4], Data::DateTime(_)) && matches!(r[6], Data::DateTime(_)), "real Excel dates");
        assert_eq!(i(&r[5]), Some(s.hour));
        assert_eq!(i(&r[7]), Some(s.canal));
        assert_eq!(i(&r[8]), Some(s.promotion));
        assert_eq!(i(&r[9]), s.livraison);
        assert_eq!(i(&r[10]), Some(s.quantite));
        assert_eq!(c(&r[11]), s.ht);
        assert_eq!(c(&r[12]), s.ttc);
        assert_eq!(c(&r[13]), Some(s.cout));
        assert_eq!(c(&r[14]), Some(s.marge));
        assert_eq!(c(&r[15]), Some(s.remise));
    }
}

#[test]
fn objectives_track_monthly_net_revenue() {
    let f = fixture();
    let mut revenue: BTreeMap<(i32, u32), i64> = BTreeMap::new();
    for s in sales() {
        if let Some(ht) = s.ht {
            let y: i32 = s.date[..4].parse().unwrap();
            let m: u32 = s.date[5..7].parse().unwrap();
            *revenue.entry((y, m)).or_default() += ht - s.remise;
        }
    }
    let wb: Xlsx<_> = open_workbook(f.out.join("objectifs_mensuels.xlsx")).unwrap();
    assert_eq!(wb.sheet_names(), vec!["2023".to_string(), "2024".to_string()]);
    for year in [2023, 2024] {
        let rows = sheet(&f.out, "objectifs_mensuels.xlsx", &year.to_string());
        let header: Vec<String> = rows[0].iter().map(|d| text(d).unwrap()).collect();
        assert_eq!(header, ["Mois", "Objectif_CA", "Budget_Marketing"]);
        assert_eq!(rows.len(), 13);
        for r in &rows[1..] {
            let m = num(&r[0]).unwrap() as u32;
            let target = num(&r[1]).unwrap();
            let actual = revenue[&(year, m)] as f64 / 100.0;
            assert!((target / actual - 1.0).abs() <= 0.20, "{year}-{m}: {target} vs {actual}");
            assert!(num(&r[2]).unwrap() > 0.0);
        }
    }
}

#[test]
fn client_segments_come_from_purchases() {
    let f = fixture();
    let stats = sheet(&f.out, "Dim_Client.xlsx", "Stats_RFM");
    assert_eq!(
        stats[0].iter().map(|d| text(d).unwrap()).collect::<Vec<_>>(),
        ["ID_Client", "Nb_Achats", "CA_Total", "Derniere_Vente", "Segment_RFM"]
    );
    let mut nb: HashMap<u64, u64> = HashMap::new();
    for s in sales() {
        *nb.entry(s.client).or_default() += 1;
    }
    let buyers: HashSet<u64> = stats[1..].iter().map(|r| num(&r[0]).unwrap() as u64).collect();
    for r in &stats[1..] {
        let id = num(&r[0]).unwrap() as u64;
        assert_eq!(num(&r[1]).unwrap() as u64, nb[&id], "client {id}");
    }
    let clients = sheet(&f.out, "Dim_Client.xlsx", "Dim_Client");
    for r in &clients[1..] {
        let id = num(&r[0]).unwrap() as u64;
        let seg = text(&r[12]).unwrap();
        assert_eq!(seg == "Nouveau", !buyers.contains(&id), "client {id}: {seg}");
    }
    let gold = clients[1..].iter().filter(|r| text(&r[12]).unwrap() == "Gold").count();
    assert!((gold as f64 / buyers.len() as f64 - 0.2).abs() < 0.01);
}

#[test]
fn stock_is_weekly_per_product() {
    let f = fixture();
    let (h, rows) = csv(&f.out, "Fait_Stock.csv");
    // 2023-01-01 is a Sunday; 105 Sundays in 2023-2024, 300 products each.
    assert_eq!(rows.len(), 105 * 300);
    let date = col(&h, "Date_Snapshot");
    assert_eq!(rows[0][date], "2023-01-01");
    assert_eq!(rows[300][date], "2023-01-08");
}

#[test]
fn small_files_have_the_original_shapes() {
    let f = fixture();
    let canal = std::fs::read_to_string(f.out.join("Dim_Canal.json")).unwrap();
    assert!(canal.starts_with("[\n  {\n    \"ID_Canal\": 1,\n    \"Nom_Canal\": \"Web\",\n    \"Type\": \"Online\"\n  },"));
    let (h, promos) = csv(&f.out, "Dim_Promotion.csv");
    assert_eq!(h, ["ID_Promotion", "Code_Promo", "Nom_Campagne", "Type_Remise", "Valeur_Remise", "Date_Debut", "Date_Fin"]);
    assert_eq!(promos[4], ["5", "", "Sans promotion", "", "0", "", ""]);
    let produits = std::fs::read_to_string(f.out.join("Dim_Produit.xml")).unwrap();
    assert!(produits.starts_with("<?xml version='1.0' encoding='utf-8'?>\n<Dim_Produit><Produit><ID_Produit>1</ID_Produit><SKU>SKU00001</SKU>"));
    assert_eq!(produits.matches("<Produit>").count(), 300);
    let geo = std::fs::read_to_string(f.out.join("Referentiel_Geo.xml")).unwrap();
    assert_eq!(geo.matches("<region>").count() - geo.matches("<ville>").count(), 12);
    let sql = std::fs::read_to_string(f.out.join("base_ventes.sql")).unwrap();
    assert_eq!(sql.matches("CREATE TABLE `").count(), 11);
    assert!(sql.contains("LOCK TABLES `Fait_Ventes` WRITE;\n/*!40000 ALTER TABLE `Fait_Ventes` DISABLE KEYS */;\nINSERT INTO"));
    assert_eq!(sql.lines().filter(|l| l.starts_with("INSERT INTO")).count(), 50);
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let f = fixture();
    let again = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    generate(&GenerateConfig { out_dir: again.path().to_path_buf(), ..f.cfg.clone() }, &NoProgress).unwrap();
    generate(&GenerateConfig { out_dir: other.path().to_path_buf(), seed: 7, ..f.cfg.clone() }, &NoProgress).unwrap();
    // Reference tables that do not depend on the seed.
    let fixed = ["Dim_Temps.csv", "Dim_Promotion.csv", "Dim_Canal.json", "Dim_Livraison.json", "Dim_Motif_Retour.xml", "Referentiel_Geo.xml"];
    for (name, _, _) in &f.summary.files {
        let a = std::fs::read(f.out.join(name)).unwrap();
        let b = std::fs::read(again.path().join(name)).unwrap();
        assert!(a == b, "{name} differs between two runs with the same seed");
        let c = std::fs::read(other.path().join(name)).unwrap();
        if fixed.contains(&name.as_str()) {
            assert!(a == c, "{name} should not depend on the seed");
        } else {
            assert!(a != c, "{name} is the same for seeds 42 and 7");
        }
    }
}

#[test]
fn invalid_configuration_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    let cfg = GenerateConfig { out_dir: out.clone(), scale: 0, ..GenerateConfig::default() };
    let err = generate(&cfg, &NoProgress).unwrap_err();
    assert!(err.to_string().contains("scale"), "{err}");
    assert!(!out.exists());
}

#[test]
fn xlsx_sheet_split_at_the_excel_row_limit() {
    assert_eq!(MAX_DATA_ROWS_PER_SHEET, 1_048_575);
    // 5 million sales (scale 100) need 5 sheets; the last row of a sheet is Excel's row 1,048,576 (index
    // 1,048,575 with the header at 0) and the next sale starts the next sheet after its header.
    assert_eq!(sheets_needed(5_000_000), 5);
    assert_eq!(sheet_position(1_048_574), (0, 1_048_575));
    assert_eq!(sheet_position(1_048_575), (1, 1));
    assert_eq!(sheet_position(4_999_999), (4, (4_999_999 - 4 * 1_048_575 + 1) as u32));
    assert_eq!(split_sheet_name("Fait_Ventes", 2), "Fait_Ventes_3");
}

#[test]
fn a_failed_run_names_the_file_and_leaves_no_partial_sales() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    // A directory where the returns file's temporary file must go makes that file fail to open.
    std::fs::create_dir_all(out.join("Fait_Retours.csv.tmp")).unwrap();
    let cfg = GenerateConfig { out_dir: out.clone(), ..GenerateConfig::default() };
    let err = generate(&cfg, &NoProgress).unwrap_err();
    assert!(err.to_string().contains("Fait_Retours.csv"), "{err}");
    for name in ["base_ventes.sql", "Fait_Ventes.xlsx", "Fait_Retours.csv", "Dim_Client.xlsx"] {
        assert!(!out.join(name).exists(), "{name} written by a failed run");
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp") && n != "Fait_Retours.csv.tmp")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
