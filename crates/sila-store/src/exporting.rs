//! Exporting what the store holds as spreadsheets: beneficiaries and cases, as CSV (UTF-8 with a
//! byte-order mark, so Excel shows Arabic) or as one right-to-left XLSX workbook. The column
//! headers of the beneficiaries table are ones the importer recognises, so an export imports back
//! unchanged. The file formats themselves are `crate::export`'s.

use crate::Store;
use crate::error::{Result, StoreError};
use crate::export::{self, Cell, Table};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

fn text(s: impl Into<String>) -> Cell {
    let s = s.into();
    if s.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(s)
    }
}

fn riyals(halalas: i64) -> String {
    if halalas % 100 == 0 {
        format!("{}", halalas / 100)
    } else {
        format!("{}.{:02}", halalas / 100, halalas % 100)
    }
}

/// The columns of an exported beneficiary, as the importer recognises them (HQ's register export
/// writes the same, after the branch).
pub const BENEFICIARY_HEADERS: [&str; 17] = [
    "المعرف",
    "رقم الملف",
    "الاسم الكامل",
    "الاسم الأول",
    "اسم الأب",
    "اسم الجد",
    "اسم العائلة",
    "رقم الهوية",
    "الجنسية",
    "الجنس",
    "تاريخ الميلاد",
    "الجوال",
    "المدينة",
    "المركز",
    "الحي",
    "عدد أفراد الأسرة",
    "الدخل الشهري",
];

/// One beneficiary under [`BENEFICIARY_HEADERS`].
pub fn beneficiary_row(b: &sila_domain::beneficiary::Beneficiary) -> Vec<Cell> {
    vec![
        text(b.id.to_string()),
        text(b.file_number.clone().unwrap_or_default()),
        text(b.name.full()),
        text(b.name.first.clone()),
        text(b.name.father.clone()),
        text(b.name.grandfather.clone()),
        text(b.name.family.clone()),
        text(
            b.national_id
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
        ),
        text(b.nationality.clone()),
        text(b.gender.map(|g| g.arabic()).unwrap_or_default()),
        b.birth_date.map(Cell::Date).unwrap_or(Cell::Empty),
        // The national form ("05…"): what people read and type, and nothing a spreadsheet takes
        // for a formula (E.164's "+" needed a guard in a CSV).
        text(b.mobile.as_ref().map(|m| m.national()).unwrap_or_default()),
        text(b.city.clone()),
        text(b.centre.clone()),
        text(b.district.clone()),
        if b.household.is_empty() && b.household_size.is_none() {
            Cell::Empty
        } else {
            Cell::Int(b.effective_household_size() as i64)
        },
        if b.incomes.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(riyals(b.monthly_income()))
        },
    ]
}

impl Store {
    fn beneficiaries_table(&self) -> Result<Table> {
        let mut rows = Vec::new();
        self.all_beneficiaries(|b| {
            rows.push(beneficiary_row(&b));
            Ok(())
        })?;
        Ok(Table {
            name: "المستفيدون".into(),
            headers: BENEFICIARY_HEADERS.iter().map(|h| h.to_string()).collect(),
            rows,
        })
    }

    fn cases_table(&self) -> Result<Table> {
        let headers = [
            "رقم الطلب",
            "معرف المستفيد",
            "اسم المستفيد",
            "نوع الدعم",
            "قناة الاستقبال",
            "الحالة",
            "تاريخ التقديم",
            "موعد الرد الموعود",
            "القرار",
            "رقم التسجيل",
        ];
        let mut stmt = self.conn.prepare(
            "SELECT c.data, b.full_name FROM cases c JOIN beneficiaries b ON b.id = c.beneficiary_id ORDER BY c.rid",
        )?;
        let mut q = stmt.query([])?;
        let mut rows = Vec::new();
        while let Some(r) = q.next()? {
            let data: String = r.get(0)?;
            let c: sila_domain::case::Case = serde_json::from_str(&data)?;
            let support = self
                .catalog
                .support_type(&c.support_type)
                .map(|s| s.name_ar.clone())
                .unwrap_or(c.support_type.clone());
            rows.push(vec![
                text(c.number.clone()),
                text(c.beneficiary_id.to_string()),
                text(r.get::<_, String>(1)?),
                text(support),
                text(c.channel.arabic()),
                text(c.state.arabic()),
                c.submitted_at
                    .map(|d| Cell::Date(d.date_naive()))
                    .unwrap_or(Cell::Empty),
                c.promised_reply_date.map(Cell::Date).unwrap_or(Cell::Empty),
                text(
                    c.decision
                        .as_ref()
                        .map(|d| d.reasons.clone())
                        .unwrap_or_default(),
                ),
                text(c.registration_number.clone().unwrap_or_default()),
            ]);
        }
        Ok(Table {
            name: "الطلبات".into(),
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows,
        })
    }

    /// Export beneficiaries and cases. XLSX: one workbook with a sheet for each. CSV: `out` holds the
    /// beneficiaries and a sibling `<name>.cases.csv` the cases. Returns the files written.
    pub fn export(&mut self, format: ExportFormat, out: &Path) -> Result<Vec<PathBuf>> {
        let beneficiaries = self.beneficiaries_table()?;
        let cases = self.cases_table()?;
        let map = |e: export::ExportError| match e {
            export::ExportError::Io(e) => StoreError::Io(e),
            other => StoreError::Export(other.to_string()),
        };
        let written = match format {
            ExportFormat::Xlsx => {
                export::write_xlsx(out, &[beneficiaries, cases]).map_err(map)?;
                vec![out.to_owned()]
            }
            ExportFormat::Csv => {
                let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("sila");
                let cases_path = out.with_file_name(format!("{stem}.cases.csv"));
                export::write_csv(out, &beneficiaries).map_err(map)?;
                export::write_csv(&cases_path, &cases).map_err(map)?;
                vec![out.to_owned(), cases_path]
            }
        };
        let n = written.len().to_string();
        self.write(|w| w.audit("export", "store", &n))?;
        Ok(written)
    }
}
