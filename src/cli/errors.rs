//! Turning errors into the one line a user reads: the source layer's own message (file, line, column), not
//! DataFusion's wrapping of it.

use datafusion::common::DataFusionError;

use crate::sources::SourceError;

pub fn describe_error(e: &DataFusionError) -> String {
    let mut current: &DataFusionError = e;
    loop {
        match current {
            DataFusionError::External(inner) => {
                if let Some(s) = inner.downcast_ref::<SourceError>() {
                    return s.to_string();
                }
                if let Some(d) = inner.downcast_ref::<DataFusionError>() {
                    current = d;
                    continue;
                }
                return inner.to_string();
            }
            DataFusionError::Context(_, inner) => current = inner,
            DataFusionError::Shared(inner) => current = inner,
            DataFusionError::Diagnostic(_, inner) => current = inner,
            other => return other.to_string(),
        }
    }
}

/// The candidate closest to `name` by edit distance, if close enough to be a plausible typo.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, c)| *d <= (c.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Add "did you mean" to DataFusion's "table 'x.y.Name' not found".
pub fn with_table_suggestion(message: String, tables: &[String]) -> String {
    let Some(rest) = message.split("table '").nth(1) else { return message };
    let Some(full) = rest.split("' not found").next() else { return message };
    let name = full.rsplit('.').next().unwrap_or(full);
    match did_you_mean(name, tables.iter().map(String::as_str)) {
        Some(s) => format!("{message}; did you mean `{s}`?"),
        None => format!("{message}; the tables are: {}", tables.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("Dim_Clien", ["Dim_Canal", "Dim_Client"]), Some("Dim_Client"));
        assert_eq!(did_you_mean("fait_ventes", ["Fait_Ventes", "base_ventes"]), Some("Fait_Ventes"));
        assert_eq!(did_you_mean("zzz", ["Dim_Client"]), None);
        let m = with_table_suggestion("Error during planning: table 'omnimarket.raw.Dim_Clien' not found".into(), &["Dim_Client".into()]);
        assert!(m.ends_with("did you mean `Dim_Client`?"), "{m}");
    }
}
