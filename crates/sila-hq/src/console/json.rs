//! The console API's transport types: the request bodies and queries its handlers read, grouped
//! by resource. (Answers are built with `json!` where no store type carries them yet.)

use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Deserialize)]
pub struct CommitteeQuery {
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub promise: Option<String>,
}

#[derive(Deserialize)]
pub struct FindCase {
    pub number: String,
}

#[derive(Deserialize)]
pub struct DecideBody {
    pub transition: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Deserialize)]
pub struct ResolveBody {
    /// "hq" or "branch"
    pub take: String,
}

#[derive(Deserialize)]
pub struct LimitQuery {
    #[serde(default)]
    pub limit: Option<usize>,
    #[serde(default)]
    pub before: Option<i64>,
}

#[derive(Deserialize)]
pub struct MergeBody {
    pub survivor: String,
    pub merged: String,
    #[serde(default)]
    pub fields: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
pub struct PairBody {
    pub a: String,
    pub b: String,
}

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    pub branch: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub promise: Option<String>,
}

#[derive(Deserialize)]
pub struct ReleaseQuery {
    pub version: String,
}

#[derive(Deserialize)]
pub struct EnrolBody {
    pub branch: String,
    #[serde(default)]
    pub ttl_hours: Option<i64>,
}

#[derive(Deserialize)]
pub struct StaffAdd {
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    pub password: String,
    pub roles: Vec<String>,
}

#[derive(Deserialize)]
pub struct StaffSet {
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub active: Option<bool>,
    #[serde(default)]
    pub password: Option<String>,
}

#[derive(Deserialize)]
pub struct BranchQuery {
    #[serde(default)]
    pub branch: Option<String>,
}

#[derive(Deserialize)]
pub struct BranchStaffBody {
    /// Absent: a new account.
    #[serde(default)]
    pub id: Option<String>,
    pub branch: String,
    pub username: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub active: bool,
}

#[derive(Deserialize)]
pub struct KbBody {
    pub title: String,
    #[serde(default)]
    pub body: String,
    /// The file, base64 (standard alphabet).
    #[serde(default)]
    pub file_base64: Option<String>,
}

#[derive(Deserialize)]
pub struct EditBody {
    pub field: String,
    #[serde(default)]
    pub value: Value,
}
