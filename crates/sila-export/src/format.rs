//! Writing exports: CSV (UTF-8 with a byte-order mark, CRLF, RFC 4180 quoting) and right-to-left
//! XLSX workbooks, from plain tables of cells the store has already assembled.
//!
//! Owns: the file formats, the guard against formula injection (and its inverse, used by
//! sila-store's `sheet` on import), and writing through a temporary file so the real name only ever holds a
//! complete export.
//!
//! Must never: write a formula; write a national ID or a phone as a number (leading zeros and
//! ten-digit IDs would be mangled); leave a half-written file under the requested name; or know
//! what a beneficiary is: it writes whatever table it is given.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet};
use sila_domain::dates::format_gregorian;

/// A value in an exported table. IDs and phones are `Text`: `Int` is for quantities only.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Date(NaiveDate),
    Empty,
}

/// One sheet of an export (the only one for CSV).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The worksheet name; Arabic is fine. Characters Excel forbids are replaced and it is cut to
    /// 31 characters.
    pub name: String,
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    /// The workbook library refused the content (a sheet over Excel's row limit, a text over
    /// 32,767 characters). Its description names limits, never cell values.
    #[error("cannot build the workbook: {0}")]
    Xlsx(String),
}

impl ExportError {
    pub fn code(&self) -> &'static str {
        match self {
            ExportError::Io(_) => "io",
            ExportError::Xlsx(_) => "xlsx",
        }
    }

    pub fn arabic_message(&self) -> &'static str {
        match self {
            ExportError::Io(_) => {
                "تعذّر حفظ ملف التصدير. تأكد من وجود المجلد وصلاحية الكتابة فيه وأن الملف غير مفتوح."
            }
            ExportError::Xlsx(_) => {
                "تعذّر إنشاء ملف Excel: البيانات تتجاوز حدود Excel (عدد الصفوف أو طول النص)."
            }
        }
    }
}

impl From<rust_xlsxwriter::XlsxError> for ExportError {
    fn from(e: rust_xlsxwriter::XlsxError) -> Self {
        match e {
            rust_xlsxwriter::XlsxError::IoError(io) => ExportError::Io(io),
            other => ExportError::Xlsx(other.to_string()),
        }
    }
}

impl From<csv::Error> for ExportError {
    fn from(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => ExportError::Io(io),
            // The writer raises nothing else for byte-free string fields.
            _ => ExportError::Io(std::io::Error::other("csv writer error")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Formula injection
//
// A cell that starts with `=`, `+`, `-` or `@` is run as a formula by Excel, LibreOffice and
// Google Sheets when a CSV is opened (`=HYPERLINK(...)` leaking data, `=cmd|...` DDE); tab and
// carriage return can hide such a start. Names and notes come from beneficiaries and staff, so
// every such Text cell is written to CSV with a leading `'`, which those applications show as
// text (OWASP "CSV injection"). XLSX needs no prefix: cells are written with `write_string`,
// which stores a string that is never evaluated, and never with `write_formula`.
//
// To make export then import give back exactly what was exported, the rule is applied to any
// run of apostrophes before a trigger: the guard adds one `'` when the text is `'*` followed by
// a trigger, and the importer removes one when it is `'+` followed by a trigger. For everything
// a person would type this is "strip the one `'` before `=`".

/// Characters that make a spreadsheet application read a cell as a formula, or hide one.
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The text as it must be written to CSV.
pub fn guard_formula(text: &str) -> Cow<'_, str> {
    if text.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// The inverse of [`guard_formula`], applied by the importer to every cell it reads.
pub fn strip_formula_guard(text: &str) -> &str {
    match text.strip_prefix('\'') {
        Some(rest) if rest.trim_start_matches('\'').starts_with(FORMULA_TRIGGERS) => rest,
        _ => text,
    }
}

// ---------------------------------------------------------------------------------------------
// CSV

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Writes one table as CSV: UTF-8 with a byte-order mark (without it Excel reads Arabic as
/// mojibake), CRLF line ends, fields quoted only when RFC 4180 requires it, dates as yyyy-mm-dd.
pub fn write_csv(path: &Path, table: &Table) -> Result<(), ExportError> {
    write_via_temp_file(path, |file| {
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        out.write_all(UTF8_BOM)?;
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .quote_style(csv::QuoteStyle::Necessary)
            // Rows longer than the header are written as they are rather than refused.
            .flexible(true)
            .from_writer(out);
        writer.write_record(table.headers.iter().map(|h| guard_formula(h).into_owned()))?;
        // One reusable line buffer: exporting 100k rows allocates per cell only where a number
        // or date must be formatted or a formula guarded.
        let mut record: Vec<Cow<'_, str>> = Vec::new();
        for row in &table.rows {
            record.clear();
            record.extend(row.iter().map(csv_field));
            // Short rows are padded so every line has the header's field count (RFC 4180) and
            // columns stay aligned in Excel.
            while record.len() < table.headers.len() {
                record.push(Cow::Borrowed(""));
            }
            writer.write_record(record.iter().map(|f| f.as_bytes()))?;
        }
        let out = writer
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))?;
        let file = out
            .into_inner()
            .map_err(|e| ExportError::Io(e.into_error()))?;
        file.sync_all()?;
        Ok(())
    })
}

fn csv_field(cell: &Cell) -> Cow<'_, str> {
    match cell {
        Cell::Text(s) => guard_formula(s),
        Cell::Int(n) => Cow::Owned(n.to_string()),
        Cell::Date(d) => Cow::Owned(format_gregorian(*d)),
        Cell::Empty => Cow::Borrowed(""),
    }
}

// ---------------------------------------------------------------------------------------------
// XLSX

/// Excel's column-width bounds we keep to: narrower is unreadable, wider pushes other columns off
/// screen (long text still shows in the cell on selection).
const MIN_WIDTH: f64 = 8.0;
const MAX_WIDTH: f64 = 60.0;

/// Writes one worksheet per table: right to left, a bold frozen header row with a filter, column
/// widths fitted to the content, dates as real Excel dates shown yyyy-mm-dd, and text cells as
/// strings in text format, so an ID stays text even after someone edits it in Excel.
pub fn write_xlsx(path: &Path, tables: &[Table]) -> Result<(), ExportError> {
    let mut workbook = Workbook::new();
    let header_format = Format::new()
        .set_bold()
        .set_background_color(Color::RGB(0xD9E1F2))
        .set_border_bottom(FormatBorder::Thin);
    let text_format = Format::new().set_num_format("@");
    let date_format = Format::new().set_num_format("yyyy-mm-dd");
    let mut used_names: Vec<String> = Vec::new();

    for (index, table) in tables.iter().enumerate() {
        let worksheet = workbook.add_worksheet();
        worksheet.set_name(sheet_name(&table.name, index, &mut used_names))?;
        worksheet.set_right_to_left(true);
        let mut widths: Vec<usize> = Vec::new();

        for (c, header) in table.headers.iter().enumerate() {
            let col = column_number(c)?;
            worksheet.write_string_with_format(0, col, header.as_str(), &header_format)?;
            note_width(&mut widths, c, header.chars().count());
        }
        for (r, row) in table.rows.iter().enumerate() {
            let r = row_number(r + 1)?;
            for (c, cell) in row.iter().enumerate() {
                let col = column_number(c)?;
                let width = write_cell(worksheet, r, col, cell, &text_format, &date_format)?;
                note_width(&mut widths, c, width);
            }
        }

        worksheet.set_freeze_panes(1, 0)?;
        if let Some(last) = table.headers.len().checked_sub(1) {
            worksheet.autofilter(0, 0, row_number(table.rows.len())?, column_number(last)?)?;
        }
        for (c, &chars) in widths.iter().enumerate() {
            // Bold header text and Arabic glyphs run a little wider than one unit per character.
            let width = (chars as f64 * 1.1 + 2.0).clamp(MIN_WIDTH, MAX_WIDTH);
            worksheet.set_column_width(column_number(c)?, width)?;
        }
    }

    write_via_temp_file(path, |mut file| {
        workbook.save_to_writer(&mut file)?;
        file.sync_all()?;
        Ok(())
    })
}

/// Writes one cell and returns how many characters wide it shows.
fn write_cell(
    worksheet: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    text_format: &Format,
    date_format: &Format,
) -> Result<usize, ExportError> {
    match cell {
        Cell::Empty => Ok(0),
        Cell::Text(s) if s.is_empty() => Ok(0),
        Cell::Text(s) => {
            // write_string stores a string, never a formula: this is the XLSX injection guard.
            worksheet.write_string_with_format(row, col, s.as_str(), text_format)?;
            Ok(s.chars().count())
        }
        Cell::Int(n) => {
            worksheet.write_number(row, col, *n as f64)?;
            Ok(n.to_string().len())
        }
        Cell::Date(d) => {
            let excel = u16::try_from(d.year())
                .ok()
                .and_then(|y| ExcelDateTime::from_ymd(y, d.month() as u8, d.day() as u8).ok());
            match excel {
                Some(dt) => {
                    worksheet.write_datetime_with_format(row, col, &dt, date_format)?;
                }
                // Excel has no dates before 1900; such a date is still shown, as ISO text.
                None => {
                    worksheet.write_string_with_format(
                        row,
                        col,
                        format_gregorian(*d),
                        text_format,
                    )?;
                }
            }
            Ok(10)
        }
    }
}

fn note_width(widths: &mut Vec<usize>, column: usize, chars: usize) {
    if widths.len() <= column {
        widths.resize(column + 1, 0);
    }
    widths[column] = widths[column].max(chars);
}

fn row_number(r: usize) -> Result<u32, ExportError> {
    // Excel's limit; rust_xlsxwriter checks it too, this only keeps the cast honest.
    u32::try_from(r)
        .ok()
        .filter(|&r| r < 1_048_576)
        .ok_or_else(|| ExportError::Xlsx("more rows than an Excel worksheet holds".into()))
}

fn column_number(c: usize) -> Result<u16, ExportError> {
    u16::try_from(c)
        .ok()
        .filter(|&c| c < 16_384)
        .ok_or_else(|| ExportError::Xlsx("more columns than an Excel worksheet holds".into()))
}

/// A worksheet name Excel accepts: no `[ ] : * ? / \`, not blank, no apostrophe at either end,
/// at most 31 characters, unique regardless of case, and not the reserved "History".
fn sheet_name(wanted: &str, index: usize, used: &mut Vec<String>) -> String {
    let cleaned: String = wanted
        .chars()
        .map(|c| {
            if "[]:*?/\\".contains(c) || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let mut base = cleaned.trim().trim_matches('\'').trim().to_owned();
    if base.is_empty() || base.eq_ignore_ascii_case("history") {
        base = format!("Sheet{}", index + 1);
    }
    let fit = |s: &str, room: usize| s.chars().take(room).collect::<String>();
    let mut name = fit(&base, 31);
    let mut n = 2;
    while used.iter().any(|u| u.to_lowercase() == name.to_lowercase()) {
        let suffix = format!(" ({n})");
        name = format!("{}{suffix}", fit(&base, 31 - suffix.chars().count()));
        n += 1;
    }
    used.push(name.clone());
    name
}

// ---------------------------------------------------------------------------------------------
// Atomic replacement

/// Runs `write` on a new temporary file beside `path`, then renames it over `path`. A crash, a
/// full disk or an error halfway leaves the previous file (or none) under the real name, never a
/// truncated export that looks complete; the temporary file is removed on error.
fn write_via_temp_file(
    path: &Path,
    write: impl FnOnce(File) -> Result<(), ExportError>,
) -> Result<(), ExportError> {
    let file_name = path.file_name().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the export path has no file name",
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = dir.join(format!(
        ".{}.{}.partial",
        file_name.to_string_lossy(),
        uuid::Uuid::now_v7().simple()
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    let result = write(file).and_then(|()| fs::rename(&temp, path).map_err(ExportError::from));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
        return result;
    }
    // Make the rename itself durable where the platform allows syncing a directory.
    #[cfg(unix)]
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_made_acceptable_to_excel() {
        let mut used = Vec::new();
        let long = "أ".repeat(40);
        for (i, (wanted, expect)) in [
            ("المستفيدون", "المستفيدون".to_owned()),
            ("المستفيدون", "المستفيدون (2)".to_owned()),
            ("a/b:c?[d]*", "a_b_c__d__".to_owned()),
            ("  ", "Sheet4".to_owned()),
            ("'History'", "Sheet5".to_owned()),
            (long.as_str(), "أ".repeat(31)),
            (long.as_str(), format!("{} (2)", "أ".repeat(27))),
            ("SHEET", "SHEET".to_owned()),
            ("sheet", "sheet (2)".to_owned()),
        ]
        .into_iter()
        .enumerate()
        {
            assert_eq!(sheet_name(wanted, i, &mut used), expect, "{wanted:?}");
        }
        // And Excel (through rust_xlsxwriter's checks) accepts them all in one workbook.
        let dir = tempfile::tempdir().unwrap();
        let tables: Vec<Table> = ["a", "a", "[x]", "", long.as_str(), long.as_str()]
            .iter()
            .map(|n| Table {
                name: (*n).into(),
                headers: vec![],
                rows: vec![],
            })
            .collect();
        write_xlsx(&dir.path().join("names.xlsx"), &tables).unwrap();
    }
}
