//! The console's downloads: dashboards and the committee queue as CSV (UTF-8 with BOM, CRLF,
//! formula-guarded) or XLSX (right to left, strings never formulas). The writing itself is the
//! branch's tested exporter (sila-export); this module only lays out the tables.

use super::store::{CommitteeRow, DashRow, Dashboard};
use crate::store::{HqError, Result};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use sila_export::{Cell, Table, write_csv, write_xlsx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn from_ext(s: &str) -> Option<Format> {
        match s {
            "csv" => Some(Format::Csv),
            "xlsx" => Some(Format::Xlsx),
            _ => None,
        }
    }
    /// The format of a download named `{stem}.csv` or `{stem}.xlsx`; none for any other name.
    pub fn of_download(name: &str, stem: &str) -> Option<Format> {
        let (what, ext) = name.rsplit_once('.')?;
        if what != stem {
            return None;
        }
        Format::from_ext(ext)
    }
    pub fn ext(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }
    pub fn mime(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// A download's response: the bytes, their type, and a file name of ASCII only
/// (`sila-{what}-{date}.{ext}`).
pub fn download(bytes: Vec<u8>, format: Format, what: &str) -> Response {
    let filename = format!(
        "sila-{what}-{}.{}",
        Utc::now().format("%Y%m%d"),
        format.ext()
    );
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.mime()),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")).expect("ASCII"),
    );
    res
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn channel_ar(code: &str) -> String {
    serde_json::from_value::<sila_domain::catalog::Channel>(serde_json::Value::String(
        code.to_owned(),
    ))
    .map(|c| c.arabic().to_owned())
    .unwrap_or_else(|_| code.to_owned())
}

fn state_ar(code: &str) -> String {
    sila_domain::case::CaseState::from_code(code)
        .map(|s| s.arabic().to_owned())
        .unwrap_or_else(|| code.to_owned())
}

fn dash_table(name: &str, first: &str, rows: &[DashRow], channel_keys: bool) -> Table {
    let headers = [
        first,
        "الطلبات المستلمة",
        "بانتظار القرار",
        "مقبولة",
        "مرفوضة",
        "قرار في الموعد",
        "قرار متأخر",
        "متأخرة بانتظار القرار",
        "استبيانات الرضا",
        "متوسط الرضا (من 5)",
        "الشكاوى",
        "الاقتراحات",
    ];
    Table {
        name: name.into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    text(if channel_keys {
                        channel_ar(&r.key)
                    } else {
                        r.key.clone()
                    }),
                    Cell::Int(r.intake),
                    Cell::Int(r.open),
                    Cell::Int(r.approved),
                    Cell::Int(r.rejected),
                    Cell::Int(r.decided_on_time),
                    Cell::Int(r.decided_late),
                    Cell::Int(r.waiting_overdue),
                    Cell::Int(r.surveys),
                    r.satisfaction
                        .map(|s| text(format!("{s:.2}")))
                        .unwrap_or(Cell::Empty),
                    Cell::Int(r.complaints),
                    Cell::Int(r.suggestions),
                ]
            })
            .collect(),
    }
}

/// The dashboard's tables: per branch, per channel, the funnel, intake by month, satisfaction.
pub fn dashboard_tables(d: &Dashboard) -> Vec<Table> {
    vec![
        dash_table("حسب الفرع", "الفرع", &d.by_branch, false),
        dash_table("حسب القناة", "القناة", &d.by_channel, true),
        Table {
            name: "مراحل الطلبات".into(),
            headers: vec!["الحالة".into(), "عدد الطلبات".into()],
            rows: d
                .funnel
                .iter()
                .map(|c| vec![text(state_ar(&c.key)), Cell::Int(c.n)])
                .collect(),
        },
        Table {
            name: "الطلبات حسب الشهر".into(),
            headers: vec!["الشهر".into(), "عدد الطلبات".into()],
            rows: d
                .intake
                .iter()
                .map(|c| vec![text(c.key.clone()), Cell::Int(c.n)])
                .collect(),
        },
        Table {
            name: "الرضا حسب الشهر".into(),
            headers: vec!["الشهر".into(), "عدد الاستبيانات".into(), "المتوسط".into()],
            rows: d
                .satisfaction_trend
                .iter()
                .map(|m| {
                    vec![
                        text(m.month.clone()),
                        Cell::Int(m.n),
                        text(format!("{:.2}", m.mean)),
                    ]
                })
                .collect(),
        },
    ]
}

pub fn committee_table(rows: &[CommitteeRow]) -> Table {
    let headers = [
        "رقم الطلب",
        "الفرع",
        "المستفيد",
        "نوع الدعم",
        "القناة",
        "تاريخ التقديم",
        "موعد الرد الموعود",
        "الحالة مقابل الموعد",
        "الأيام المتبقية",
    ];
    let day = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| {
                chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(s), "%Y-%m-%d").ok()
            })
            .map(Cell::Date)
            .unwrap_or(Cell::Empty)
    };
    Table {
        name: "قائمة اللجنة".into(),
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    text(r.number.clone()),
                    text(r.branch.clone()),
                    text(r.beneficiary_name.clone()),
                    text(r.support_type.clone()),
                    text(channel_ar(&r.channel)),
                    day(&r.submitted_at),
                    day(&r.promised_reply_date),
                    text(match r.promise {
                        super::store::Promise::OnTrack => "في الموعد",
                        super::store::Promise::DueSoon => "يقترب الموعد",
                        super::store::Promise::Overdue => "متأخر",
                    }),
                    r.days_left.map(Cell::Int).unwrap_or(Cell::Empty),
                ]
            })
            .collect(),
    }
}

/// Write the tables in the format and return the file's bytes. CSV holds the first table only.
pub fn render(tables: &[Table], format: Format) -> Result<Vec<u8>> {
    let dir = std::env::temp_dir();
    let path = dir.join(format!("sila-hq-export-{}", uuid::Uuid::now_v7()));
    let written = match format {
        Format::Csv => write_csv(&path, &tables[0]),
        Format::Xlsx => write_xlsx(&path, tables),
    };
    let out = written
        .map_err(|e| HqError::Io(std::io::Error::other(e.code())))
        .and_then(|()| Ok(std::fs::read(&path)?));
    let _ = std::fs::remove_file(&path);
    out
}
