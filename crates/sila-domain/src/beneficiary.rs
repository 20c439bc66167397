//! The beneficiary (مستفيد): who they are, their household, income, housing and categories,
//! and the validation a desk applies before the record may be saved.
//!
//! Amounts are whole halalas (1 SAR = 100) so money never passes through floating point.

use crate::arabic;
use crate::catalog::Channel;
use crate::field_error::FieldError;
use crate::ids::{BeneficiaryId, MemberId};
use crate::national_id::NationalId;
use crate::phone::Mobile;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// An Arabic four-part name (first, father, grandfather, family) and the name as the person writes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    #[serde(default)]
    pub first: String,
    #[serde(default)]
    pub father: String,
    #[serde(default)]
    pub grandfather: String,
    #[serde(default)]
    pub family: String,
    /// The full name exactly as written on the ID or by the person; shown wherever a name is shown.
    #[serde(default)]
    pub as_written: String,
}

impl PersonName {
    /// The name to show: as written, or else the four parts joined.
    pub fn full(&self) -> String {
        let written = self.as_written.trim();
        if !written.is_empty() {
            return written.to_owned();
        }
        [&self.first, &self.father, &self.grandfather, &self.family]
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Split a full name as written into its parts. Particles stay with the part they belong to
    /// ("عبد الله" is one part, "بن" is dropped between parts, "آل" stays with the family name), and a
    /// name of more than four parts keeps the extra words in the family name.
    pub fn from_full(full: &str) -> PersonName {
        let words: Vec<&str> = full.split_whitespace().collect();
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let w = words[i];
            let n = arabic::normalize(w);
            let joins_next = matches!(n.as_str(), "عبد" | "ابو" | "ال");
            if matches!(n.as_str(), "بن" | "بنت" | "ابن")
                && !parts.is_empty()
                && i + 1 < words.len()
            {
                i += 1;
                continue;
            }
            if joins_next && i + 1 < words.len() {
                parts.push(format!("{} {}", w, words[i + 1]));
                i += 2;
            } else {
                parts.push(w.to_owned());
                i += 1;
            }
        }
        let mut it = parts.into_iter();
        let first = it.next().unwrap_or_default();
        let mut rest: Vec<String> = it.collect();
        let (father, grandfather, family) = match rest.len() {
            0 => (String::new(), String::new(), String::new()),
            1 => (String::new(), String::new(), rest.remove(0)),
            2 => (rest.remove(0), String::new(), rest.remove(0)),
            _ => {
                let father = rest.remove(0);
                let grandfather = rest.remove(0);
                (father, grandfather, rest.join(" "))
            }
        };
        PersonName {
            first,
            father,
            grandfather,
            family,
            as_written: full.trim().to_owned(),
        }
    }

    /// The normalised search key over every part and the written form.
    pub fn search_key(&self) -> String {
        arabic::name_key(&self.full())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    pub fn parse(s: &str) -> Option<Gender> {
        match arabic::normalize(s).as_str() {
            "ذكر" | "m" | "male" | "رجل" => Some(Gender::Male),
            "انثي" | "f" | "female" | "امراه" => Some(Gender::Female),
            _ => None,
        }
    }
    pub fn arabic(self) -> &'static str {
        match self {
            Gender::Male => "ذكر",
            Gender::Female => "أنثى",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaritalStatus {
    Single,
    Married,
    Divorced,
    Widowed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Spouse,
    Son,
    Daughter,
    Father,
    Mother,
    Brother,
    Sister,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schooling {
    NotApplicable,
    NotEnrolled,
    Primary,
    Intermediate,
    Secondary,
    University,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdMember {
    pub id: MemberId,
    pub name: String,
    pub relation: Relation,
    #[serde(default)]
    pub national_id: Option<NationalId>,
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    #[serde(default)]
    pub disability: bool,
    #[serde(default)]
    pub schooling: Option<Schooling>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncomeSource {
    Salary,
    Retirement,
    SocialSecurity,
    CitizenAccount,
    Charity,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Income {
    pub source: IncomeSource,
    /// Monthly amount in halalas.
    pub monthly_halalas: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HousingKind {
    Owned,
    Rented,
    Shared,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Housing {
    pub kind: HousingKind,
    /// Yearly rent in halalas when rented.
    #[serde(default)]
    pub annual_rent_halalas: Option<i64>,
}

/// Category tags the charity reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Orphans,
    Widows,
    Divorced,
    Elderly,
    Disability,
    LowIncome,
    PrisonerFamily,
    ChronicIllness,
}

impl Category {
    pub fn arabic(self) -> &'static str {
        match self {
            Category::Orphans => "أيتام",
            Category::Widows => "أرامل",
            Category::Divorced => "مطلقات",
            Category::Elderly => "كبار السن",
            Category::Disability => "ذوو الإعاقة",
            Category::LowIncome => "ذوو الدخل المحدود",
            Category::PrisonerFamily => "أسر السجناء",
            Category::ChronicIllness => "أمراض مزمنة",
        }
    }
}

/// Everything a desk records about a beneficiary. `version` counts edits; every edit carries the
/// version it was based on so sync can tell a clean update from a collision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beneficiary {
    pub id: BeneficiaryId,
    /// Beneficiary file number, given on "complete registration"; branch-prefixed, never reused.
    #[serde(default)]
    pub file_number: Option<String>,
    pub name: PersonName,
    #[serde(default)]
    pub national_id: Option<NationalId>,
    #[serde(default)]
    pub id_expiry: Option<NaiveDate>,
    #[serde(default)]
    pub nationality: String,
    #[serde(default)]
    pub gender: Option<Gender>,
    #[serde(default)]
    pub birth_date: Option<NaiveDate>,
    #[serde(default)]
    pub marital_status: Option<MaritalStatus>,
    #[serde(default)]
    pub mobile: Option<Mobile>,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub centre: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub preferred_channel: Option<Channel>,
    #[serde(default)]
    pub household: Vec<HouseholdMember>,
    /// Household size as declared (a sheet may give only the count, not the members).
    #[serde(default)]
    pub household_size: Option<u16>,
    #[serde(default)]
    pub incomes: Vec<Income>,
    #[serde(default)]
    pub housing: Option<Housing>,
    #[serde(default)]
    pub health_conditions: String,
    #[serde(default)]
    pub categories: Vec<Category>,
}

impl Beneficiary {
    /// A new, empty beneficiary with only a name.
    pub fn new(id: BeneficiaryId, name: PersonName) -> Self {
        Beneficiary {
            id,
            file_number: None,
            name,
            national_id: None,
            id_expiry: None,
            nationality: String::new(),
            gender: None,
            birth_date: None,
            marital_status: None,
            mobile: None,
            city: String::new(),
            centre: String::new(),
            district: String::new(),
            preferred_channel: None,
            household: Vec::new(),
            household_size: None,
            incomes: Vec::new(),
            housing: None,
            health_conditions: String::new(),
            categories: Vec::new(),
        }
    }

    /// Total monthly income in halalas.
    pub fn monthly_income(&self) -> i64 {
        self.incomes.iter().map(|i| i.monthly_halalas).sum()
    }

    /// The household size: members recorded (plus the beneficiary) or the declared count.
    pub fn effective_household_size(&self) -> u16 {
        if self.household.is_empty() {
            self.household_size.unwrap_or(1)
        } else {
            self.household.len() as u16 + 1
        }
    }

    /// What must hold for the record to be saved at all. IDs and mobiles are already valid by
    /// construction (their types parse); this checks presence and plausibility.
    pub fn validate(&self, today: NaiveDate) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.name.full().trim().is_empty() {
            errors.push(FieldError::required("name"));
        } else if self.name.full().chars().count() > 200 {
            errors.push(FieldError::new("name", "too_long", "الاسم أطول من المسموح"));
        }
        if let Some(b) = self.birth_date {
            if b > today {
                errors.push(FieldError::new(
                    "birth_date",
                    "date_in_future",
                    "تاريخ الميلاد في المستقبل",
                ));
            } else if today.years_since(b).unwrap_or(0) > 130 {
                errors.push(FieldError::new(
                    "birth_date",
                    "date_out_of_range",
                    "تاريخ الميلاد غير معقول",
                ));
            }
        }
        for (i, m) in self.household.iter().enumerate() {
            if m.name.trim().is_empty() {
                errors.push(FieldError::required(&format!("household[{i}].name")));
            }
            if m.birth_date.is_some_and(|b| b > today) {
                errors.push(FieldError::new(
                    &format!("household[{i}].birth_date"),
                    "date_in_future",
                    "تاريخ الميلاد في المستقبل",
                ));
            }
        }
        for (i, inc) in self.incomes.iter().enumerate() {
            if inc.monthly_halalas < 0 {
                errors.push(FieldError::new(
                    &format!("incomes[{i}]"),
                    "negative_amount",
                    "المبلغ لا يكون سالباً",
                ));
            }
        }
        if let Some(h) = &self.housing
            && h.annual_rent_halalas.is_some_and(|r| r < 0)
        {
            errors.push(FieldError::new(
                "housing",
                "negative_amount",
                "المبلغ لا يكون سالباً",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// What must hold at the moment a request is submitted: the policy asks the employee to check
    /// the data "is valid at the time of submission", so an expired ID blocks submission.
    pub fn validate_for_submission(&self, today: NaiveDate) -> Result<(), Vec<FieldError>> {
        let mut errors = self.validate(today).err().unwrap_or_default();
        if self.mobile.is_none() {
            errors.push(FieldError::new(
                "mobile",
                "required",
                "رقم الجوال مطلوب لإبلاغ المستفيد بالقرار",
            ));
        }
        if self.id_expiry.is_some_and(|e| e < today) {
            errors.push(FieldError::new(
                "id_expiry",
                "id_expired",
                "الهوية منتهية الصلاحية وقت التقديم",
            ));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// First words of a sheet row that is not a person but a total, a count or a note, as offices
/// write them under a list of people (normalised: no hamza, ة as ه).
const NOT_A_PERSON: &[&str] = &[
    "الاجمالي",
    "اجمالي",
    "المجموع",
    "مجموع",
    "العدد",
    "عدد",
    "ملاحظات",
    "ملاحظه",
    "total",
    "subtotal",
    "sum",
    "notes",
    "note",
];

/// Whether what a row or a form gives is enough to tell who a person is. A name of one word with
/// neither a national ID nor a mobile identifies nobody (many people share it), and a totals or
/// notes row ("الإجمالي") is not a person at all. The error says which, without quoting the name.
pub fn identifies_a_person(
    name: &PersonName,
    has_national_id: bool,
    has_mobile: bool,
) -> Result<(), FieldError> {
    let full = name.full();
    let normalized = arabic::normalize(&full);
    let first = normalized.split_whitespace().next().unwrap_or("");
    if NOT_A_PERSON.contains(&first) {
        return Err(FieldError::new(
            "name",
            "not_a_person",
            "الصف ليس مستفيداً بل مجموع أو ملاحظة",
        ));
    }
    let words = full.split_whitespace().count();
    if words < 2 && !has_national_id && !has_mobile {
        return Err(FieldError::new(
            "name",
            "not_identifying",
            "لا يكفي لتعريف شخص: اسم من كلمة واحدة بلا رقم هوية ولا جوال",
        ));
    }
    Ok(())
}

/// A beneficiary's file number as the branch gives it at their first registration: the device's
/// number prefix (the branch code and the laptop's tag, "AFL-K3F"), "F", and the branch's file
/// counter in at least five digits ("AFL-K3F-F00001").
pub fn file_number(prefix: &str, n: i64) -> String {
    format!("{prefix}-F{n:05}")
}

/// A file number as a sheet or a desk writes it, in the form [`file_number`] gives: any letter
/// case, Arabic-Indic digits and surrounding spaces are accepted, the number comes back in
/// capitals. The error never quotes the text.
pub fn parse_file_number(text: &str) -> Result<String, FieldError> {
    let bad = || {
        FieldError::new(
            "file_number",
            "bad_file_number",
            "رقم الملف ليس بصيغة أرقام ملفات الفرع، مثل AFL-K3F-F00001",
        )
    };
    let folded = arabic::fold_digits(text.trim()).to_ascii_uppercase();
    let mut parts = folded.split('-');
    let (Some(code), Some(tag), Some(counter), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let alnum = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric());
    let digits = counter.strip_prefix('F').unwrap_or("");
    let ok = (1..=3).contains(&code.len())
        && alnum(code)
        && tag.len() == 3
        && alnum(tag)
        // Up to nine digits: a counter no branch reaches, and always a whole i64.
        && (5..=9).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit());
    if ok { Ok(folded) } else { Err(bad()) }
}

/// Parse an amount of riyals as a desk or a sheet writes it ("3500", "3,500.50", "٣٥٠٠ ريال") into halalas.
pub fn parse_riyals(input: &str) -> Option<i64> {
    let folded = arabic::fold_digits(input);
    let cleaned: String = folded
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '.' || *c == '٫')
        .map(|c| if c == '٫' { '.' } else { c })
        .collect();
    if cleaned.is_empty() {
        return None;
    }
    let (whole, frac) = match cleaned.split_once('.') {
        Some((w, f)) => (w, f),
        None => (cleaned.as_str(), ""),
    };
    if frac.contains('.') || frac.len() > 2 || whole.len() > 12 {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    Some(whole * 100 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_numbers_in_the_branch_form_only() {
        assert_eq!(file_number("AFL-K3F", 7), "AFL-K3F-F00007");
        assert_eq!(file_number("AFL-K3F", 123_456), "AFL-K3F-F123456");
        for (typed, read) in [
            ("AFL-K3F-F00007", "AFL-K3F-F00007"),
            (" afl-k3f-f00007 ", "AFL-K3F-F00007"),
            ("AFL-K3F-F٠٠٠٠٧", "AFL-K3F-F00007"),
            ("BR-X2Z-F123456", "BR-X2Z-F123456"),
        ] {
            assert_eq!(parse_file_number(typed).as_deref(), Ok(read), "{typed}");
        }
        for bad in [
            "",
            "0007",
            "-12",
            "AFL-K3F-000007",
            "AFL-K3F-F0007",
            "AFL-K3F-F1234567890",
            "AFLX-K3F-F00007",
            "AFL-K3-F00007",
            "AFL-K3F-F00007-1",
            "AFL K3F F00007",
            "أفل-K3F-F00007",
            "=AFL-K3F-F00007",
        ] {
            let e = parse_file_number(bad).unwrap_err();
            assert_eq!(e.code, "bad_file_number", "{bad}");
            assert!(
                bad.is_empty() || !e.message.contains(bad),
                "the message quotes {bad}"
            );
        }
    }

    #[test]
    fn splits_four_part_names_with_particles() {
        let check = |full: &str, parts: [&str; 4]| {
            let n = PersonName::from_full(full);
            assert_eq!(
                [n.first.as_str(), &n.father, &n.grandfather, &n.family],
                parts,
                "{full}"
            );
            assert_eq!(n.full(), full.trim());
        };
        check(
            "محمد عبد الله سعد الدوسري",
            ["محمد", "عبد الله", "سعد", "الدوسري"],
        );
        check(
            "نورة بنت فهد بن سالم آل سعود",
            ["نورة", "فهد", "سالم", "آل سعود"],
        );
        check("فهد العتيبي", ["فهد", "", "", "العتيبي"]);
        check("خالد", ["خالد", "", "", ""]);
        check(
            "أحمد محمد علي حسن الزهراني",
            ["أحمد", "محمد", "علي", "حسن الزهراني"],
        );
    }

    #[test]
    fn a_single_word_or_a_totals_row_identifies_nobody() {
        let name = PersonName::from_full;
        assert!(identifies_a_person(&name("منيرة سعد السبيعي"), false, false).is_ok());
        assert!(identifies_a_person(&name("منيرة"), true, false).is_ok());
        assert!(identifies_a_person(&name("منيرة"), false, true).is_ok());
        assert_eq!(
            identifies_a_person(&name("منيرة"), false, false)
                .unwrap_err()
                .code,
            "not_identifying"
        );
        for total in [
            "الإجمالي",
            "الاجمالى",
            "المجموع الكلي",
            "إجمالي الأسر",
            "ملاحظات:",
            "Total",
        ] {
            let e = identifies_a_person(&name(total), true, true).unwrap_err();
            assert_eq!(e.code, "not_a_person", "{total}");
        }
        assert!(identifies_a_person(&name("عبدالمجيد العدواني"), false, false).is_ok());
    }

    #[test]
    fn parses_riyal_amounts() {
        for (input, want) in [
            ("3500", Some(350_000)),
            ("3,500.50", Some(350_050)),
            ("٣٥٠٠ ريال", Some(350_000)),
            ("12.5", Some(1250)),
            ("", None),
            ("abc", None),
            ("1.234", None),
        ] {
            assert_eq!(parse_riyals(input), want, "{input}");
        }
    }
}
