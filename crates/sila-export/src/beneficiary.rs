//! A beneficiary as a row of an export: the columns the branch's importer recognises, written the
//! same by the branch's export and by HQ's register, so either file imports back unchanged.

use crate::Cell;

/// A text cell, or an empty one for an empty text.
pub fn text(s: impl Into<String>) -> Cell {
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

/// The columns of an exported beneficiary, as the importer recognises them.
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
