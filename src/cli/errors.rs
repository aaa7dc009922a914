//! Error text for the command line: suggestions on top of [`crate::errors::describe_error`].

use crate::suggest::did_you_mean;

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
        let m = with_table_suggestion("Error during planning: table 'omnimarket.raw.Dim_Clien' not found".into(), &["Dim_Client".into()]);
        assert!(m.ends_with("did you mean `Dim_Client`?"), "{m}");
    }
}
