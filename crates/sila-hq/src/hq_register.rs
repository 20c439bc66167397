//! [`RegisterStore`] for [`Hq`]: each method one transaction, reads in `sql::register`, the edit
//! by `rules::register`.

use crate::Result;
use crate::hq::Hq;
use crate::rules;
use crate::sql;
use crate::store::HqActor;
use crate::store::register::*;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sila_domain::error::FieldError;

impl RegisterStore for Hq {
    fn register(&self, q: &RegisterQuery) -> Result<RegisterPage> {
        self.read(|c| sql::register::register(c, q))
    }

    fn register_export(
        &self,
        q: &RegisterQuery,
        max: usize,
    ) -> Result<Vec<(String, sila_domain::beneficiary::Beneficiary)>> {
        self.read(|c| sql::register::register_export(c, q, max))
    }

    fn person_file(&self, id: &str, today: NaiveDate) -> Result<Option<PersonFile>> {
        self.read(|c| sql::register::person_file(c, id, today))
    }

    fn edit_person(
        &self,
        staff: &HqActor,
        id: &str,
        field: &str,
        value: &Value,
        now: DateTime<Utc>,
    ) -> Result<Result<i64, Vec<FieldError>>> {
        let today = now.date_naive();
        self.rules(|tx| rules::register::edit_person(tx, staff, id, field, value, today, now))
    }

    fn voice(&self, f: &VoiceFilter, today: NaiveDate) -> Result<VoicePage> {
        self.read(|c| sql::register::voice(c, f, today))
    }

    fn voice_item(&self, task_id: &str, today: NaiveDate) -> Result<Option<VoiceItem>> {
        self.read(|c| sql::register::voice_item(c, task_id, today))
    }

    fn survey_scores(&self, f: &ScoreFilter) -> Result<SurveyScores> {
        self.read(|c| sql::register::survey_scores(c, f))
    }
}
