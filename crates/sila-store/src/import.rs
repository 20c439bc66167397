//! Importing a beneficiary sheet into the store: rows read by [`crate::sheet`] are matched against
//! what is on file (by national ID, else by file number, else by name with mobile and birth date),
//! then inserted or updated in ONE transaction with their outbox operations. Importing the same
//! file twice changes nothing the second time; an import interrupted before its commit leaves
//! nothing behind. A file number an export wrote comes back as the person's: refused, row by row,
//! when another person holds it or the person on file has another (never overwritten).

use crate::error::{Result, StoreError};
use crate::sheet::{self, ImportedBeneficiary, RowError};
use crate::{Store, Writer};
use rusqlite::OptionalExtension;
use serde::Serialize;
use sila_domain::beneficiary::{Beneficiary, Income, IncomeSource};
use sila_domain::ids::BeneficiaryId;
use sila_domain::staff::Role;
use std::path::Path;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    pub imported: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub rejected: Vec<RowError>,
}

/// Where an import stands, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportProgress {
    Reading { rows: usize },
    Saving { done: usize, total: usize },
}

/// Apply what a sheet says to a beneficiary (only the columns a sheet can carry). A file number is
/// given once: a sheet fills in a missing one, never replaces one (`Writer::file_number_problem`).
fn merge_into(b: &mut Beneficiary, row: &ImportedBeneficiary) {
    if b.file_number.is_none() {
        b.file_number = row.file_number.clone();
    }
    if b.name.full() != row.name.full() {
        b.name = row.name.clone();
    }
    if row.national_id.is_some() {
        b.national_id = row.national_id.clone();
    }
    if row.mobile.is_some() {
        b.mobile = row.mobile.clone();
    }
    if row.birth_date.is_some() {
        b.birth_date = row.birth_date;
    }
    if row.gender.is_some() {
        b.gender = row.gender;
    }
    if !row.city.is_empty() {
        b.city = row.city.clone();
    }
    if !row.district.is_empty() {
        b.district = row.district.clone();
    }
    // A sheet's household count that matches what the file already says is no change.
    if let Some(n) = row.household_size
        && n != b.effective_household_size()
    {
        b.household_size = Some(n);
    }
    if let Some(income) = row.monthly_income_halalas
        && b.monthly_income() != income
    {
        b.incomes = vec![Income {
            source: IncomeSource::Other,
            monthly_halalas: income,
        }];
    }
}

impl Writer<'_> {
    /// Find the beneficiary a sheet row speaks of: the same national ID, else the same file
    /// number, else (for people with neither) the same normalised name with the same mobile and
    /// birth date.
    fn find_for_import(
        &self,
        row: &ImportedBeneficiary,
        key: &str,
    ) -> Result<Option<(Beneficiary, i64)>> {
        let found: Option<(String, i64)> = if let Some(nid) = &row.national_id {
            self.tx
                .prepare_cached("SELECT data, version FROM beneficiaries WHERE national_id = ?1 AND merged_into IS NULL")?
                .query_row([nid.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
        } else if let Some(f) = &row.file_number {
            self.tx
                .prepare_cached("SELECT data, version FROM beneficiaries WHERE file_number = ?1 AND merged_into IS NULL LIMIT 1")?
                .query_row([f], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
        } else {
            self.tx
                .prepare_cached(
                    "SELECT data, version FROM beneficiaries
                     WHERE name_key = ?1 AND phone IS ?2 AND birth_date IS ?3 AND merged_into IS NULL LIMIT 1",
                )?
                .query_row(
                    rusqlite::params![
                        key,
                        row.mobile.as_ref().map(|m| m.as_str().to_owned()),
                        row.birth_date.map(|d| d.to_string())
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
        };
        found
            .map(|(data, v)| Ok((serde_json::from_str(&data)?, v)))
            .transpose()
    }

    /// Why a row's file number cannot be stored for the person it speaks of (`id`: the one on
    /// file it matched, or the new one): the person already has another, or someone else holds it.
    fn file_number_problem(
        &self,
        row: &ImportedBeneficiary,
        existing: Option<&Beneficiary>,
        id: &BeneficiaryId,
    ) -> Result<Option<(&'static str, &'static str)>> {
        let Some(f) = &row.file_number else {
            return Ok(None);
        };
        if let Some(held) = existing.and_then(|b| b.file_number.as_ref())
            && held != f
        {
            return Ok(Some((
                "file_number_differs",
                "للمستفيد في السجل رقم ملف آخر، ورقم الملف لا يُستبدل",
            )));
        }
        let holder: Option<String> = self
            .tx
            .prepare_cached(
                "SELECT id FROM beneficiaries WHERE file_number = ?1 AND merged_into IS NULL AND id <> ?2 LIMIT 1",
            )?
            .query_row(rusqlite::params![f, id.to_string()], |r| r.get(0))
            .optional()?;
        Ok(holder.map(|_| {
            (
                "duplicate_file_number",
                "رقم الملف مسجل لمستفيد آخر في هذا الفرع",
            )
        }))
    }
}

impl Store {
    /// Import a CSV or XLSX beneficiary sheet.
    pub fn import_file(
        &mut self,
        path: &Path,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        self.require(&[Role::Representative, Role::Admin])?;
        let today = self.now().date_naive();
        let sheet = sheet::read_sheet(path, today, &mut |rows, _| {
            progress(ImportProgress::Reading { rows })
        })
        .map_err(sheet_error)?;
        self.import_rows(sheet, progress)
    }

    /// Import a sheet the desktop app holds in memory (see `sheet::read_sheet_bytes`).
    pub fn import_bytes(
        &mut self,
        bytes: &[u8],
        file_name: &str,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        self.require(&[Role::Representative, Role::Admin])?;
        let today = self.now().date_naive();
        let sheet = sheet::read_sheet_bytes(
            bytes,
            file_name,
            today,
            &mut |rows, _| progress(ImportProgress::Reading { rows }),
            None,
        )
        .map_err(sheet_error)?;
        self.import_rows(sheet, progress)
    }

    /// The header and first `rows` rows of a sheet as an import would take them, with their
    /// problems: nothing is saved.
    pub fn preview_sheet(
        &self,
        bytes: &[u8],
        file_name: &str,
        rows: usize,
    ) -> Result<sheet::Sheet> {
        self.require(&[Role::Representative, Role::Admin])?;
        let today = self.now().date_naive();
        sheet::read_sheet_bytes(bytes, file_name, today, &mut |_, _| {}, Some(rows))
            .map_err(sheet_error)
    }

    fn import_rows(
        &mut self,
        sheet: sheet::Sheet,
        progress: &mut dyn FnMut(ImportProgress),
    ) -> Result<ImportReport> {
        let sheet::Sheet {
            rows,
            mut rejected,
            columns,
            ..
        } = sheet;
        // A refused file number is said of its column as the sheet names it.
        let file_number_column = columns
            .into_iter()
            .find(|(_, field)| *field == Some("file_number"))
            .map(|(header, _)| header)
            .unwrap_or_default();
        let refuse_file_number = |row: usize, (code, message): (&str, &str)| RowError {
            row,
            column: file_number_column.clone(),
            code: code.into(),
            message: message.into(),
        };
        let total = rows.len();
        let branch = self.session.branch.clone();
        let today = self.now().date_naive();
        crate::set_cache(&self.conn, crate::BULK_CACHE_KIB)?;
        let unreadable: std::collections::BTreeSet<usize> =
            rejected.iter().map(|r| r.row).collect();
        let report = self.write(|w| {
            // One audit event for the whole import, with its counts, not one per row.
            w.audit_each_op = false;
            let mut report = ImportReport::default();
            for (i, row) in rows.iter().enumerate() {
                let key = row.beneficiary.name.search_key();
                match w.find_for_import(&row.beneficiary, &key)? {
                    Some((existing, version)) => {
                        let mut next = existing.clone();
                        merge_into(&mut next, &row.beneficiary);
                        if let Some(problem) =
                            w.file_number_problem(&row.beneficiary, Some(&existing), &existing.id)?
                        {
                            report.rejected.push(refuse_file_number(row.row, problem));
                        } else if next == existing {
                            report.unchanged += 1;
                        } else if let Err(errors) = next.validate(today) {
                            for e in errors {
                                report.rejected.push(RowError {
                                    row: row.row,
                                    column: e.field,
                                    code: e.code,
                                    message: e.message,
                                });
                            }
                        } else {
                            match w.update_beneficiary_row(&next, version) {
                                Ok(_) => {
                                    if let Some(f) = &next.file_number {
                                        w.note_number("file", f)?;
                                    }
                                    report.updated += 1
                                }
                                Err(StoreError::DuplicateNationalId { .. }) => {
                                    report.rejected.push(duplicate_row(row.row))
                                }
                                Err(e) => return Err(e),
                            }
                        }
                    }
                    None => {
                        let mut b =
                            Beneficiary::new(BeneficiaryId::new_v7(), row.beneficiary.name.clone());
                        merge_into(&mut b, &row.beneficiary);
                        if let Some(problem) =
                            w.file_number_problem(&row.beneficiary, None, &b.id)?
                        {
                            report.rejected.push(refuse_file_number(row.row, problem));
                        } else if let Err(errors) = b.validate(today) {
                            for e in errors {
                                report.rejected.push(RowError {
                                    row: row.row,
                                    column: e.field,
                                    code: e.code,
                                    message: e.message,
                                });
                            }
                        } else {
                            w.insert_beneficiary(&b, &branch)?;
                            if let Some(f) = &b.file_number {
                                // This store's own number, brought back: never given again.
                                w.note_number("file", f)?;
                            }
                            report.imported += 1;
                        }
                    }
                }
                if (i + 1) % 1000 == 0 || i + 1 == total {
                    progress(ImportProgress::Saving { done: i + 1, total });
                }
            }
            w.audit_with(
                "import",
                "sheet",
                &uuid::Uuid::now_v7().to_string(),
                &serde_json::json!({
                    "imported": report.imported,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                    "rejected_rows": unreadable
                        .iter()
                        .chain(report.rejected.iter().map(|r| &r.row))
                        .collect::<std::collections::BTreeSet<_>>()
                        .len(),
                }),
            )?;
            Ok(report)
        });
        crate::set_cache(&self.conn, crate::CACHE_KIB)?;
        let mut report = report?;
        rejected.append(&mut report.rejected);
        rejected.sort_by_key(|r| r.row);
        report.rejected = rejected;
        Ok(report)
    }
}

fn sheet_error(e: sheet::SheetError) -> StoreError {
    StoreError::Invalid(vec![sila_domain::error::FieldError::new(
        "file",
        e.code(),
        &e.arabic_message(),
    )])
}

fn duplicate_row(row: usize) -> RowError {
    RowError {
        row,
        column: "national_id".into(),
        code: "duplicate_national_id".into(),
        message: "رقم الهوية مسجل لمستفيد آخر".into(),
    }
}
