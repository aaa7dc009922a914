//! The product catalogue (Dim_Produit): 300 products in 6 categories, with prices, costs and how popular each is.
//!
//! The catalogue does not scale with `--scale`. Popularity is skewed (log-normal within a category, with fixed
//! category shares) so that an ABC analysis of products finds a real head and tail.

use rand::Rng;
use rand::rngs::StdRng;

use super::rng::{Weighted, normal};

/// A product category; the order is the one of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Electronique,
    Mode,
    Maison,
    Beaute,
    Sport,
    Livres,
}

impl Category {
    pub const ALL: [Category; 6] = [Category::Electronique, Category::Mode, Category::Maison, Category::Beaute, Category::Sport, Category::Livres];

    pub fn label(self) -> &'static str {
        match self {
            Category::Electronique => "Électronique",
            Category::Mode => "Mode",
            Category::Maison => "Maison",
            Category::Beaute => "Beauté",
            Category::Sport => "Sport",
            Category::Livres => "Livres",
        }
    }

    /// How many of the 300 products belong to the category.
    fn product_count(self) -> usize {
        match self {
            Category::Electronique => 50,
            Category::Mode => 70,
            Category::Maison => 50,
            Category::Beaute => 45,
            Category::Sport => 45,
            Category::Livres => 40,
        }
    }

    /// Share of the category in the number of sales lines.
    fn sales_share(self) -> f64 {
        match self {
            Category::Electronique => 0.20,
            Category::Mode => 0.30,
            Category::Maison => 0.15,
            Category::Beaute => 0.15,
            Category::Sport => 0.12,
            Category::Livres => 0.08,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A sub-category: the generic product names it sells, its brands, its price range (MAD) and weight range (kg).
struct SubCategory {
    name: &'static str,
    bases: &'static [&'static str],
    brands: &'static [&'static str],
    price: (f64, f64),
    weight: (f64, f64),
}

const fn sub(
    name: &'static str,
    bases: &'static [&'static str],
    brands: &'static [&'static str],
    price: (f64, f64),
    weight: (f64, f64),
) -> SubCategory {
    SubCategory { name, bases, brands, price, weight }
}

const TECH: &[&str] = &["Samsung", "Apple", "Xiaomi", "Huawei", "Oppo"];
const PC: &[&str] = &["HP", "Lenovo", "Dell", "Asus", "Apple"];
const AUDIO: &[&str] = &["Sony", "JBL", "Samsung", "Bose", "Xiaomi"];
const TV: &[&str] = &["Samsung", "LG", "Sony", "TCL", "Hisense"];
const MODE: &[&str] = &["Zara", "H&M", "LC Waikiki", "Marwa", "Defacto", "Bershka"];
const SHOES: &[&str] = &["Nike", "Adidas", "Puma", "Zara", "Bata"];
const TRAD: &[&str] = &["Marwa", "Dar Caftan", "Artisanat de Fès", "Maison Fassi"];
const HOME: &[&str] = &["Kitea", "IKEA", "Mobilia", "Atlas Déco"];
const APPLIANCES: &[&str] = &["Moulinex", "Tefal", "Philips", "Bosch", "Samsung"];
const BEAUTY: &[&str] = &["L'Oréal", "Nivea", "Garnier", "Maybelline", "Yves Rocher", "Dove"];
const ARGAN: &[&str] = &["Argania", "Zineglob", "Coopérative Tighanimine", "Nectarome"];
const PERFUME: &[&str] = &["Dior", "Chanel", "Yves Saint Laurent", "Lattafa"];
const SPORT: &[&str] = &["Domyos", "Kalenji", "Kipsta", "Nike", "Adidas", "Puma"];
const BOOKS: &[&str] = &["Le Fennec", "La Croisée des Chemins", "Gallimard", "Hachette", "Dar Al Kitab"];

fn sub_categories(cat: Category) -> &'static [SubCategory] {
    const ELEC: &[SubCategory] = &[
        sub("Smartphones", &["Smartphone"], TECH, (1500.0, 14000.0), (0.15, 0.25)),
        sub("Ordinateurs", &["Ordinateur portable", "PC de bureau"], PC, (3500.0, 18000.0), (1.2, 8.0)),
        sub("Tablettes", &["Tablette"], TECH, (1200.0, 9000.0), (0.3, 0.7)),
        sub("Audio", &["Casque audio", "Écouteurs sans fil", "Enceinte Bluetooth"], AUDIO, (150.0, 3500.0), (0.05, 1.5)),
        sub("TV", &["Téléviseur LED", "Smart TV"], TV, (2500.0, 16000.0), (6.0, 20.0)),
        sub("Accessoires", &["Chargeur rapide", "Power bank", "Souris sans fil"], TECH, (50.0, 500.0), (0.05, 0.4)),
    ];
    const MODE_SUBS: &[SubCategory] = &[
        sub("T-shirts", &["T-shirt", "Polo"], MODE, (80.0, 350.0), (0.15, 0.3)),
        sub("Chemises", &["Chemise", "Blouse"], MODE, (150.0, 600.0), (0.2, 0.4)),
        sub("Pantalons", &["Jean", "Pantalon chino"], MODE, (200.0, 800.0), (0.4, 0.8)),
        sub("Robes", &["Robe", "Jupe"], MODE, (200.0, 1200.0), (0.3, 0.7)),
        sub("Chaussures", &["Baskets", "Sandales", "Mocassins"], SHOES, (250.0, 1800.0), (0.6, 1.4)),
        sub("Vestes", &["Veste", "Manteau"], MODE, (400.0, 2000.0), (0.8, 2.0)),
        sub("Tenues traditionnelles", &["Djellaba", "Caftan", "Babouches"], TRAD, (300.0, 4500.0), (0.4, 1.5)),
    ];
    const MAISON: &[SubCategory] = &[
        sub("Cuisine", &["Poêle", "Set de casseroles", "Tajine"], APPLIANCES, (120.0, 1500.0), (0.8, 5.0)),
        sub("Décoration", &["Lampe", "Miroir", "Tapis berbère"], HOME, (150.0, 3000.0), (0.5, 8.0)),
        sub("Literie", &["Couette", "Parure de lit", "Oreiller"], HOME, (150.0, 1800.0), (0.8, 4.0)),
        sub("Électroménager", &["Aspirateur", "Machine à café", "Robot pâtissier"], APPLIANCES, (500.0, 6000.0), (2.0, 9.0)),
        sub("Rangement", &["Étagère", "Boîte de rangement", "Armoire"], HOME, (100.0, 2500.0), (1.0, 25.0)),
    ];
    const BEAUTE: &[SubCategory] = &[
        sub("Soins visage", &["Crème hydratante", "Sérum", "Masque"], BEAUTY, (60.0, 450.0), (0.05, 0.3)),
        sub("Maquillage", &["Rouge à lèvres", "Mascara", "Fond de teint"], BEAUTY, (40.0, 350.0), (0.02, 0.2)),
        sub("Parfums", &["Eau de parfum", "Eau de toilette"], PERFUME, (250.0, 1500.0), (0.2, 0.5)),
        sub("Cheveux", &["Shampooing", "Après-shampooing"], BEAUTY, (40.0, 200.0), (0.2, 0.6)),
        sub("Huiles", &["Huile d'argan", "Savon noir", "Ghassoul"], ARGAN, (50.0, 400.0), (0.1, 0.5)),
    ];
    const SPORTS: &[SubCategory] = &[
        sub("Fitness", &["Haltères", "Tapis de yoga", "Banc de musculation"], SPORT, (100.0, 4000.0), (1.0, 30.0)),
        sub("Running", &["Chaussures de running", "Short de running"], SPORT, (150.0, 1500.0), (0.2, 0.9)),
        sub("Football", &["Ballon de football", "Maillot", "Crampons"], SPORT, (100.0, 1200.0), (0.3, 1.0)),
        sub("Cyclisme", &["Vélo", "Casque vélo"], SPORT, (300.0, 6000.0), (0.4, 15.0)),
        sub("Natation", &["Maillot de bain", "Lunettes de natation"], SPORT, (60.0, 500.0), (0.1, 0.4)),
    ];
    const LIVRES: &[SubCategory] = &[
        sub("Romans", &["Roman"], BOOKS, (40.0, 250.0), (0.2, 0.7)),
        sub("Jeunesse", &["Album jeunesse", "Conte"], BOOKS, (30.0, 180.0), (0.2, 0.6)),
        sub("Cuisine", &["Livre de cuisine marocaine"], BOOKS, (80.0, 400.0), (0.5, 1.5)),
        sub("Scolaire", &["Manuel scolaire", "Dictionnaire"], BOOKS, (50.0, 350.0), (0.4, 1.8)),
        sub("Développement personnel", &["Essai", "Guide pratique"], BOOKS, (60.0, 250.0), (0.2, 0.6)),
    ];
    match cat {
        Category::Electronique => ELEC,
        Category::Mode => MODE_SUBS,
        Category::Maison => MAISON,
        Category::Beaute => BEAUTE,
        Category::Sport => SPORTS,
        Category::Livres => LIVRES,
    }
}

/// Name suffixes that make products of the same base and brand distinct.
fn variants(cat: Category) -> &'static [&'static str] {
    match cat {
        Category::Electronique => &["Pro", "Lite", "Max", "Plus", "Ultra", "SE", "Neo"],
        Category::Mode => &["Noir", "Blanc", "Bleu marine", "Beige", "Rouge", "Vert olive", "Gris"],
        Category::Maison => &["Classique", "Design", "Premium", "Compact", "Familial"],
        Category::Beaute => &["Bio", "Intense", "Douceur", "Éclat", "Nutrition"],
        Category::Sport => &["Essentiel", "Performance", "Confort", "Compétition"],
        Category::Livres => &["Tome 1", "Tome 2", "Édition poche", "Édition illustrée", "Nouvelle édition"],
    }
}

/// One row of Dim_Produit. Money in cents, weight in hundredths of a kilogram.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: u32,
    pub sku: String,
    pub name: String,
    pub category: Category,
    pub sous_categorie: &'static str,
    pub marque: &'static str,
    pub prix_cents: i64,
    pub cout_cents: i64,
    pub poids_centikg: i64,
    pub actif: bool,
}

/// The catalogue and the popularity of each product.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub products: Vec<Product>,
    popularity: Weighted,
}

impl Catalog {
    pub fn generate(rng: &mut StdRng) -> Self {
        let mut products = Vec::new();
        let mut weights = Vec::new();
        let mut names = std::collections::HashSet::new();
        for cat in Category::ALL {
            let subs = sub_categories(cat);
            let count = cat.product_count();
            let mut cat_weights = Vec::with_capacity(count);
            for k in 0..count {
                let sc = &subs[k % subs.len()];
                let base = sc.bases[rng.random_range(0..sc.bases.len())];
                let marque = sc.brands[rng.random_range(0..sc.brands.len())];
                let vs = variants(cat);
                let variant = vs[rng.random_range(0..vs.len())];
                let mut name = format!("{base} {marque} {variant}");
                let mut n = 2;
                while !names.insert(name.clone()) {
                    name = format!("{base} {marque} {variant} v{n}");
                    n += 1;
                }
                // Log-uniform price within the sub-category range: many cheap items, a few expensive ones.
                let (lo, hi) = sc.price;
                let price = (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp();
                let prix_cents = (price * 100.0).round() as i64;
                let cost_ratio = rng.random_range(0.60..0.80);
                let cout_cents = (prix_cents as f64 * cost_ratio).round() as i64;
                let (wlo, whi) = sc.weight;
                let poids_centikg = ((wlo + rng.random::<f64>() * (whi - wlo)) * 100.0).round().max(1.0) as i64;
                let id = products.len() as u32 + 1;
                products.push(Product {
                    id,
                    sku: format!("SKU{id:05}"),
                    name,
                    category: cat,
                    sous_categorie: sc.name,
                    marque,
                    prix_cents,
                    cout_cents,
                    poids_centikg,
                    actif: rng.random::<f64>() >= 0.05,
                });
                let inactive_penalty = if products.last().is_some_and(|p| !p.actif) { 0.2 } else { 1.0 };
                cat_weights.push((0.9 * normal(rng)).exp() * inactive_penalty);
            }
            let sum: f64 = cat_weights.iter().sum();
            weights.extend(cat_weights.iter().map(|w| w / sum * cat.sales_share()));
        }
        Self { products, popularity: Weighted::new(&weights) }
    }

    /// Draws the index (not the id) of a product, by popularity.
    pub fn sample(&self, rng: &mut StdRng) -> usize {
        self.popularity.sample(rng)
    }

    /// Share of sales lines expected in each category, indexed like [`Category::ALL`].
    pub fn category_shares() -> [f64; 6] {
        Category::ALL.map(Category::sales_share)
    }

    pub fn category_index(cat: Category) -> usize {
        cat.index()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::rng::{Stream, stream};

    #[test]
    fn three_hundred_products_with_costs_in_range() {
        let c = Catalog::generate(&mut stream(42, Stream::Products));
        assert_eq!(c.products.len(), 300);
        for p in &c.products {
            let r = p.cout_cents as f64 / p.prix_cents as f64;
            assert!((0.59..=0.81).contains(&r), "{p:?}");
            assert!(p.prix_cents > 0 && p.poids_centikg > 0);
        }
        let names: std::collections::HashSet<_> = c.products.iter().map(|p| &p.name).collect();
        assert_eq!(names.len(), 300);
        assert_eq!(c.products[0].sku, "SKU00001");
        assert_eq!(c.products[299].id, 300);
    }
}
