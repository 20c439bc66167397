//! The console's JSON shapes as TypeScript: ts-rs renders the types its pages read from the
//! store (`ui/src/hq/generated/`), so the console's UI types them from Rust instead of by hand.
//! The test `console_types_are_current` fails when the generated files are stale; run it with
//! SILA_REGEN_TYPES=1 to rewrite them.
//!
//! The shapes that carry a domain record are the typed views of `json.rs`, built from the
//! domain's records at the boundary; the request bodies the console sends are there too. A value
//! that is any JSON by nature (a conflict's two values, an audit row's detail) is `unknown`.

use super::json::*;
use crate::store::console::*;
use crate::store::register::*;
use crate::store::{DeviceInfo, DuplicatePair, DuplicatePerson, ReleaseInfo};
use ts_rs::TS;

/// Every generated file: (file name, TypeScript).
pub fn typescript() -> Vec<(String, String)> {
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = Vec::new();
    macro_rules! render {
        ($($t:ty),* $(,)?) => {$(
            out.push((
                <$t as TS>::output_path().expect("exportable").to_string_lossy().into_owned(),
                <$t as TS>::export_to_string(&cfg).expect("typescript"),
            ));
        )*};
    }
    render!(
        ConsoleRole,
        ConsoleStaff,
        Promise,
        CommitteeRow,
        CommitteePage,
        FileDocument,
        Count,
        DashRow,
        MonthScore,
        Compliance,
        Dashboard,
        BranchStaffRow,
        KbRow,
        RegisterQuery,
        RegisterRow,
        RegisterPage,
        VoiceRow,
        VoiceCounts,
        VoicePage,
        ScoreRow,
        SurveyScores,
        DeviceInfo,
        DevicesView,
        DuplicatePerson,
        DuplicatePair,
        AuditRow,
        ReleaseInfo,
        MeView,
        NameView,
        MemberView,
        IncomeView,
        HousingView,
        PersonView,
        ReportView,
        DecisionView,
        CaseView,
        EventView,
        ContactView,
        DeliveryView,
        SurveyView,
        CaseLine,
        CaseFileView,
        BeneficiaryFileView,
        PersonFileView,
        VoiceItemView,
        ConflictView,
        MergeChoice,
        MergeView,
        SignIn,
        DecideBody,
        ResolveBody,
        MergeBody,
        PairBody,
        EnrolBody,
        StaffAdd,
        StaffSet,
        BranchStaffBody,
        KbBody,
        EditBody,
        AuditList,
        ConflictList,
        MergeList,
        DuplicateList,
        StaffList,
        BranchStaffList,
        KbList,
        ReleaseList,
        BranchList,
        EnrolCode,
        FoundCase,
        CatalogEntry,
        CatalogView,
        Done,
        Created,
        Merged,
        Edited,
        PublishedRelease,
        crate::error::Code,
        ErrorAnswer,
        FieldRefusal,
    );
    out
}

#[cfg(test)]
mod tests {
    /// ui/src/hq/generated/ is what `typescript()` makes. Run with SILA_REGEN_TYPES=1 to rewrite it.
    #[test]
    fn console_types_are_current() {
        sila_ts_check::assert_current(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/hq/generated"),
            &super::typescript(),
            "cargo test -p sila-hq console_types_are_current",
        );
    }
}
