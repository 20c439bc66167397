//! A labelled synthetic population for duplicate detection: people registered at five branches,
//! some of them twice (at another branch, spelled another way, with or without their ID, with a
//! new mobile), plus the hard negatives a charity really has: namesakes (the same name, another
//! ID, sometimes the same birth date) and brothers sharing the family's mobile.
//!
//! Used by the precision/recall test (tests/duplicates.rs) and the 1M benchmark (`--only
//! duplicates`). Deterministic for a seed.

use chrono::{Duration, NaiveDate};
use rand::prelude::*;
use rand::rngs::StdRng;
use sila_domain::duplicates::Person;
use std::collections::HashSet;

pub const BRANCHES: [&str; 5] = ["الأفلاج", "ليلى", "مروان", "الخرفة", "واسط"];

pub struct Labelled {
    pub people: Vec<Person>,
    /// Pairs of indexes (a < b) that are the same person.
    pub same: HashSet<(usize, usize)>,
    /// How many of `same` share neither an ID nor a birth date nor a mobile: by design no
    /// blocking finds them (design.md: candidates are blocked by birth date and phone).
    pub unfindable: usize,
}

/// A spelling a different desk would write for the same name.
fn variant(rng: &mut StdRng, name: &str) -> String {
    let mut words: Vec<String> = name.split_whitespace().map(str::to_owned).collect();
    let edits = rng.random_range(1..=2);
    for _ in 0..edits {
        match rng.random_range(0..8) {
            // hamza forms dropped
            0 => {
                for w in &mut words {
                    *w = w.replace(['أ', 'إ', 'آ'], "ا");
                }
            }
            // ta marbuta as ha, final ya as alef maqsura
            1 => {
                for w in &mut words {
                    if w.ends_with('ة') {
                        w.pop();
                        w.push('ه');
                    } else if w.ends_with('ي') {
                        w.pop();
                        w.push('ى');
                    }
                }
            }
            // عبد compounds joined or split
            2 => {
                let joined = words.join(" ");
                let out = if joined.contains("عبد ") {
                    joined.replace("عبد ", "عبد")
                } else {
                    joined.replace("عبد", "عبد ")
                };
                words = out.split_whitespace().map(str::to_owned).collect();
            }
            // the linking particle written out
            3 if words.len() >= 3 && !words.contains(&"بن".to_owned()) => {
                words.insert(1, "بن".into());
            }
            // three-part name: the grandfather left out
            4 if words.len() >= 4 && !words.contains(&"بن".to_owned()) => {
                words.remove(2);
            }
            // آل written as the article, or the article dropped
            5 => {
                if let Some(last) = words.last_mut() {
                    if let Some(rest) = last.strip_prefix("آل") {
                        *last = format!("ال{}", rest.trim_start());
                    } else if let Some(rest) = last.strip_prefix("ال") {
                        *last = rest.to_owned();
                    }
                }
            }
            // a typing slip: two neighbouring letters swapped in one part
            6 => {
                let i = rng.random_range(0..words.len());
                let mut cs: Vec<char> = words[i].chars().collect();
                if cs.len() >= 4 {
                    let j = rng.random_range(1..cs.len() - 2);
                    cs.swap(j, j + 1);
                    words[i] = cs.into_iter().collect();
                }
            }
            // tatweel and diacritics
            _ => {
                if let Some(w) = words.first_mut() {
                    let mut cs: Vec<char> = w.chars().collect();
                    if cs.len() >= 3 {
                        cs.insert(2, 'ـ');
                    }
                    cs.push('ُ');
                    *w = cs.into_iter().collect();
                }
            }
        }
    }
    words.join(" ")
}

fn person(b: &sila_domain::beneficiary::Beneficiary, branch: &str) -> Person {
    Person {
        id: b.id.to_string(),
        branch: branch.into(),
        national_id: b.national_id.as_ref().map(|n| n.as_str().to_owned()),
        full_name: b.name.full(),
        birth_date: b.birth_date,
        mobile: b.mobile.as_ref().map(|m| m.as_str().to_owned()),
    }
}

fn other_mobile(rng: &mut StdRng) -> String {
    format!(
        "+9665{}{:07}",
        rng.random_range(0..10),
        rng.random_range(0..10_000_000u32)
    )
}

/// About `n` people: originals, their second registrations (~12 %), namesakes (~3 %) and
/// brothers (~3 %).
pub fn generate(n: usize, seed: u64) -> Labelled {
    let mut rng = StdRng::seed_from_u64(seed);
    let today = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    let mut people = Vec::with_capacity(n + n / 5);
    let mut same = HashSet::new();
    let mut unfindable = 0;
    while people.len() < n {
        let b = sila_store::demo::beneficiary(&mut rng, today);
        let home = BRANCHES[rng.random_range(0..BRANCHES.len())];
        let original = people.len();
        people.push(person(&b, home));
        let roll: f64 = rng.random();
        if roll < 0.12 {
            // Registered again elsewhere.
            let mut copy = person(&b, BRANCHES[rng.random_range(0..BRANCHES.len())]);
            copy.id = sila_domain::ids::BeneficiaryId::new_v7().to_string();
            copy.full_name = variant(&mut rng, &copy.full_name);
            match rng.random_range(0..10) {
                0..=3 => {}                       // the same ID
                4..=7 => copy.national_id = None, // registered without papers
                _ => {
                    copy.national_id = None;
                    people[original].national_id = None;
                }
            }
            if rng.random_bool(0.15) {
                copy.birth_date = None;
            }
            match rng.random_range(0..10) {
                0..=5 => {}
                6..=7 => copy.mobile = Some(other_mobile(&mut rng)),
                _ => copy.mobile = None,
            }
            let o = &people[original];
            let shares = (o.national_id.is_some() && o.national_id == copy.national_id)
                || (o.birth_date.is_some() && o.birth_date == copy.birth_date)
                || (o.mobile.is_some() && o.mobile == copy.mobile);
            if !shares {
                unfindable += 1;
            }
            same.insert((original, people.len()));
            people.push(copy);
        } else if roll < 0.15 {
            // A namesake: another person with the very same name.
            let mut other = sila_store::demo::beneficiary(&mut rng, today);
            other.name = b.name.clone();
            if rng.random_bool(0.3) {
                other.birth_date = b.birth_date;
            }
            people.push(person(
                &other,
                BRANCHES[rng.random_range(0..BRANCHES.len())],
            ));
        } else if roll < 0.18 {
            // A brother (or sister) at the same address: the family's mobile, the same father,
            // grandfather and family name, another first name, another birth date.
            let mut sib = sila_store::demo::beneficiary(&mut rng, today);
            let mut name = b.name.clone();
            name.first = sib.name.first.clone();
            name.as_written = String::new();
            sib.name = name;
            sib.mobile = b.mobile.clone();
            sib.birth_date = b
                .birth_date
                .map(|d| d + Duration::days(rng.random_range(300..4000)));
            people.push(person(&sib, home));
        }
    }
    Labelled {
        people,
        same,
        unfindable,
    }
}

/// Precision and recall of proposed pairs (indexes into `people`) against the labels.
pub fn precision_recall(l: &Labelled, proposed: &[(usize, usize)]) -> (f64, f64, usize, usize) {
    let tp = proposed
        .iter()
        .filter(|&&(a, b)| l.same.contains(&(a.min(b), a.max(b))))
        .count();
    let fp = proposed.len() - tp;
    let precision = if proposed.is_empty() {
        1.0
    } else {
        tp as f64 / proposed.len() as f64
    };
    let recall = tp as f64 / l.same.len().max(1) as f64;
    (precision, recall, tp, fp)
}
