//! Reading beneficiary spreadsheets (CSV and XLSX) into validated import rows.
//!
//! Owns: recognising the file format, decoding CSV (byte-order mark, delimiter, ragged rows, rows
//! that are not UTF-8), turning XLSX cells into text and dates, recognising the header row in
//! Arabic and English, and checking every row with the domain's parsers. A row either becomes an
//! [`ImportedBeneficiary`] or one [`RowError`] per bad cell; the store decides what to do with them.
//!
//! Must never: touch the database; evaluate or execute anything found in a cell (a formula or a
//! `<script>` is data and stays verbatim); put a cell's value into an error, a message or a log
//! (these files hold national IDs and incomes); panic on any input; or read a file beyond the
//! limits below. It reads no clock: "today" is passed in.

use std::borrow::Cow;
use std::io::{Cursor, Read};
use std::path::Path;
use std::sync::LazyLock;

use calamine::{DataRef, Reader, SheetType, SheetVisible, Xlsx, XlsxError};
use chrono::NaiveDate;
use serde::Serialize;
use sila_domain::arabic;
use sila_domain::beneficiary::{Gender, PersonName, parse_riyals};
use sila_domain::dates;
use sila_domain::national_id::NationalId;
use sila_domain::phone::Mobile;

/// A cell longer than this is refused: no field of a beneficiary needs more, and a sheet with
/// megabyte cells is a mistake or an attack, not a list of people.
pub const MAX_CELL_CHARS: usize = 500;
/// More data rows than this and the whole sheet is refused before it eats the machine's memory.
pub const MAX_DATA_ROWS: usize = 1_000_000;
/// An XLSX is unpacked in memory (shared strings at least), so its compressed size is capped.
pub const MAX_XLSX_BYTES: u64 = 200 * 1024 * 1024;
const PROGRESS_EVERY: usize = 1_000;
/// Sheets made by hand often carry a title ("كشف المستفيدين") above the header. This many
/// non-empty rows are looked at for a header before the sheet is refused.
const MAX_TITLE_ROWS: usize = 10;
/// Excel's own column limit (XFD); a cell reference beyond it is garbage and is skipped, so a
/// crafted reference cannot make us allocate a huge row.
const MAX_COLUMNS: usize = 16_384;
/// How much of a CSV is looked at to find its delimiter.
const CSV_SNIFF_BYTES: u64 = 64 * 1024;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One beneficiary as a sheet row describes it, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedBeneficiary {
    pub name: PersonName,
    pub national_id: Option<NationalId>,
    pub mobile: Option<Mobile>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub city: String,
    pub district: String,
    pub household_size: Option<u16>,
    pub monthly_income_halalas: Option<i64>,
    /// The file number the branch gave this person (an export's "رقم الملف"), in capitals.
    pub file_number: Option<String>,
}

/// A valid row and where it was in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetRow {
    /// The row number as the user sees it in Excel (the header is normally row 1).
    pub row: usize,
    pub beneficiary: ImportedBeneficiary,
}

/// One problem in one cell (or in a whole row when `column` is empty).
///
/// The message is Arabic and never contains the cell's value: reports of rejected rows are shown,
/// printed and sent as JSON, and must not spread the personal data they are about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub row: usize,
    /// The header text as written in the file; "" for a problem with the whole row.
    pub column: String,
    pub code: String,
    pub message: String,
}

/// What a sheet held: valid rows, every problem found, and how many non-empty data rows there were
/// (valid or not; entirely empty rows are not counted).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    pub rows: Vec<SheetRow>,
    pub rejected: Vec<RowError>,
    pub total_rows: usize,
    /// The header row: each column's text as written and the field it was recognised as
    /// ("full_name", "national_id" …), or None for a column the import leaves out.
    pub columns: Vec<(String, Option<&'static str>)>,
    /// Reading stopped after the rows a preview asked for: more may follow.
    pub truncated: bool,
}

/// Why a whole file could not be read. The payload of `Unreadable` is a fixed English description
/// for developers; it never quotes the file's content.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is neither CSV nor XLSX")]
    UnknownFormat,
    #[error("the file cannot be read: {0}")]
    Unreadable(String),
    #[error("no name column was found in the header row")]
    NoNameColumn,
    #[error("the sheet has no data rows")]
    Empty,
    #[error("the sheet is too large (more than 1,000,000 rows or a workbook over 200 MB)")]
    TooLarge,
}

impl SheetError {
    pub fn code(&self) -> &'static str {
        match self {
            SheetError::Io(_) => "io",
            SheetError::UnknownFormat => "unknown_format",
            SheetError::Unreadable(_) => "unreadable",
            SheetError::NoNameColumn => "no_name_column",
            SheetError::Empty => "empty",
            SheetError::TooLarge => "too_large",
        }
    }

    pub fn arabic_message(&self) -> String {
        match self {
            SheetError::Io(_) => {
                "تعذّرت قراءة الملف. تأكد أنه موجود وغير مفتوح في برنامج آخر.".into()
            }
            SheetError::UnknownFormat => {
                "صيغة الملف غير مدعومة. استخدم ملف Excel بصيغة xlsx أو ملف CSV.".into()
            }
            SheetError::Unreadable(_) => "تعذّرت قراءة الملف: قد يكون تالفًا أو محميًا بكلمة مرور \
                 أو بصيغة xls القديمة. احفظه بصيغة xlsx، أو بصيغة «CSV UTF-8» إن كان CSV."
                .into(),
            SheetError::NoNameColumn => "لم يُعثر على عمود الاسم في صف العناوين. سمِّ العمود \
                 «الاسم الكامل» أو استخدم أعمدة «الاسم الأول» و«اسم الأب» و«اسم الجد» و«اسم العائلة»."
                .into(),
            SheetError::Empty => "لا يحتوي الملف على صفوف بيانات (تُقرأ الورقة الأولى فقط).".into(),
            SheetError::TooLarge => {
                "الملف أكبر من المسموح: مليون صف على الأكثر، وحجم ملف Excel حتى 200 ميغابايت.".into()
            }
        }
    }
}

/// Reads a CSV or XLSX beneficiary sheet.
///
/// The format is taken from the content when it is a zip archive (an XLSX), otherwise from the
/// extension. `today` decides which birth dates are in the future. `progress(rows_read, total)`
/// is called every 1,000 data rows and once at the end; `total` is 0 while it is unknown.
pub fn read_sheet(
    path: &Path,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Sheet, SheetError> {
    read_sheet_limited(path, today, progress, None)
}

/// A sheet held in memory (the desktop app's import: the file the person picked, never copied to
/// disk in the clear), named `file_name` for its extension. `limit` stops after that many
/// non-empty data rows, for a preview that shows what an import would do before anything is saved.
pub fn read_sheet_bytes(
    bytes: &[u8],
    file_name: &str,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
    limit: Option<usize>,
) -> Result<Sheet, SheetError> {
    if bytes.is_empty() {
        return Err(SheetError::Empty);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        if bytes.len() as u64 > MAX_XLSX_BYTES {
            return Err(SheetError::TooLarge);
        }
        return read_xlsx_from(Cursor::new(bytes), today, progress, limit);
    }
    if bytes.starts_with(b"\xD0\xCF\x11\xE0") {
        return Err(SheetError::Unreadable(
            "legacy .xls or password-protected workbook".into(),
        ));
    }
    let extension = Path::new(file_name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "csv" | "txt" | "tsv" => read_csv(bytes, today, progress, limit),
        "xlsx" | "xlsm" => Err(SheetError::Unreadable(
            "the .xlsx file is not a zip archive".into(),
        )),
        _ => Err(SheetError::UnknownFormat),
    }
}

fn read_sheet_limited(
    path: &Path,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
    limit: Option<usize>,
) -> Result<Sheet, SheetError> {
    let mut file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let mut magic = Vec::with_capacity(8);
    (&mut file).take(8).read_to_end(&mut magic)?;
    if magic.is_empty() {
        return Err(SheetError::Empty);
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();

    if magic.starts_with(b"PK\x03\x04") {
        if size > MAX_XLSX_BYTES {
            return Err(SheetError::TooLarge);
        }
        drop(file);
        return read_xlsx(path, today, progress, limit);
    }
    if magic.starts_with(b"\xD0\xCF\x11\xE0") {
        // An OLE compound file: the old .xls format, or an .xlsx that Excel encrypted with a
        // password. Neither can be read here; the user must re-save it.
        return Err(SheetError::Unreadable(
            "legacy .xls or password-protected workbook".into(),
        ));
    }
    match extension.as_str() {
        "csv" | "txt" | "tsv" => {
            let input = Cursor::new(magic).chain(file);
            read_csv(input, today, progress, limit)
        }
        "xlsx" | "xlsm" => Err(SheetError::Unreadable(
            "the .xlsx file is not a zip archive".into(),
        )),
        _ => Err(SheetError::UnknownFormat),
    }
}

/// Reads a CSV held in memory: UTF-8 with or without a byte-order mark, delimited by `,`, `;` or a
/// tab (whichever the header line uses).
pub fn read_csv_bytes(
    bytes: &[u8],
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Sheet, SheetError> {
    read_csv(bytes, today, progress, None)
}

fn read_csv<R: Read>(
    mut input: R,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
    limit: Option<usize>,
) -> Result<Sheet, SheetError> {
    // The delimiter is decided from the start of the file, then the same bytes are replayed in
    // front of the rest so the file is still read once, streaming.
    let mut head = Vec::new();
    (&mut input).take(CSV_SNIFF_BYTES).read_to_end(&mut head)?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        let text = decode_utf16(head, input)?;
        return read_csv(text.as_bytes(), today, progress, limit);
    }
    let skip = if head.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    };
    let delimiter = detect_delimiter(&head[skip..]);
    let mut head = Cursor::new(head);
    head.set_position(skip as u64);

    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .buffer_capacity(64 * 1024)
        .from_reader(head.chain(input));

    let mut importer = Importer::new(today, progress, 0);
    importer.limit = limit;
    // One record buffer for the whole file: reading 100k rows allocates nothing per row here.
    let mut record = csv::ByteRecord::new();
    let mut excel_row = 0usize;
    let mut lines_before = reader.position().line();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(e)),
        }
        // The csv reader skips blank lines, but Excel shows each as an empty row, so the row
        // number must count them. Of the line feeds consumed for this record, one ends a line
        // of it and those inside quoted cells belong to it (a multi-line cell is still one row
        // in Excel); the rest were blank lines before it.
        let lines_now = reader.position().line();
        let consumed = lines_now.saturating_sub(lines_before) as usize;
        lines_before = lines_now;
        let inside = record.as_slice().iter().filter(|&&b| b == b'\n').count();
        excel_row += 1 + consumed.saturating_sub(1 + inside);
        if !importer.push_row(excel_row, &CsvRow(&record))? {
            break;
        }
    }
    importer.finish()
}

/// Excel's "Unicode Text" export is UTF-16 with a byte-order mark (and tab-separated); it is
/// the other common way Arabic leaves Excel as text. It is decoded whole, under a size cap, and
/// then read as any CSV.
fn decode_utf16(head: Vec<u8>, rest: impl Read) -> Result<String, SheetError> {
    const MAX_UTF16_BYTES: u64 = 512 * 1024 * 1024;
    let mut bytes = head;
    rest.take(MAX_UTF16_BYTES).read_to_end(&mut bytes)?;
    if bytes.len() as u64 >= MAX_UTF16_BYTES {
        return Err(SheetError::TooLarge);
    }
    let big_endian = bytes.starts_with(b"\xFE\xFF");
    let units = bytes[2..].chunks(2).map(|pair| match (pair, big_endian) {
        ([a, b], false) => u16::from_le_bytes([*a, *b]),
        ([a, b], true) => u16::from_be_bytes([*a, *b]),
        // An odd trailing byte cannot be a character; it decodes as an invalid unit.
        _ => 0xDC00,
    });
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|_| SheetError::Unreadable("invalid UTF-16 text".into()))
}

fn csv_error(e: csv::Error) -> SheetError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => SheetError::Io(io),
        // Byte records with flexible rows raise no other error in practice; the description of
        // one never quotes the data.
        _ => SheetError::Unreadable("malformed CSV".into()),
    }
}

/// Picks `,`, `;` or tab: the one used most, outside quotes, on the first non-blank line (the
/// header, or a title row, which Excel saves padded with delimiters). Later lines are not
/// consulted: in a one-column file a `;` inside a name must not become the delimiter. Ties and
/// lines with none go to `,`, then `;`.
fn detect_delimiter(head: &[u8]) -> u8 {
    const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];
    let mut counts = [0usize; 3];
    let mut in_quotes = false;
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(head.len());
    for &b in &head[start..] {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => break,
            _ if !in_quotes => {
                if let Some(i) = CANDIDATES.iter().position(|&d| d == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for i in 1..CANDIDATES.len() {
        if counts[i] > counts[best] {
            best = i;
        }
    }
    CANDIDATES[best]
}

fn read_xlsx(
    path: &Path,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
    limit: Option<usize>,
) -> Result<Sheet, SheetError> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    read_xlsx_from(file, today, progress, limit)
}

fn read_xlsx_from<RS: Read + std::io::Seek>(
    reader: RS,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
    limit: Option<usize>,
) -> Result<Sheet, SheetError> {
    // calamine is a parser of untrusted zip and XML; should it ever panic on a crafted file, the
    // user gets "unreadable" instead of a crashed app.
    let run = std::panic::AssertUnwindSafe(|| read_xlsx_inner(reader, today, progress, limit));
    match std::panic::catch_unwind(run) {
        Ok(result) => result,
        Err(_) => Err(SheetError::Unreadable("the workbook parser failed".into())),
    }
}

fn read_xlsx_inner<RS: Read + std::io::Seek>(
    reader: RS,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize, usize),
    limit: Option<usize>,
) -> Result<Sheet, SheetError> {
    let mut workbook: Xlsx<_> = Xlsx::new(reader).map_err(xlsx_error)?;
    // "The first worksheet" as the user sees it: hidden sheets (lookup lists in templates) and
    // chart sheets are passed over.
    let name = workbook
        .sheets_metadata()
        .iter()
        .find(|s| s.typ == SheetType::WorkSheet && s.visible == SheetVisible::Visible)
        .or_else(|| {
            workbook
                .sheets_metadata()
                .iter()
                .find(|s| s.typ == SheetType::WorkSheet)
        })
        .map(|s| s.name.clone())
        .ok_or(SheetError::Empty)?;
    let mut cells = workbook.worksheet_cells_reader(&name).map_err(xlsx_error)?;
    let dims = cells.dimensions();
    let total_hint = dims.end.0.saturating_sub(dims.start.0) as usize;

    let mut importer = Importer::new(today, progress, total_hint);
    importer.limit = limit;
    let mut row: Vec<DataRef<'_>> = Vec::new();
    let mut current: Option<u32> = None;
    while let Some(cell) = cells.next_cell().map_err(xlsx_error)? {
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(prev) = current
                && !importer.push_row(prev as usize + 1, &XlsxRow(&row))?
            {
                return importer.finish();
            }
            row.clear();
            current = Some(r);
        }
        let c = c as usize;
        if c >= MAX_COLUMNS {
            continue;
        }
        if row.len() <= c {
            row.resize(c + 1, DataRef::Empty);
        }
        row[c] = cell.get_value().clone();
    }
    if let Some(prev) = current {
        importer.push_row(prev as usize + 1, &XlsxRow(&row))?;
    }
    importer.finish()
}

/// Describes a calamine error by its kind only: some variants carry text taken from the file.
fn xlsx_error(e: XlsxError) -> SheetError {
    let what = match e {
        // The file itself was opened and read already: an IO error inside the archive is a
        // corrupt deflate stream or a truncated entry, not a missing file.
        XlsxError::Io(_) | XlsxError::Zip(_) => "not a valid zip archive (truncated or corrupt)",
        XlsxError::Password => "password-protected workbook",
        XlsxError::Xml(_) | XlsxError::XmlAttr(_) | XlsxError::XmlEof(_) => {
            "malformed workbook XML"
        }
        XlsxError::FileNotFound(_) | XlsxError::RelationshipNotFound => {
            "a part of the workbook is missing"
        }
        XlsxError::NotAWorksheet(_) | XlsxError::WorksheetNotFound(_) => {
            "the first sheet is not a worksheet"
        }
        _ => "corrupt or unsupported workbook",
    };
    SheetError::Unreadable(what.into())
}

// ---------------------------------------------------------------------------------------------
// Rows from either format

/// A cell as the checks see it, whatever the file format.
enum CellValue<'a> {
    Text(Cow<'a, str>),
    Date(NaiveDate),
    /// An Excel error such as #N/A or #REF!: something was meant to be here and is not.
    ExcelError,
    /// Bytes that are not UTF-8 (a CSV saved in Windows-1256, most often).
    NotUtf8,
}

/// One row of either format, read without copying where the format allows.
trait RowSource {
    fn width(&self) -> usize;
    fn cell(&self, i: usize) -> CellValue<'_>;
    fn is_blank(&self) -> bool;
    fn is_utf8(&self) -> bool;
}

struct CsvRow<'a>(&'a csv::ByteRecord);

impl RowSource for CsvRow<'_> {
    fn width(&self) -> usize {
        self.0.len()
    }
    fn cell(&self, i: usize) -> CellValue<'_> {
        match self.0.get(i) {
            None => CellValue::Text(Cow::Borrowed("")),
            Some(bytes) => match std::str::from_utf8(bytes) {
                // Undo the exporter's formula guard (one `'` before `=`, `+`, `-`, `@`, tab or
                // CR; see `export`) so an exported CSV imports as what was exported. XLSX
                // exports carry no guard, so XLSX cells are taken as they are.
                Ok(s) => CellValue::Text(Cow::Borrowed(sila_export::strip_formula_guard(s))),
                Err(_) => CellValue::NotUtf8,
            },
        }
    }
    fn is_blank(&self) -> bool {
        self.0.iter().all(|f| match std::str::from_utf8(f) {
            Ok(s) => s.trim().is_empty(),
            Err(_) => false,
        })
    }
    fn is_utf8(&self) -> bool {
        self.0.iter().all(|f| std::str::from_utf8(f).is_ok())
    }
}

struct XlsxRow<'r, 'a>(&'r [DataRef<'a>]);

impl RowSource for XlsxRow<'_, '_> {
    fn width(&self) -> usize {
        self.0.len()
    }
    fn cell(&self, i: usize) -> CellValue<'_> {
        let Some(value) = self.0.get(i) else {
            return CellValue::Text(Cow::Borrowed(""));
        };
        match value {
            DataRef::Empty => CellValue::Text(Cow::Borrowed("")),
            DataRef::String(s) => CellValue::Text(Cow::Borrowed(s)),
            DataRef::SharedString(s) => CellValue::Text(Cow::Borrowed(s)),
            // IDs and phones are often typed as numbers; 1012345678 must read back as the digits
            // "1012345678", never "1012345678.0" or "1.012345678E9".
            DataRef::Int(n) => CellValue::Text(Cow::Owned(n.to_string())),
            DataRef::Float(f) => CellValue::Text(Cow::Owned(number_text(*f))),
            DataRef::Bool(b) => CellValue::Text(Cow::Borrowed(if *b { "TRUE" } else { "FALSE" })),
            // calamine converts the serial number, in the workbook's 1900 or 1904 system.
            DataRef::DateTime(dt) => match dt.as_datetime() {
                Some(d) => CellValue::Date(d.date()),
                None => CellValue::Text(Cow::Owned(number_text(dt.as_f64()))),
            },
            DataRef::DateTimeIso(s) => {
                match s.get(..10).and_then(|d| d.parse::<NaiveDate>().ok()) {
                    Some(d) => CellValue::Date(d),
                    None => CellValue::Text(Cow::Borrowed(s)),
                }
            }
            DataRef::DurationIso(s) => CellValue::Text(Cow::Borrowed(s)),
            DataRef::Error(_) => CellValue::ExcelError,
        }
    }
    fn is_blank(&self) -> bool {
        self.0.iter().all(|v| match v {
            DataRef::Empty => true,
            DataRef::String(s) => s.trim().is_empty(),
            DataRef::SharedString(s) => s.trim().is_empty(),
            _ => false,
        })
    }
    fn is_utf8(&self) -> bool {
        true
    }
}

/// A number as the digits a person typed: whole numbers without a fraction or an exponent.
fn number_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        (f as i64).to_string()
    } else {
        // Rust prints floats in the shortest form that reads back exactly, never with an exponent.
        f.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// Header

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    FullName,
    First,
    Father,
    Grandfather,
    Family,
    NationalId,
    Mobile,
    BirthDate,
    Gender,
    City,
    District,
    HouseholdSize,
    Income,
    FileNumber,
}
const FIELD_COUNT: usize = 14;

impl Field {
    const ALL: [Field; FIELD_COUNT] = [
        Field::FullName,
        Field::First,
        Field::Father,
        Field::Grandfather,
        Field::Family,
        Field::NationalId,
        Field::Mobile,
        Field::BirthDate,
        Field::Gender,
        Field::City,
        Field::District,
        Field::HouseholdSize,
        Field::Income,
        Field::FileNumber,
    ];
    /// The field's name as the beneficiary record calls it (for previews, never for matching).
    fn code(self) -> &'static str {
        match self {
            Field::FullName => "full_name",
            Field::First => "first",
            Field::Father => "father",
            Field::Grandfather => "grandfather",
            Field::Family => "family",
            Field::NationalId => "national_id",
            Field::Mobile => "mobile",
            Field::BirthDate => "birth_date",
            Field::Gender => "gender",
            Field::City => "city",
            Field::District => "district",
            Field::HouseholdSize => "household_size",
            Field::Income => "monthly_income",
            Field::FileNumber => "file_number",
        }
    }
}

/// Header words and the field each names. Priority 0 beats 1 when a sheet has both, so "الجوال"
/// wins over a landline "الهاتف" and "الاسم الكامل" over a bare "الاسم". Spelling variants
/// (hamza, ta marbuta, diacritics, case, `_` for space, trailing `:` or `*`) need no entry:
/// both sides pass through `arabic::normalize`.
const ALIASES: &[(&str, Field, u8)] = &[
    ("الاسم الكامل", Field::FullName, 0),
    ("الاسم الرباعي", Field::FullName, 0),
    ("الاسم الثلاثي", Field::FullName, 0),
    ("اسم المستفيد", Field::FullName, 0),
    ("اسم المستفيد الرباعي", Field::FullName, 0),
    ("full_name", Field::FullName, 0),
    ("beneficiary_name", Field::FullName, 0),
    ("الاسم", Field::FullName, 1),
    ("name", Field::FullName, 1),
    ("الاسم الأول", Field::First, 0),
    ("first_name", Field::First, 0),
    ("اسم الأب", Field::Father, 0),
    ("father_name", Field::Father, 0),
    ("اسم الجد", Field::Grandfather, 0),
    ("grandfather_name", Field::Grandfather, 0),
    ("اسم العائلة", Field::Family, 0),
    ("العائلة", Field::Family, 1),
    ("family_name", Field::Family, 0),
    ("last_name", Field::Family, 0),
    ("surname", Field::Family, 0),
    ("رقم الهوية", Field::NationalId, 0),
    ("رقم الهوية الوطنية", Field::NationalId, 0),
    ("رقم السجل المدني", Field::NationalId, 0),
    ("السجل المدني", Field::NationalId, 0),
    ("رقم الإقامة", Field::NationalId, 0),
    ("رقم الهوية/الإقامة", Field::NationalId, 0),
    ("رقم الهوية أو الإقامة", Field::NationalId, 0),
    ("الهوية", Field::NationalId, 1),
    ("national_id", Field::NationalId, 0),
    ("id_number", Field::NationalId, 0),
    ("iqama_number", Field::NationalId, 0),
    ("iqama", Field::NationalId, 1),
    ("الجوال", Field::Mobile, 0),
    ("رقم الجوال", Field::Mobile, 0),
    ("جوال", Field::Mobile, 0),
    ("الموبايل", Field::Mobile, 0),
    ("رقم الموبايل", Field::Mobile, 0),
    ("mobile", Field::Mobile, 0),
    ("mobile_number", Field::Mobile, 0),
    ("الهاتف", Field::Mobile, 1),
    ("رقم الهاتف", Field::Mobile, 1),
    ("رقم التواصل", Field::Mobile, 1),
    ("phone", Field::Mobile, 1),
    ("phone_number", Field::Mobile, 1),
    ("تاريخ الميلاد", Field::BirthDate, 0),
    ("تاريخ الولادة", Field::BirthDate, 0),
    ("birth_date", Field::BirthDate, 0),
    ("date_of_birth", Field::BirthDate, 0),
    ("birthdate", Field::BirthDate, 0),
    ("dob", Field::BirthDate, 0),
    ("الجنس", Field::Gender, 0),
    ("gender", Field::Gender, 0),
    ("sex", Field::Gender, 0),
    ("المدينة", Field::City, 0),
    ("city", Field::City, 0),
    ("الحي", Field::District, 0),
    ("district", Field::District, 0),
    ("neighborhood", Field::District, 0),
    ("عدد أفراد الأسرة", Field::HouseholdSize, 0),
    ("عدد أفراد العائلة", Field::HouseholdSize, 0),
    ("عدد الأفراد", Field::HouseholdSize, 0),
    ("household_size", Field::HouseholdSize, 0),
    ("family_size", Field::HouseholdSize, 0),
    ("الدخل الشهري", Field::Income, 0),
    ("monthly_income", Field::Income, 0),
    ("الدخل", Field::Income, 1),
    ("income", Field::Income, 1),
    ("رقم الملف", Field::FileNumber, 0),
    ("رقم ملف المستفيد", Field::FileNumber, 0),
    ("file_number", Field::FileNumber, 0),
    ("file_no", Field::FileNumber, 0),
];

static NORMALIZED_ALIASES: LazyLock<Vec<(String, Field, u8)>> = LazyLock::new(|| {
    ALIASES
        .iter()
        .map(|&(alias, field, priority)| (header_key(alias), field, priority))
        .collect()
});

/// The comparable form of a header: bracketed hints ("الجوال (05xxxxxxxx)") dropped, then the
/// domain's normal form, which also turns quotes, colons, `_` and `*` into spaces and trims.
fn header_key(text: &str) -> String {
    let mut kept = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => kept.push(c),
            _ => {}
        }
    }
    arabic::normalize(&kept)
}

fn field_for_header(text: &str) -> Option<(Field, u8)> {
    let key = header_key(text);
    if key.is_empty() {
        return None;
    }
    NORMALIZED_ALIASES
        .iter()
        .find(|(alias, _, _)| *alias == key)
        .map(|&(_, field, priority)| (field, priority))
}

struct Header {
    /// Header text per column as written (trimmed), for error reports.
    names: Vec<String>,
    /// The column of each field, if the sheet has one.
    columns: [Option<usize>; FIELD_COUNT],
}

impl Header {
    /// The header this row spells, if it has a name column (a full name or a first name).
    fn recognise(row: &impl RowSource) -> Option<Header> {
        let width = row.width().min(MAX_COLUMNS);
        let mut names = Vec::with_capacity(width);
        let mut columns = [None; FIELD_COUNT];
        let mut priorities = [u8::MAX; FIELD_COUNT];
        for i in 0..width {
            let text = match row.cell(i) {
                CellValue::Text(t) => t.trim().to_owned(),
                _ => String::new(),
            };
            if let Some((field, priority)) = field_for_header(&text) {
                // A later column only replaces an earlier one for a more specific word.
                if priority < priorities[field as usize] {
                    priorities[field as usize] = priority;
                    columns[field as usize] = Some(i);
                }
            }
            names.push(text);
        }
        let has_name =
            columns[Field::FullName as usize].is_some() || columns[Field::First as usize].is_some();
        has_name.then_some(Header { names, columns })
    }

    fn column(&self, field: Field) -> Option<usize> {
        self.columns[field as usize]
    }
}

// ---------------------------------------------------------------------------------------------
// Import state shared by both formats

struct Importer<'p> {
    today: NaiveDate,
    /// Stop after this many non-empty data rows (a preview); None reads them all.
    limit: Option<usize>,
    progress: &'p mut dyn FnMut(usize, usize),
    total_hint: usize,
    header: Option<Header>,
    /// Non-empty rows seen before a header was found.
    title_rows: usize,
    /// Data rows read after the header, empty ones included (for progress and the size limit).
    data_rows: usize,
    out: Sheet,
}

impl<'p> Importer<'p> {
    fn new(today: NaiveDate, progress: &'p mut dyn FnMut(usize, usize), total_hint: usize) -> Self {
        Importer {
            today,
            limit: None,
            progress,
            total_hint,
            header: None,
            title_rows: 0,
            data_rows: 0,
            out: Sheet::default(),
        }
    }

    /// Take one row. Answers false once a preview has the rows it wanted.
    fn push_row(&mut self, excel_row: usize, row: &impl RowSource) -> Result<bool, SheetError> {
        if self.limit.is_some_and(|l| self.out.total_rows >= l) {
            self.out.truncated = true;
            return Ok(false);
        }
        let Some(header) = &self.header else {
            if row.is_blank() {
                return Ok(true);
            }
            if !row.is_utf8() {
                // Almost always a CSV saved as "CSV (comma delimited)" by an Arabic Windows, i.e.
                // Windows-1256. Guessing the encoding would garble names silently; refuse instead.
                return Err(SheetError::Unreadable("the header row is not UTF-8".into()));
            }
            match Header::recognise(row) {
                Some(h) => {
                    self.out.columns = h
                        .names
                        .iter()
                        .enumerate()
                        .map(|(i, name)| {
                            let field = Field::ALL
                                .into_iter()
                                .find(|f| h.column(*f) == Some(i))
                                .map(Field::code);
                            (name.clone(), field)
                        })
                        .collect();
                    self.header = Some(h);
                }
                None => {
                    self.title_rows += 1;
                    if self.title_rows >= MAX_TITLE_ROWS {
                        return Err(SheetError::NoNameColumn);
                    }
                }
            }
            return Ok(true);
        };
        self.data_rows += 1;
        if self.data_rows > MAX_DATA_ROWS {
            return Err(SheetError::TooLarge);
        }
        if self.data_rows.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(self.data_rows, self.total_hint);
        }
        if row.is_blank() {
            return Ok(true);
        }
        self.out.total_rows += 1;
        let mut check = RowCheck {
            header,
            row: excel_row,
            errors: &mut self.out.rejected,
            bad_fields: 0,
            failed: false,
        };
        if let Some(beneficiary) = check.beneficiary(row, self.today) {
            self.out.rows.push(SheetRow {
                row: excel_row,
                beneficiary,
            });
        }
        Ok(true)
    }

    fn finish(self) -> Result<Sheet, SheetError> {
        if self.header.is_none() {
            return Err(if self.title_rows > 0 {
                SheetError::NoNameColumn
            } else {
                SheetError::Empty
            });
        }
        if self.out.total_rows == 0 {
            return Err(SheetError::Empty);
        }
        let mut out = self.out;
        refuse_repeated_file_numbers(&mut out, self.header.as_ref());
        // At the end the total is known, whatever the format.
        (self.progress)(self.data_rows, self.data_rows);
        Ok(out)
    }
}

/// A file number names one person: rows of one sheet that give the same one are all refused, each
/// naming the others' row numbers, since nothing tells which of them holds it.
fn refuse_repeated_file_numbers(out: &mut Sheet, header: Option<&Header>) {
    let mut rows_of: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for r in &out.rows {
        if let Some(f) = &r.beneficiary.file_number {
            rows_of.entry(f).or_default().push(r.row);
        }
    }
    let repeated: std::collections::HashMap<usize, Vec<usize>> = rows_of
        .into_values()
        .filter(|rows| rows.len() > 1)
        .flat_map(|rows| rows.clone().into_iter().map(move |r| (r, rows.clone())))
        .collect();
    if repeated.is_empty() {
        return;
    }
    let column = header
        .and_then(|h| h.column(Field::FileNumber).and_then(|c| h.names.get(c)))
        .cloned()
        .unwrap_or_default();
    for (row, rows) in &repeated {
        let others: Vec<String> = rows
            .iter()
            .filter(|r| *r != row)
            .map(usize::to_string)
            .collect();
        out.rejected.push(RowError {
            row: *row,
            column: column.clone(),
            code: "file_number_repeated".into(),
            message: format!(
                "رقم الملف نفسه في صف آخر من الملف (الصف {}): لكل مستفيد رقم ملف واحد",
                others.join("، ")
            ),
        });
    }
    out.rows.retain(|r| !repeated.contains_key(&r.row));
    out.rejected.sort_by_key(|e| e.row);
}

/// A cell's content once cleaned: text, or a date the workbook stored as a date.
enum Value<'a> {
    Text(Cow<'a, str>),
    Date(NaiveDate),
}

/// The checks of one row; every bad cell adds one error, and any error drops the row.
struct RowCheck<'h, 'e> {
    header: &'h Header,
    row: usize,
    errors: &'e mut Vec<RowError>,
    /// Fields that already have an error, so "required" is not said of a cell already refused.
    bad_fields: u16,
    failed: bool,
}

impl RowCheck<'_, '_> {
    fn fail(&mut self, field: Field, code: &str, message: &str) {
        let column = self
            .header
            .column(field)
            .and_then(|c| self.header.names.get(c))
            .cloned()
            .unwrap_or_default();
        self.errors.push(RowError {
            row: self.row,
            column,
            code: code.into(),
            message: message.into(),
        });
        self.bad_fields |= 1 << field as u16;
        self.failed = true;
    }

    /// A problem with the row as a whole (it is not a person, it does not say who).
    fn whole_row(&mut self, code: &str, message: &str) {
        self.errors.push(RowError {
            row: self.row,
            column: String::new(),
            code: code.into(),
            message: message.into(),
        });
        self.failed = true;
    }

    /// The cleaned content of a field's cell; `None` when the sheet has no such column, the cell
    /// is empty, or the cell was refused (the error is already recorded).
    fn value<'r>(&mut self, row: &'r impl RowSource, field: Field) -> Option<Value<'r>> {
        let column = self.header.column(field)?;
        match row.cell(column) {
            CellValue::Text(text) => {
                let text = clean(text);
                if text.is_empty() {
                    None
                } else if text.len() > MAX_CELL_CHARS && text.chars().count() > MAX_CELL_CHARS {
                    self.fail(field, "cell_too_long", "الخلية أطول من 500 حرف");
                    None
                } else {
                    Some(Value::Text(text))
                }
            }
            CellValue::Date(d) => Some(Value::Date(d)),
            CellValue::ExcelError => {
                self.fail(
                    field,
                    "cell_error",
                    "الخلية تحتوي على خطأ من Excel (مثل #N/A) بدل القيمة",
                );
                None
            }
            // Rows that are not UTF-8 are refused as a whole before any field is looked at.
            CellValue::NotUtf8 => None,
        }
    }

    fn text<'r>(&mut self, row: &'r impl RowSource, field: Field) -> Option<Cow<'r, str>> {
        match self.value(row, field)? {
            Value::Text(t) => Some(t),
            Value::Date(d) => Some(Cow::Owned(dates::format_gregorian(d))),
        }
    }

    fn owned(&mut self, row: &impl RowSource, field: Field) -> String {
        self.text(row, field)
            .map(Cow::into_owned)
            .unwrap_or_default()
    }

    fn beneficiary(
        &mut self,
        row: &impl RowSource,
        today: NaiveDate,
    ) -> Option<ImportedBeneficiary> {
        if !row.is_utf8() {
            self.errors.push(RowError {
                row: self.row,
                column: String::new(),
                code: "invalid_encoding".into(),
                message: "الصف ليس بترميز UTF-8؛ احفظ الملف بصيغة «CSV UTF-8» ثم أعد الاستيراد"
                    .into(),
            });
            return None;
        }

        let name = self.name(row);
        // A totals or notes row under the list is not a person: one reason, whatever its cells hold.
        if let Some(n) = &name
            && let Err(e) = sila_domain::beneficiary::identifies_a_person(n, true, true)
        {
            self.whole_row(&e.code, &e.message);
            return None;
        }
        let national_id =
            self.text(row, Field::NationalId)
                .and_then(|t| match NationalId::parse(&t) {
                    Ok(id) => Some(id),
                    Err(e) => {
                        self.fail(Field::NationalId, e.code(), e.arabic_message());
                        None
                    }
                });
        let mobile = self
            .text(row, Field::Mobile)
            .and_then(|t| match Mobile::parse(&t) {
                Ok(m) => Some(m),
                Err(e) => {
                    self.fail(Field::Mobile, e.code(), e.arabic_message());
                    None
                }
            });
        let birth_date = self.birth_date(row, today);
        let gender = self.text(row, Field::Gender).and_then(|t| {
            // The two spellings the exporter writes skip the normalising parser, which costs a
            // microsecond a row on a 100k-row import.
            let g = match &*t {
                "ذكر" => Some(Gender::Male),
                "أنثى" => Some(Gender::Female),
                other => Gender::parse(other),
            };
            if g.is_none() {
                self.fail(
                    Field::Gender,
                    "bad_gender",
                    "الجنس غير معروف؛ اكتب «ذكر» أو «أنثى»",
                );
            }
            g
        });
        let city = self.owned(row, Field::City);
        let district = self.owned(row, Field::District);
        let household_size = self.text(row, Field::HouseholdSize).and_then(|t| {
            let n = arabic::fold_digits(&t)
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|n| (1..=99).contains(n));
            if n.is_none() {
                self.fail(
                    Field::HouseholdSize,
                    "bad_number",
                    "عدد أفراد الأسرة يجب أن يكون رقمًا من 1 إلى 99",
                );
            }
            n
        });
        let monthly_income_halalas = self.text(row, Field::Income).and_then(|t| {
            // parse_riyals ignores every character that is not a digit or a decimal point, so a
            // minus sign would silently turn a negative amount positive.
            let amount = if t.contains('-') {
                None
            } else {
                parse_riyals(&t)
            };
            if amount.is_none() {
                self.fail(
                    Field::Income,
                    "bad_amount",
                    "الدخل الشهري غير مفهوم؛ اكتب المبلغ بالريال بالأرقام مثل 3500 أو 3500.50",
                );
            }
            amount
        });
        let file_number = self.text(row, Field::FileNumber).and_then(|t| {
            match sila_domain::beneficiary::parse_file_number(&t) {
                Ok(f) => Some(f),
                Err(e) => {
                    self.fail(Field::FileNumber, &e.code, &e.message);
                    None
                }
            }
        });

        if self.failed {
            return None;
        }
        let name = name?;
        if let Err(e) = sila_domain::beneficiary::identifies_a_person(
            &name,
            national_id.is_some(),
            mobile.is_some(),
        ) {
            self.whole_row(&e.code, &e.message);
            return None;
        }
        Some(ImportedBeneficiary {
            name,
            national_id,
            mobile,
            birth_date,
            gender,
            city,
            district,
            household_size,
            monthly_income_halalas,
            file_number,
        })
    }

    fn name(&mut self, row: &impl RowSource) -> Option<PersonName> {
        let (name, field) = if let Some(full) = self.text(row, Field::FullName) {
            (PersonName::from_full(&full), Field::FullName)
        } else {
            let first = self.owned(row, Field::First);
            let father = self.owned(row, Field::Father);
            let grandfather = self.owned(row, Field::Grandfather);
            let family = self.owned(row, Field::Family);
            let mut name = PersonName {
                first,
                father,
                grandfather,
                family,
                as_written: String::new(),
            };
            // The parts joined are what this sheet wrote as the person's name.
            name.as_written = name.full();
            (name, Field::First)
        };
        const NAME_FIELDS: u16 = (1 << Field::FullName as u16)
            | (1 << Field::First as u16)
            | (1 << Field::Father as u16)
            | (1 << Field::Grandfather as u16)
            | (1 << Field::Family as u16);
        let full = name.full();
        if full.is_empty() {
            if self.bad_fields & NAME_FIELDS == 0 {
                // Said of the full-name column when there is one: that is where most sheets
                // write the name.
                let column = match self.header.column(Field::FullName) {
                    Some(_) => Field::FullName,
                    None => Field::First,
                };
                self.fail(column, "required", "الاسم مطلوب");
            }
            return None;
        }
        // Any script's letters count (residents' names may be written in Latin or other
        // scripts); a name of digits and symbols only is a shifted column, not a person.
        if !full.chars().any(char::is_alphabetic) {
            self.fail(field, "bad_name", "الاسم يجب أن يحتوي على حروف");
            return None;
        }
        Some(name)
    }

    fn birth_date(&mut self, row: &impl RowSource, today: NaiveDate) -> Option<NaiveDate> {
        let date = match self.value(row, Field::BirthDate)? {
            Value::Date(d) => d,
            Value::Text(t) => match dates::parse_date(without_time(&t)) {
                Ok((d, _calendar)) => d,
                Err(e) => {
                    self.fail(Field::BirthDate, e.code(), e.arabic_message());
                    return None;
                }
            },
        };
        if date > today {
            self.fail(
                Field::BirthDate,
                "date_in_future",
                "تاريخ الميلاد في المستقبل",
            );
            return None;
        }
        Some(date)
    }
}

/// Database and spreadsheet exports often write dates as "1990-01-31 00:00:00" or
/// "1990-01-31T00:00:00"; the time says nothing about a birth date.
fn without_time(text: &str) -> &str {
    if !text.contains(':') {
        return text;
    }
    match text.find([' ', 'T']) {
        Some(i) => &text[..i],
        None => text,
    }
}

/// Trims a cell. Nothing else is altered: `<script>` or `=HYPERLINK(…)` typed by a person stays
/// as typed, since it is data and escaping is the renderer's job.
fn clean(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
        Cow::Owned(s) => {
            let cleaned = s.trim();
            if cleaned.len() == s.len() {
                Cow::Owned(s)
            } else {
                Cow::Owned(cleaned.to_owned())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet};

    // A valid Saudi ID (the tenth digit is the checksum).
    const ID1: &str = "1012345672";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
    }

    fn no_progress() -> impl FnMut(usize, usize) {
        |_, _| {}
    }

    /// One line per accepted row ("2 ok <name> id=… …", present fields only) and per error
    /// ("3 err [<column>] <code>"), in file order within each kind.
    fn summary(sheet: &Sheet) -> Vec<String> {
        let mut out = Vec::new();
        for r in &sheet.rows {
            let b = &r.beneficiary;
            let mut line = format!("{} ok {}", r.row, b.name.full());
            let mut add = |k: &str, v: Option<String>| {
                if let Some(v) = v.filter(|v| !v.is_empty()) {
                    line.push_str(&format!(" {k}={v}"));
                }
            };
            add("id", b.national_id.as_ref().map(|i| i.as_str().to_owned()));
            add("mobile", b.mobile.as_ref().map(|m| m.as_str().to_owned()));
            add("birth", b.birth_date.map(|d| d.to_string()));
            add("gender", b.gender.map(|g| g.arabic().to_owned()));
            add("city", Some(b.city.clone()));
            add("district", Some(b.district.clone()));
            add("size", b.household_size.map(|n| n.to_string()));
            add("income", b.monthly_income_halalas.map(|n| n.to_string()));
            out.push(line);
        }
        for e in &sheet.rejected {
            out.push(format!("{} err [{}] {}", e.row, e.column, e.code));
        }
        out
    }

    #[track_caller]
    fn check(csv: &str, expect: &[&str]) {
        let sheet = read_csv_bytes(csv.as_bytes(), today(), &mut no_progress())
            .unwrap_or_else(|e| panic!("{e:?} for {csv:?}"));
        assert_eq!(summary(&sheet), expect, "input: {csv:?}");
    }

    #[track_caller]
    fn check_err(bytes: &[u8], code: &str) {
        match read_csv_bytes(bytes, today(), &mut no_progress()) {
            Err(e) => assert_eq!(e.code(), code, "{e:?}"),
            Ok(s) => panic!("expected {code}, got {:?}", summary(&s)),
        }
    }

    #[test]
    fn recognises_header_words_in_arabic_and_english() {
        let row = format!(
            "محمد عبد الله سعد الدوسري,{ID1},0501234567,1990-01-31,ذكر,الرياض,النسيم,5,3500"
        );
        for header in [
            "الاسم الكامل,رقم الهوية,الجوال,تاريخ الميلاد,الجنس,المدينة,الحي,عدد أفراد الأسرة,الدخل الشهري",
            "الاسم,رقم السجل المدني,رقم الجوال,تاريخ الميلاد,الجنس,المدينة,الحي,عدد افراد الاسره,الدخل",
            "اسم المستفيد,رقم الإقامة,الهاتف,تاريخ الميلاد:,الجنس,المدينه,الحي,عدد أفراد الأسرة,الدخل الشهري (ريال)",
            "الاسم الرباعي,الهوية,رقم الهاتف,تاريخ الميلاد,الجنس,المدينة,الحي,عدد أفراد الأسرة,الدخل الشهري",
            "name,national_id,phone,birth_date,gender,city,district,household_size,monthly_income",
            "Full Name,ID_Number,Mobile,Date_of_Birth,Gender,City,District,Household Size,Income",
            "\"full_name\",\"id_number\",\"mobile\",\"date of birth\",GENDER,CITY,DISTRICT,household_size,INCOME",
            " الإسمُ الكامل * , رقم الهويّة ,الجوّال,تاريخ الميلاد,الجنس,المدينة,الحي,عدد أفراد الأسرة,الدخل الشهري",
        ] {
            check(
                &format!("{header}\n{row}\n"),
                &[&format!(
                    "2 ok محمد عبد الله سعد الدوسري id={ID1} mobile=+966501234567 birth=1990-01-31 \
                     gender=ذكر city=الرياض district=النسيم size=5 income=350000"
                )],
            );
        }
    }

    #[test]
    fn builds_the_name_from_four_part_columns() {
        check(
            "الاسم الأول,اسم الأب,اسم الجد,اسم العائلة,ملاحظات\nنورة,فهد,سالم,آل سعود,أي شيء\n,,,,ملاحظة فقط\n",
            &["2 ok نورة فهد سالم آل سعود", "3 err [الاسم الأول] required"],
        );
        let sheet = read_csv_bytes(
            "first_name,father_name,grandfather_name,family_name\nNoura,Fahd,Salem,Al Saud\n"
                .as_bytes(),
            today(),
            &mut no_progress(),
        )
        .unwrap();
        let name = &sheet.rows[0].beneficiary.name;
        assert_eq!(
            [
                name.first.as_str(),
                &name.father,
                &name.grandfather,
                &name.family,
                &name.as_written
            ],
            [
                "Noura",
                "Fahd",
                "Salem",
                "Al Saud",
                "Noura Fahd Salem Al Saud"
            ]
        );
        // A full-name column wins over the parts when it is filled; the parts fill in when not.
        check(
            "الاسم الكامل,الاسم الأول,اسم العائلة\nخالد العتيبي,خ,ع\n,سارة,القحطاني\n,,\n",
            &["2 ok خالد العتيبي", "3 ok سارة القحطاني"],
        );
    }

    #[test]
    fn reads_hijri_and_gregorian_birth_dates() {
        for (cell, expect) in [
            ("1990-01-31", "birth=1990-01-31"),
            ("31/01/1990", "birth=1990-01-31"),
            ("١٩٩٠/٠١/٣١", "birth=1990-01-31"),
            ("1990-01-31 00:00:00", "birth=1990-01-31"),
            ("1990-01-31T00:00:00", "birth=1990-01-31"),
            ("1410/05/12", "birth=1989-12-11"),
            ("12-05-1410هـ", "birth=1989-12-11"),
            ("2030-01-01", "err [تاريخ الميلاد] date_in_future"),
            ("1990-02-30", "err [تاريخ الميلاد] date_invalid_day"),
            ("قبل سنتين", "err [تاريخ الميلاد] date_unrecognised"),
            ("", ""),
        ] {
            let sheet = read_csv_bytes(
                format!("الاسم,تاريخ الميلاد\nفهد سالم,{cell}\n").as_bytes(),
                today(),
                &mut no_progress(),
            )
            .unwrap();
            let got = summary(&sheet).join("\n");
            let want = if expect.starts_with("err") {
                format!("2 {expect}")
            } else {
                format!("2 ok فهد سالم {expect}").trim_end().to_owned()
            };
            assert_eq!(got, want, "{cell}");
        }
    }

    #[test]
    fn reports_every_bad_cell_of_a_row_without_quoting_it() {
        let csv = "الاسم,رقم الهوية,الجوال,الجنس,عدد أفراد الأسرة,الدخل الشهري\n\
                   12345,1012345673,0401234567,غير ذلك,0,-500\n\
                   سعد,١٠١٢٣٤٥٦٧٢,٠٥٠١٢٣٤٥٦٧,أنثى,١٢,٣٥٠٠٫٥٠\n";
        check(
            csv,
            &[
                &format!(
                    "3 ok سعد id={ID1} mobile=+966501234567 gender=أنثى size=12 income=350050"
                ),
                "2 err [الاسم] bad_name",
                "2 err [رقم الهوية] id_bad_checksum",
                "2 err [الجوال] phone_not_saudi_mobile",
                "2 err [الجنس] bad_gender",
                "2 err [عدد أفراد الأسرة] bad_number",
                "2 err [الدخل الشهري] bad_amount",
            ],
        );
        let sheet = read_csv_bytes(csv.as_bytes(), today(), &mut no_progress()).unwrap();
        assert_eq!(sheet.total_rows, 2);
        for e in &sheet.rejected {
            assert!(
                e.message
                    .chars()
                    .any(|c| ('\u{0600}'..='\u{06FF}').contains(&c)),
                "{e:?}"
            );
            for value in ["12345", "1012345673", "0401234567", "غير ذلك", "-500"] {
                assert!(!e.message.contains(value), "{e:?} quotes {value}");
            }
        }
    }

    #[test]
    fn checks_household_size_and_income() {
        for (size, income, expect) in [
            ("1", "0", "2 ok أمل سعد size=1 income=0"),
            ("99", "\"3,500.50\"", "2 ok أمل سعد size=99 income=350050"),
            ("100", "", "2 err [عدد أفراد الأسرة] bad_number"),
            ("خمسة", "", "2 err [عدد أفراد الأسرة] bad_number"),
            ("5.5", "", "2 err [عدد أفراد الأسرة] bad_number"),
            ("", "ثلاثة آلاف", "2 err [الدخل] bad_amount"),
            ("", "1.234", "2 err [الدخل] bad_amount"),
        ] {
            check(
                &format!("الاسم,عدد أفراد الأسرة,الدخل\nأمل سعد,{size},{income}\n"),
                &[expect],
            );
        }
    }

    #[test]
    fn decodes_csv_variants() {
        let body = "الاسم,الجوال\nفهد,0501234567\n";
        let expect = ["2 ok فهد mobile=+966501234567"];
        for input in [
            body.to_owned(),
            format!("\u{FEFF}{body}"),
            body.replace(',', ";"),
            body.replace(',', "\t"),
            format!("\u{FEFF}{}", body.replace(',', "\t")),
            body.replace('\n', "\r\n"),
            // A delimiter inside quotes in the header does not decide the delimiter.
            "\"الاسم, الكامل\";\"الجوال\"\nفهد;0501234567\n".replace("الاسم, الكامل", "الاسم"),
            "\"الاسم\";\"ملاحظة, مع فاصلة\";الجوال\n\"فهد\";\"ا, ب\";0501234567\n".into(),
            // No newline at the end.
            "الاسم,الجوال\nفهد,0501234567".into(),
        ] {
            check(&input, &expect);
        }
    }

    #[test]
    fn decodes_utf16_unicode_text_from_excel() {
        let text = "الاسم\tالجوال\r\nفهد\t٠٥٠١٢٣٤٥٦٧\r\n";
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            le.extend(unit.to_le_bytes());
            be.extend(unit.to_be_bytes());
        }
        for bytes in [le.clone(), be] {
            let sheet = read_csv_bytes(&bytes, today(), &mut no_progress()).unwrap();
            assert_eq!(summary(&sheet), ["2 ok فهد mobile=+966501234567"]);
        }
        le.push(0x41); // an odd byte at the end
        check_err(&le, "unreadable");
        check_err(&[0xFF, 0xFE, 0x00, 0xD8, 0x41, 0x00], "unreadable"); // a lone surrogate
    }

    #[test]
    fn tolerates_ragged_rows_and_counts_rows_as_excel_does() {
        check(
            "الاسم,الجوال,المدينة\nفهد سالم\nسعد,0501234567,جدة,زائد,زائد\n",
            &["2 ok فهد سالم", "3 ok سعد mobile=+966501234567 city=جدة"],
        );
        // Blank lines are rows in Excel; a quoted multi-line cell is one row; ",," rows are
        // empty and skipped silently.
        check(
            "الاسم,الحي\n\nفهد سالم,\"سطر\nثان\"\n,,\n\n\"\"\n1\n",
            &["3 ok فهد سالم district=سطر\nثان", "7 err [الاسم] bad_name"],
        );
        check(
            "الاسم,الحي\r\n\r\nفهد سالم,\"سطر\r\nثان\"\r\n,,\r\n\r\n\"\"\r\n1",
            &["3 ok فهد سالم district=سطر\r\nثان", "7 err [الاسم] bad_name"],
        );
        // Old Mac line ends (CR only) carry no line feeds to count; rows still number in order.
        check(
            "الاسم\rفهد سالم\rسعد علي\r",
            &["2 ok فهد سالم", "3 ok سعد علي"],
        );
    }

    #[test]
    fn finds_the_header_below_a_title_row() {
        check(
            "كشف المستفيدين,,\n,,\nالاسم,الجوال,\nفهد,0501234567,\n",
            &["4 ok فهد mobile=+966501234567"],
        );
    }

    #[test]
    fn refuses_a_row_that_is_not_utf8_and_keeps_going() {
        let mut bytes = "الاسم,المدينة\nفهد سالم,الرياض\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"\xE3\xCD\xE3\xCF,\xC7\xE1\xD1\xED\xC7\xD6\n"); // Windows-1256
        bytes.extend_from_slice("سعد علي,جدة\n".as_bytes());
        let sheet = read_csv_bytes(&bytes, today(), &mut no_progress()).unwrap();
        assert_eq!(
            summary(&sheet),
            [
                "2 ok فهد سالم city=الرياض",
                "4 ok سعد علي city=جدة",
                "3 err [] invalid_encoding"
            ]
        );
        assert_eq!(sheet.total_rows, 3);
    }

    #[test]
    fn refuses_a_header_that_is_not_utf8() {
        check_err(
            b"\xC7\xE1\xC7\xD3\xE3,\xC7\xE1\xCC\xE6\xC7\xE1\n\xE3,1\n",
            "unreadable",
        );
    }

    #[test]
    fn whole_file_problems() {
        check_err(b"", "empty");
        check_err("\u{FEFF}".as_bytes(), "empty");
        check_err(b"\n\n,,\n", "empty");
        check_err("الاسم,الجوال\n".as_bytes(), "empty");
        check_err("الاسم,الجوال\n,\n\n".as_bytes(), "empty");
        check_err(
            "الجوال,المدينة\n0501234567,جدة\n".as_bytes(),
            "no_name_column",
        );
        check_err("id,x\n1,2\n".as_bytes(), "no_name_column");
        let many = "ملاحظة\n".repeat(20);
        check_err(format!("{many}الاسم\nفهد\n").as_bytes(), "no_name_column");
    }

    #[test]
    fn refuses_more_than_a_million_rows() {
        let mut bytes = b"name\n".to_vec();
        bytes.extend(std::iter::repeat_n(b",\n".as_slice(), MAX_DATA_ROWS + 1).flatten());
        check_err(&bytes, "too_large");
    }

    #[test]
    fn refuses_huge_cells_but_keeps_markup_verbatim() {
        let huge = "ب".repeat(100 * 1024);
        check(
            &format!("الاسم,الحي,غير معروف\nفهد,{huge},\nسعد علي,حي,{huge}\n"),
            &["3 ok سعد علي district=حي", "2 err [الحي] cell_too_long"],
        );
        let at_limit = format!("{} ب", "ب".repeat(MAX_CELL_CHARS - 2));
        check(
            &format!("الاسم\n{at_limit}\n"),
            &[&format!("2 ok {at_limit}")],
        );
        check(
            &format!("الاسم\n{at_limit}ب\n"),
            &["2 err [الاسم] cell_too_long"],
        );
        check(
            "الاسم,الجوال\n<script>alert(1)</script>,0501234567\n\"=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\",0501234567\n",
            &[
                "2 ok <script>alert(1)</script> mobile=+966501234567",
                "3 ok =HYPERLINK(\"http://x\",\"y\") mobile=+966501234567",
            ],
        );
    }

    #[test]
    fn strips_only_the_exporters_formula_guard() {
        check(
            "الاسم,المدينة\n'=cmd|' /C calc'!A0,'+جدة\n'فهد سالم,'الرياض\n''=x ص,'-\n",
            &[
                "2 ok =cmd|' /C calc'!A0 city=+جدة",
                "3 ok 'فهد سالم city='الرياض",
                "4 ok '=x ص city=-",
            ],
        );
    }

    #[test]
    fn reports_progress_every_thousand_rows_and_at_the_end() {
        let mut csv = String::from("الاسم\n");
        for _ in 0..2500 {
            csv.push_str("فهد سالم\n");
        }
        let mut calls = Vec::new();
        let sheet =
            read_csv_bytes(csv.as_bytes(), today(), &mut |n, t| calls.push((n, t))).unwrap();
        assert_eq!(sheet.rows.len(), 2500);
        assert_eq!(calls, [(1000, 0), (2000, 0), (2500, 2500)]);
    }

    // ------------------------------------------------------------------ files and XLSX

    fn write_workbook(
        dir: &Path,
        file: &str,
        fill: impl FnOnce(&mut Worksheet),
    ) -> std::path::PathBuf {
        let mut workbook = Workbook::new();
        fill(workbook.add_worksheet());
        let path = dir.join(file);
        workbook.save(&path).unwrap();
        path
    }

    fn read_path(path: &Path) -> Result<Sheet, SheetError> {
        read_sheet(path, today(), &mut no_progress())
    }

    #[test]
    fn reads_xlsx_with_numbers_and_dates_stored_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let date = Format::new().set_num_format("dd/mm/yyyy");
        let path = write_workbook(dir.path(), "b.xlsx", |ws| {
            // A title row, then the header on row 3.
            ws.write_string(0, 0, "كشف المستفيدين").unwrap();
            for (c, h) in [
                "الاسم الكامل",
                "رقم الهوية",
                "الجوال",
                "تاريخ الميلاد",
                "عدد أفراد الأسرة",
                "الدخل الشهري",
            ]
            .iter()
            .enumerate()
            {
                ws.write_string(2, c as u16, *h).unwrap();
            }
            ws.write_string(3, 0, "محمد عبد الله الدوسري").unwrap();
            ws.write_number(3, 1, 1012345672.0).unwrap();
            ws.write_number(3, 2, 501234567.0).unwrap();
            ws.write_datetime_with_format(
                3,
                3,
                ExcelDateTime::from_ymd(1990, 1, 31).unwrap(),
                &date,
            )
            .unwrap();
            ws.write_number(3, 4, 5.0).unwrap();
            ws.write_number(3, 5, 3500.5).unwrap();
            // Row 5 is left empty; row 6 has text cells and a bad number.
            ws.write_string(5, 0, "نورة").unwrap();
            ws.write_string(5, 1, "٢١٠٠٠٠٠٠٠٥").unwrap();
            ws.write_string(5, 3, "1410/05/12").unwrap();
            ws.write_number(5, 4, 0.0).unwrap();
            ws.write_string(6, 0, "سعد").unwrap();
            ws.write_datetime_with_format(
                6,
                3,
                ExcelDateTime::from_ymd(2031, 5, 1).unwrap(),
                &date,
            )
            .unwrap();
        });
        let mut calls = Vec::new();
        let sheet = read_sheet(&path, today(), &mut |n, t| calls.push((n, t))).unwrap();
        assert_eq!(
            summary(&sheet),
            [
                &format!(
                    "4 ok محمد عبد الله الدوسري id={ID1} mobile=+966501234567 birth=1990-01-31 size=5 income=350050"
                ),
                "6 err [عدد أفراد الأسرة] bad_number",
                "7 err [تاريخ الميلاد] date_in_future",
            ]
        );
        assert_eq!(sheet.total_rows, 3);
        assert_eq!(calls.last(), Some(&(3, 3)));
    }

    #[test]
    fn a_totals_row_or_a_lone_word_is_refused_never_a_person() {
        // An office's workbook as it comes: a title, numeric IDs and mobiles, date cells, and a
        // totals row and a note under the people.
        let dir = tempfile::tempdir().unwrap();
        let date = Format::new().set_num_format("dd/mm/yyyy");
        let path = write_workbook(dir.path(), "office.xlsx", |ws| {
            ws.write_string(0, 0, "كشف مستفيدي مكتب مروان").unwrap();
            for (c, h) in [
                "الاسم",
                "رقم الهوية",
                "الجوال",
                "تاريخ الميلاد",
                "عدد أفراد الأسرة",
            ]
            .iter()
            .enumerate()
            {
                ws.write_string(1, c as u16, *h).unwrap();
            }
            ws.write_string(2, 0, "منيرة سعد السبيعي").unwrap();
            ws.write_number(2, 1, 1012345672.0).unwrap();
            ws.write_number(2, 2, 501234567.0).unwrap();
            ws.write_datetime_with_format(
                2,
                3,
                ExcelDateTime::from_ymd(1985, 3, 2).unwrap(),
                &date,
            )
            .unwrap();
            ws.write_number(2, 4, 4.0).unwrap();
            ws.write_string(3, 0, "خالد").unwrap();
            ws.write_string(4, 0, "فهد").unwrap();
            ws.write_number(4, 2, 551234567.0).unwrap();
            ws.write_string(5, 0, "الإجمالي").unwrap();
            ws.write_number(5, 1, 3.0).unwrap();
            ws.write_number(5, 4, 120.0).unwrap();
            ws.write_string(6, 0, "ملاحظات: البيانات من مكتب مروان")
                .unwrap();
        });
        let sheet = read_path(&path).unwrap();
        assert_eq!(
            summary(&sheet),
            [
                &format!(
                    "3 ok منيرة سعد السبيعي id={ID1} mobile=+966501234567 birth=1985-03-02 size=4"
                ),
                "5 ok فهد mobile=+966551234567",
                "4 err [] not_identifying",
                "6 err [] not_a_person",
                "7 err [] not_a_person",
            ]
        );
        assert!(
            sheet.rejected.iter().all(|e| !e.message.contains("خالد")),
            "a reason never quotes the row"
        );
        // A preview reads the header and the first rows only, and says what each column is.
        let head = read_sheet_bytes(
            &std::fs::read(&path).unwrap(),
            "office.xlsx",
            today(),
            &mut no_progress(),
            Some(2),
        )
        .unwrap();
        assert!(head.truncated);
        assert_eq!(head.total_rows, 2);
        let fields: Vec<Option<&str>> = head.columns.iter().map(|c| c.1).collect();
        assert_eq!(
            fields,
            [
                Some("full_name"),
                Some("national_id"),
                Some("mobile"),
                Some("birth_date"),
                Some("household_size")
            ]
        );
    }

    #[test]
    fn numbers_read_as_the_digits_typed() {
        for (f, want) in [
            (1012345678.0, "1012345678"),
            (5.0, "5"),
            (3500.5, "3500.5"),
            (-0.0, "0"),
        ] {
            assert_eq!(number_text(f), want);
        }
    }

    #[test]
    fn picks_the_format_from_content_then_extension() {
        let dir = tempfile::tempdir().unwrap();
        let csv = "الاسم\nفهد العتيبي\n";
        // A CSV named .csv or .txt; an XLSX misnamed .csv is still read as XLSX.
        for name in ["a.csv", "a.CSV", "a.txt"] {
            std::fs::write(dir.path().join(name), csv).unwrap();
            assert_eq!(
                summary(&read_path(&dir.path().join(name)).unwrap()),
                ["2 ok فهد العتيبي"]
            );
        }
        let xlsx = write_workbook(dir.path(), "x.xlsx", |ws| {
            ws.write_string(0, 0, "name").unwrap();
            ws.write_string(1, 0, "Fahd Alotaibi").unwrap();
        });
        let renamed = dir.path().join("really-xlsx.csv");
        std::fs::copy(&xlsx, &renamed).unwrap();
        assert_eq!(
            summary(&read_path(&renamed).unwrap()),
            ["2 ok Fahd Alotaibi"]
        );

        let pdf = dir.path().join("a.pdf");
        std::fs::write(&pdf, b"%PDF-1.7").unwrap();
        assert_eq!(read_path(&pdf).unwrap_err().code(), "unknown_format");
        let empty = dir.path().join("e.xlsx");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(read_path(&empty).unwrap_err().code(), "empty");
        assert_eq!(
            read_path(&dir.path().join("missing.csv"))
                .unwrap_err()
                .code(),
            "io"
        );
    }

    #[test]
    fn malformed_workbooks_are_unreadable_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let good = write_workbook(dir.path(), "good.xlsx", |ws| {
            ws.write_string(0, 0, "name").unwrap();
            ws.write_string(1, 0, "Fahd").unwrap();
        });
        let bytes = std::fs::read(&good).unwrap();
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "random.xlsx",
                (0..4096u32)
                    .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
                    .collect(),
            ),
            (
                "ole.xlsx",
                b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest of an encrypted workbook".to_vec(),
            ),
            ("zip-header-only.xlsx", b"PK\x03\x04".to_vec()),
        ];
        for cut in [10, bytes.len() / 3, bytes.len() / 2, bytes.len() - 30] {
            cases.push(("truncated.xlsx", bytes[..cut].to_vec()));
        }
        // Corrupt the middle of the archive: the compressed XML no longer inflates.
        let mut flipped = bytes.clone();
        for b in &mut flipped[bytes.len() / 4..bytes.len() / 2] {
            *b ^= 0x5A;
        }
        cases.push(("flipped.xlsx", flipped));
        for (name, content) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, &content).unwrap();
            let err = read_path(&path).expect_err(name);
            assert_eq!(err.code(), "unreadable", "{name}: {err:?}");
            assert!(!err.arabic_message().is_empty());
        }
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    /// Workbooks rust_xlsxwriter will not make; see tests/fixtures/make_fixtures.py.
    #[test]
    fn reads_hand_made_workbooks() {
        // The 1904 date system, an Excel error where the ID should be, and a hidden first sheet
        // that must be passed over for the first visible one.
        let sheet = read_path(&fixture("date1904-and-errors.xlsx")).unwrap();
        assert_eq!(
            summary(&sheet),
            [
                &format!("2 ok فهد id={ID1} birth=1990-01-31"),
                "3 err [رقم الهوية] cell_error"
            ]
        );
        // calamine 0.30 panics on a shared-string index past the table; the user gets an error.
        let err = read_path(&fixture("shared-string-out-of-range.xlsx")).unwrap_err();
        assert_eq!(err.code(), "unreadable", "{err:?}");
    }

    #[test]
    fn every_error_has_a_code_and_an_arabic_message() {
        for e in [
            SheetError::Io(std::io::Error::other("x")),
            SheetError::UnknownFormat,
            SheetError::Unreadable("x".into()),
            SheetError::NoNameColumn,
            SheetError::Empty,
            SheetError::TooLarge,
        ] {
            assert!(!e.code().is_empty());
            assert!(arabic::contains_arabic(&e.arabic_message()), "{e:?}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = read_csv_bytes(&bytes, today(), &mut no_progress());
        }

        #[test]
        fn csv_like_input_never_panics_and_rows_are_accounted_for(
            body in "[a-zA-Z0-9ابتمحد٠١٥ ,;\t\"'=\\n\\r\u{FEFF}-]{0,600}"
        ) {
            let input = format!("الاسم,رقم الهوية,الجوال,تاريخ الميلاد,الدخل\n{body}");
            if let Ok(sheet) = read_csv_bytes(input.as_bytes(), today(), &mut no_progress()) {
                let bad_rows: std::collections::BTreeSet<usize> = sheet.rejected.iter().map(|e| e.row).collect();
                prop_assert_eq!(sheet.rows.len() + bad_rows.len(), sheet.total_rows);
                prop_assert!(sheet.rows.iter().all(|r| !bad_rows.contains(&r.row)));
            }
        }
    }
}
