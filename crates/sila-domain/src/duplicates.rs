//! Duplicate candidates across branches: the same person registered at two desks.
//!
//! The rules (design.md "Headquarters"):
//! - the same national ID on two live records is a **certain** match;
//! - otherwise pairs are only ever compared inside a block: the same birth date, or the same
//!   mobile. Comparing everyone with everyone is a trillion pairs at 1M people; a person whose two
//!   files share neither birth date nor mobile (nor ID) is not found, and that is the trade-off;
//! - inside a block, pairs are scored on the normalised four-part Arabic name
//!   ([`arabic::name_similarity_of_tokens`]: particles بن/بنت/آل, the عبد compounds, hamza and
//!   ta-marbuta spellings), helped by the other evidence they share;
//! - two records carrying different national IDs are never certain, and rank low: namesakes
//!   (the same name, the same birth date, different IDs) are different people far more often
//!   than a mistyped ID.
//!
//! Pure and deterministic: the caller loads the people and stores the candidates.

use crate::arabic;
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::HashMap;

/// What duplicate detection needs of a beneficiary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    pub branch: String,
    pub national_id: Option<String>,
    pub full_name: String,
    pub birth_date: Option<NaiveDate>,
    /// E.164.
    pub mobile: Option<String>,
}

/// Why a pair was proposed, as stable codes (the console translates them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    SameNationalId,
    SameBirthDate,
    SameMobile,
    SameName,
    SimilarName,
    DifferentNationalIds,
    DifferentBirthDates,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::SameNationalId => "same_national_id",
            Reason::SameBirthDate => "same_birth_date",
            Reason::SameMobile => "same_mobile",
            Reason::SameName => "same_name",
            Reason::SimilarName => "similar_name",
            Reason::DifferentNationalIds => "different_national_ids",
            Reason::DifferentBirthDates => "different_birth_dates",
        }
    }

    pub fn arabic(self) -> &'static str {
        match self {
            Reason::SameNationalId => "رقم الهوية نفسه",
            Reason::SameBirthDate => "تاريخ الميلاد نفسه",
            Reason::SameMobile => "رقم الجوال نفسه",
            Reason::SameName => "الاسم نفسه",
            Reason::SimilarName => "اسم متقارب",
            Reason::DifferentNationalIds => "رقما هوية مختلفان",
            Reason::DifferentBirthDates => "تاريخا ميلاد مختلفان",
        }
    }
}

/// A proposed pair: indexes into the slice given to [`candidates`], `a < b`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub a: usize,
    pub b: usize,
    /// 0..=1, three decimals.
    pub score: f64,
    pub certain: bool,
    pub reasons: Vec<Reason>,
}

/// Pairs scoring below this are not proposed. Chosen on the labelled synthetic set
/// (crates/sila-bench/src/labelled.rs): it keeps spelling variants and three-part vs four-part
/// names, and drops brothers (same family, same mobile, different first name).
pub const THRESHOLD: f64 = 0.80;

/// Blocks larger than this are compared by name key only (a shared family phone on hundreds of
/// files, a default birth date such as 1 Muharram typed for everyone without papers): every
/// pair inside them would be noise and quadratic time.
pub const MAX_BLOCK: usize = 500;

struct Prepared {
    tokens: Vec<String>,
}

/// Every candidate pair among `people`, best first (certain pairs, then by score), using up to
/// `threads` threads. Deterministic for a given input order.
pub fn candidates(people: &[Person], threshold: f64, threads: usize) -> Vec<Candidate> {
    let prepared: Vec<Prepared> = people
        .iter()
        .map(|p| Prepared {
            tokens: arabic::name_tokens(&p.full_name),
        })
        .collect();

    let mut out: Vec<Candidate> = Vec::new();

    // Certain: the same national ID on two records.
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        if let Some(n) = &p.national_id {
            by_id.entry(n.as_str()).or_default().push(i);
        }
    }
    for group in by_id.values().filter(|g| g.len() > 1) {
        for (x, &a) in group.iter().enumerate() {
            for &b in &group[x + 1..] {
                let mut c = score(people, &prepared, a.min(b), a.max(b));
                c.certain = true;
                c.score = 1.0;
                out.push(c);
            }
        }
    }

    // Blocks: the same birth date, the same mobile. A pair sharing both is scored in the
    // birth-date block only.
    let mut blocks: Vec<Vec<usize>> = Vec::new();
    let mut by_birth: HashMap<NaiveDate, Vec<usize>> = HashMap::new();
    let mut by_mobile: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        if let Some(d) = p.birth_date {
            by_birth.entry(d).or_default().push(i);
        }
        if let Some(m) = &p.mobile {
            by_mobile.entry(m.as_str()).or_default().push(i);
        }
    }
    blocks.extend(by_birth.into_values().filter(|b| b.len() > 1));
    let birth_blocks = blocks.len();
    blocks.extend(by_mobile.into_values().filter(|b| b.len() > 1));
    // Oversized blocks: split by the first name's first letter and the family name's last
    // letter, so that the pairs compared still share something of the name.
    let mut split: Vec<(bool, Vec<usize>)> = Vec::new();
    for (k, block) in blocks.into_iter().enumerate() {
        let is_birth = k < birth_blocks;
        if block.len() <= MAX_BLOCK {
            split.push((is_birth, block));
            continue;
        }
        let mut sub: HashMap<(char, char), Vec<usize>> = HashMap::new();
        for i in block {
            let t = &prepared[i].tokens;
            let first = t.first().and_then(|t| t.chars().next()).unwrap_or(' ');
            let last = t.last().and_then(|t| t.chars().last()).unwrap_or(' ');
            sub.entry((first, last)).or_default().push(i);
        }
        split.extend(sub.into_values().map(|b| (is_birth, b)));
    }
    // Largest blocks first so the threads finish together.
    split.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.1.cmp(&b.1)));

    let threads = threads.max(1);
    let found: Vec<Vec<Candidate>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let split = &split;
                let prepared = &prepared;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for (is_birth, block) in split.iter().skip(t).step_by(threads) {
                        compare_block(people, prepared, block, *is_birth, threshold, &mut mine);
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("duplicate scoring thread"))
            .collect()
    });
    out.extend(found.into_iter().flatten());
    out.sort_by(|x, y| {
        y.certain
            .cmp(&x.certain)
            .then(y.score.total_cmp(&x.score))
            .then((x.a, x.b).cmp(&(y.a, y.b)))
    });
    out.dedup_by(|x, y| x.a == y.a && x.b == y.b);
    out
}

fn compare_block(
    people: &[Person],
    prepared: &[Prepared],
    block: &[usize],
    is_birth: bool,
    threshold: f64,
    out: &mut Vec<Candidate>,
) {
    for (x, &i) in block.iter().enumerate() {
        for &j in &block[x + 1..] {
            let (a, b) = (i.min(j), i.max(j));
            let (pa, pb) = (&people[a], &people[b]);
            // Certain pairs are already out; a mobile-block pair that also shares a birth date
            // was scored in its birth-date block.
            if pa.national_id.is_some() && pa.national_id == pb.national_id {
                continue;
            }
            if !is_birth && pa.birth_date.is_some() && pa.birth_date == pb.birth_date {
                continue;
            }
            let c = score(people, prepared, a, b);
            if c.score >= threshold {
                out.push(c);
            }
        }
    }
}

fn score(people: &[Person], prepared: &[Prepared], a: usize, b: usize) -> Candidate {
    let (pa, pb) = (&people[a], &people[b]);
    let mut reasons = Vec::new();
    let name = arabic::name_similarity_of_tokens(&prepared[a].tokens, &prepared[b].tokens);
    let mut s = name;
    if name >= 0.999 {
        reasons.push(Reason::SameName);
    } else if name >= 0.6 {
        reasons.push(Reason::SimilarName);
    }
    let same_birth = pa.birth_date.is_some() && pa.birth_date == pb.birth_date;
    let same_mobile = pa.mobile.is_some() && pa.mobile == pb.mobile;
    if same_birth {
        reasons.push(Reason::SameBirthDate);
    }
    if same_mobile {
        reasons.push(Reason::SameMobile);
    }
    if same_birth && same_mobile {
        // Two independent facts agree: a name spelled quite differently is still likely them.
        s += (1.0 - s) * 0.3;
    }
    if let (Some(x), Some(y)) = (pa.birth_date, pb.birth_date)
        && x != y
    {
        reasons.push(Reason::DifferentBirthDates);
        s *= 0.85;
    }
    match (&pa.national_id, &pb.national_id) {
        (Some(x), Some(y)) if x == y => reasons.insert(0, Reason::SameNationalId),
        (Some(_), Some(_)) => {
            reasons.push(Reason::DifferentNationalIds);
            s *= 0.6;
        }
        _ => {}
    }
    Candidate {
        a,
        b,
        score: (s.clamp(0.0, 1.0) * 1000.0).round() / 1000.0,
        certain: false,
        reasons,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(
        id: &str,
        nid: Option<&str>,
        name: &str,
        birth: Option<&str>,
        mobile: Option<&str>,
    ) -> Person {
        Person {
            id: id.into(),
            branch: "الأفلاج".into(),
            national_id: nid.map(Into::into),
            full_name: name.into(),
            birth_date: birth.map(|d| d.parse().unwrap()),
            mobile: mobile.map(Into::into),
        }
    }

    #[test]
    fn the_same_id_is_certain_whatever_the_name() {
        let people = [
            p("a", Some("1000000008"), "محمد عبدالله الدوسري", None, None),
            p("b", Some("1000000008"), "سارة علي القحطاني", None, None),
        ];
        let c = candidates(&people, THRESHOLD, 1);
        assert_eq!(c.len(), 1);
        assert!(c[0].certain);
        assert_eq!(c[0].reasons[0], Reason::SameNationalId);
    }

    #[test]
    fn spelling_variants_in_a_block_are_proposed_namesakes_with_ids_are_not_certain() {
        let people = [
            p(
                "a",
                None,
                "أحمد عبد الله بن سعد آل دوسري",
                Some("1990-01-02"),
                None,
            ),
            p(
                "b",
                Some("1000000008"),
                "احمد عبدالله سعد الدوسري",
                Some("1990-01-02"),
                None,
            ),
            p(
                "c",
                Some("1000000016"),
                "محمد خالد سالم العتيبي",
                Some("1985-05-05"),
                None,
            ),
            p(
                "d",
                Some("1000000024"),
                "محمد خالد سالم العتيبي",
                Some("1985-05-05"),
                None,
            ),
            // Same name, no shared block: never compared.
            p(
                "e",
                None,
                "احمد عبدالله سعد الدوسري",
                Some("1970-01-01"),
                None,
            ),
        ];
        let c = candidates(&people, 0.0, 2);
        let ab = c.iter().find(|c| (c.a, c.b) == (0, 1)).unwrap();
        assert!(!ab.certain && ab.score >= THRESHOLD, "{ab:?}");
        let cd = c.iter().find(|c| (c.a, c.b) == (2, 3)).unwrap();
        assert!(!cd.certain && cd.score < THRESHOLD, "{cd:?}");
        assert!(cd.reasons.contains(&Reason::DifferentNationalIds));
        assert!(!c.iter().any(|c| c.b == 4));
    }

    #[test]
    fn the_order_of_the_input_does_not_change_the_pairs() {
        let people = vec![
            p(
                "a",
                None,
                "نورة فهد سالم العتيبي",
                Some("1980-03-29"),
                Some("+966501112222"),
            ),
            p("b", None, "نوره فهد العتيبي", Some("1980-03-29"), None),
            p(
                "c",
                None,
                "نورة فهد سالم العتيبى",
                None,
                Some("+966501112222"),
            ),
        ];
        let ids = |people: &[Person]| {
            let mut v: Vec<(String, String, String)> = candidates(people, 0.5, 2)
                .into_iter()
                .map(|c| {
                    let mut k = [people[c.a].id.clone(), people[c.b].id.clone()];
                    k.sort();
                    let [x, y] = k;
                    (x, y, format!("{:.3}", c.score))
                })
                .collect();
            v.sort();
            v
        };
        let mut reversed = people.clone();
        reversed.reverse();
        assert_eq!(ids(&people), ids(&reversed));
        // a–b share a birth date, a–c a mobile; b and c share no block.
        assert_eq!(ids(&people).len(), 2);
    }
}
