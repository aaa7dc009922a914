//! XML the way Python's ElementTree `tree.write(f, encoding='utf-8', xml_declaration=True)` writes it: the
//! single-quoted declaration, then the whole document on one line, no indentation, no trailing newline; text
//! escapes `&`, `<` and `>` only; an element without content is `<tag />`.
//!
//! The XML files are small dimensions, so the document is built in memory.

use std::path::Path;

use crate::generate::GenerateError;
use crate::generate::output::AtomicFile;

pub struct XmlDoc {
    buf: String,
}

impl Default for XmlDoc {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlDoc {
    pub fn new() -> Self {
        Self { buf: String::from("<?xml version='1.0' encoding='utf-8'?>\n") }
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>text</tag>`, or `<tag />` for a missing value.
    pub fn leaf(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        match text {
            Some(t) => {
                self.open(tag);
                escape_into(&mut self.buf, t);
                self.close(tag)
            }
            None => {
                self.buf.push('<');
                self.buf.push_str(tag);
                self.buf.push_str(" />");
                self
            }
        }
    }

    /// Writes the document; returns its size in bytes.
    pub fn write(&self, dir: &Path, name: &str) -> Result<u64, GenerateError> {
        let mut f = AtomicFile::create(dir, name)?;
        f.write_all(self.buf.as_bytes())?;
        f.commit()
    }

    pub fn as_str(&self) -> &str {
        &self.buf
    }
}

fn escape_into(buf: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => buf.push_str("&amp;"),
            '<' => buf.push_str("&lt;"),
            '>' => buf.push_str("&gt;"),
            _ => buf.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_tree_shape() {
        let mut d = XmlDoc::new();
        d.open("Dim_Motif_Retour").open("Motif").leaf("ID_Motif", Some("4")).leaf("Motif", Some("Changement d'avis"));
        d.leaf("Note", Some("H&M <b>")).leaf("Vide", None).close("Motif").close("Dim_Motif_Retour");
        assert_eq!(
            d.as_str(),
            "<?xml version='1.0' encoding='utf-8'?>\n<Dim_Motif_Retour><Motif><ID_Motif>4</ID_Motif>\
             <Motif>Changement d'avis</Motif><Note>H&amp;M &lt;b&gt;</Note><Vide /></Motif></Dim_Motif_Retour>"
        );
    }
}
