//! Spreadsheet exports, shared by the branch (sila-store, the desktop, the CLI) and headquarters
//! (sila-hq's console), so that HQ links no branch store for them: the file formats ([`format`]:
//! CSV and right-to-left XLSX from plain tables, never knowing what a row means) and the one
//! layout both sides write ([`beneficiary`]).

pub mod beneficiary;
pub mod format;

pub use format::{
    Cell, ExportError, FORMULA_TRIGGERS, Table, guard_formula, strip_formula_guard, write_csv,
    write_xlsx,
};
