//! Exporting what the store holds as spreadsheets: beneficiaries and cases, as CSV (UTF-8 with a
//! byte-order mark, so Excel shows Arabic) or as one right-to-left XLSX workbook. The column
//! headers of the beneficiaries table are ones the importer recognises, so an export imports back
//! unchanged. The file formats and the beneficiary's columns are sila-export's (HQ's register writes the same).

use crate::Store;
use crate::error::{Result, StoreError};
use sila_export::beneficiary::{BENEFICIARY_HEADERS, beneficiary_row, text};
use sila_export::{self as export, Cell, Table};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
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
