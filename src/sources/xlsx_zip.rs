//! The zip container of an XLSX workbook, checked before and while calamine reads it.
//!
//! calamine stops reading a sheet's XML at `</sheetData>`, so the zip crate never reaches the end of the entry
//! where it compares the CRC-32: a flipped bit inside a number went unseen. And an entry's declared size bounds
//! what the zip crate will inflate, but nothing bounded the declared size: a 10 MB zip bomb inflated past 8 GiB.
//! [`check_sizes`] refuses oversized or over-compressed entries from the central directory alone (no
//! decompression); [`verify_crcs`] inflates every entry to its end, which checks its CRC-32.

use std::io::Cursor;

use super::error::{Result, SourceError};
use super::limits::{MAX_XLSX_ENTRY_BYTES, MAX_XLSX_RATIO, MAX_XLSX_TOTAL_BYTES, XLSX_RATIO_MIN_BYTES};

fn open<'a>(file: &str, bytes: &'a [u8]) -> Result<zip::ZipArchive<Cursor<&'a [u8]>>> {
    zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| SourceError::file(file, format!("not a readable XLSX workbook (expected a zip of sheets): {e}")))
}

/// Declared sizes within the limits; returns the total declared uncompressed size.
pub fn check_sizes(file: &str, bytes: &[u8]) -> Result<u64> {
    let mut zip = open(file, bytes)?;
    let mut total: u64 = 0;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| SourceError::file(file, format!("not a readable XLSX workbook: zip entry {i}: {e}")))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
        let (size, packed) = (entry.size(), entry.compressed_size());
        let refuse =
            |why: String| SourceError::file(file, format!("zip entry `{name}` {why} (the reader's limit against zip bombs); is the file corrupt?"));
        if size > MAX_XLSX_ENTRY_BYTES {
            return Err(refuse(format!("declares {size} uncompressed bytes, more than {MAX_XLSX_ENTRY_BYTES}")));
        }
        if size > XLSX_RATIO_MIN_BYTES && size / packed.max(1) > MAX_XLSX_RATIO {
            return Err(refuse(format!("expands {packed} bytes to {size}, more than {MAX_XLSX_RATIO} times")));
        }
        total = total.saturating_add(size);
        if total > MAX_XLSX_TOTAL_BYTES {
            return Err(refuse(format!("brings the workbook past {MAX_XLSX_TOTAL_BYTES} uncompressed bytes")));
        }
    }
    Ok(total)
}

/// Inflate every entry to its end: the zip crate then compares its CRC-32 (and refuses data longer than
/// declared). Every entry, not only those calamine reads: which sheet file a sheet name maps to is calamine's
/// business, and the other entries (styles, shared strings) matter as much.
pub fn verify_crcs(file: &str, bytes: &[u8]) -> Result<()> {
    let mut zip = open(file, bytes)?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| SourceError::file(file, format!("not a readable XLSX workbook: zip entry {i}: {e}")))?;
        let name = entry.name().map(|n| n.into_owned()).unwrap_or_else(|_| format!("#{i}"));
        std::io::copy(&mut entry, &mut std::io::sink())
            .map_err(|e| SourceError::file(file, format!("zip entry `{name}` is corrupt ({e}): the workbook was damaged in transfer or on disk")))?;
    }
    Ok(())
}
