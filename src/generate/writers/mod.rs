//! File-format writers: each knows one format's syntax and the quirks of the tool whose output it imitates
//! (pandas CSV, Python json, ElementTree XML, pandas/openpyxl XLSX, mysqldump), and nothing of the business.

pub mod csv;
pub mod fmt;
pub mod json;
pub mod sql_dump;
pub mod xlsx;
pub mod xml;
