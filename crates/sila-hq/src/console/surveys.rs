//! Survey scores on HQ's dashboards (issue 11, point 6): every question (not only the overall
//! score) per branch, per channel, per service and per employee, and how many gave each score;
//! downloadable as CSV (the per-branch table) or XLSX (every table).

use super::staff::{AnyRole, Staff};
use super::{ApiResult, ConsoleError, ConsoleState, audit, blocking, export};
use crate::console::extract::{Json, Path, Query};
use crate::store::register::{ScoreFilter, ScoreRow, SurveyScores};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use sila_export::{Cell, Table};

pub(super) async fn scores(
    State(state): State<ConsoleState>,
    _: Staff<AnyRole>,
    Query(f): Query<ScoreFilter>,
) -> ApiResult<Json<SurveyScores>> {
    let store = state.store.clone();
    Ok(Json(blocking(move || store.survey_scores(&f)).await?))
}

fn channel_ar(code: &str) -> String {
    serde_json::from_value::<sila_domain::catalog::Channel>(json!(code))
        .map(|c| c.arabic().to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

fn service_ar(code: &str) -> String {
    sila_domain::catalog::Catalog::arabic_defaults()
        .support_types
        .iter()
        .find(|s| s.code == code)
        .map(|s| s.name_ar.clone())
        .unwrap_or_else(|| code.to_owned())
}

fn table(name: &str, first: &str, rows: &[ScoreRow], key: impl Fn(&ScoreRow) -> String) -> Table {
    let mean = |v: Option<f64>| {
        v.map(|v| Cell::Text(format!("{v:.2}")))
            .unwrap_or(Cell::Empty)
    };
    Table {
        name: name.into(),
        headers: [
            first,
            "عدد الاستبيانات",
            "الرضا العام",
            "سرعة الخدمة",
            "حسن التعامل",
            "وضوح المعلومات",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(key(r)),
                    Cell::Int(r.n),
                    mean(r.overall),
                    mean(r.speed),
                    mean(r.courtesy),
                    mean(r.clarity),
                ]
            })
            .collect(),
    }
}

/// `surveys.csv` or `surveys.xlsx`.
pub(super) async fn export_scores(
    State(state): State<ConsoleState>,
    s: Staff<AnyRole>,
    Path(name): Path<String>,
    Query(f): Query<ScoreFilter>,
) -> ApiResult<Response> {
    let format = export::Format::of_download(&name, "surveys").ok_or(ConsoleError::not_found())?;
    let store = state.store.clone();
    let filter = f.clone();
    let bytes = blocking(move || {
        let s = store.survey_scores(&filter)?;
        let unknown = "غير محدد";
        let or_unknown = |k: &str, f: &dyn Fn(&str) -> String| {
            if k.is_empty() {
                unknown.to_owned()
            } else {
                f(k)
            }
        };
        let tables = vec![
            table("حسب الفرع", "الفرع", &s.by_branch, |r| {
                r.key.clone()
            }),
            table("حسب القناة", "القناة", &s.by_channel, |r| {
                or_unknown(&r.key, &channel_ar)
            }),
            table("حسب الخدمة", "الخدمة", &s.by_service, |r| {
                or_unknown(&r.key, &service_ar)
            }),
            table("حسب الموظف", "الموظف", &s.by_employee, |r| {
                r.label
                    .clone()
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| or_unknown(&r.key, &|k| k.to_owned()))
            }),
        ];
        export::render(&tables, format)
    })
    .await?;
    audit(
        &state,
        &s.staff,
        "export",
        "export",
        name,
        json!({"branch": f.branch, "channel": f.channel}),
    )
    .await?;
    Ok(export::download(bytes, format, "surveys"))
}
