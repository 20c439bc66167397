//! Arabic text folding for search, comparison and duplicate detection.
//!
//! Owns: the one normal form used for search keys ([`normalize`]), the token
//! form of a person's name ([`name_tokens`], [`name_key`]) and the fuzzy name
//! score used by HQ duplicate detection ([`name_similarity`]).
//!
//! Why it exists: SQLite's FTS5 tokenizer splits Arabic words at diacritics and
//! never folds أ/إ/آ→ا, ة→ه, ى→ي or tatweel, so every key stored in the database
//! and every query typed by staff must pass through the same function here.
//! Changing the output of [`normalize`] or [`name_tokens`] changes every stored
//! key: it needs a migration that recomputes them.
//!
//! Must never: do IO, log, or keep state. These functions see people's names;
//! they return values and never write them anywhere.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::{canonical_combining_class, is_combining_mark};

/// Arabic tatweel (kashida): a stretching stroke with no meaning, dropped
/// inside words rather than turned into a space.
const TATWEEL: char = '\u{0640}';

/// Folds Arabic-Indic (٠-٩, U+0660..) and Eastern Arabic-Indic / Persian
/// (۰-۹, U+06F0..) digits to ASCII; every other character is kept as is.
///
/// Staff type numbers on Arabic keyboards, so IDs, phones and dates arrive in
/// any of the three digit sets.
pub fn fold_digits(s: &str) -> String {
    s.chars().map(fold_digit).collect()
}

fn fold_digit(c: char) -> char {
    match c {
        '\u{0660}'..='\u{0669}' => ascii_digit(c as u32 - 0x0660),
        '\u{06F0}'..='\u{06F9}' => ascii_digit(c as u32 - 0x06F0),
        _ => c,
    }
}

fn ascii_digit(value: u32) -> char {
    char::from_digit(value, 10).unwrap_or('0')
}

/// Invisible characters that arrive with text pasted from WhatsApp, Word or
/// web forms (direction marks, zero-width joiners, BOM, soft hyphen). They
/// carry no meaning and must vanish rather than split a word in two.
pub(crate) fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Letter folds applied after NFKD. NFKD already turns أ إ آ ؤ ئ into a base
/// letter plus a combining hamza/madda (which is then dropped), so these arms
/// are mostly for letters NFKD leaves alone (ٱ ة ى) and for the Persian/Urdu
/// keyboard look-alikes (ی ک ھ) that some Windows layouts and OCR produce.
fn fold_letter(c: char) -> char {
    match c {
        'أ' | 'إ' | 'آ' | 'ٱ' | '\u{0672}' | '\u{0673}' => 'ا',
        'ة' | 'ھ' => 'ه',
        'ى' | 'ئ' | 'ی' => 'ي',
        'ؤ' => 'و',
        'ک' => 'ك',
        _ => c,
    }
}

/// The search/compare normal form of any Arabic or Latin text.
///
/// NFKD; drop combining marks (harakat, shadda, sukun, superscript alef,
/// hamza/madda marks), tatweel and invisible format characters; fold
/// أ إ آ ٱ → ا, ة → ه, ى → ي, ؤ → و, ئ → ي (a standalone ء is kept); fold digits
/// to ASCII; lowercase; every other non-letter, non-digit character
/// (punctuation, symbols, ، ؛ - . _) becomes a space; whitespace is collapsed
/// and trimmed.
///
/// Idempotent: `normalize(&normalize(x)) == normalize(x)` for every string.
pub fn normalize(s: &str) -> String {
    let mut out = normalize_pass(s);
    // One pass is already a fixed point for Arabic and ASCII text. A few
    // exotic code points are not (lowercasing İ yields i + a combining dot,
    // NFKD of modifier capitals such as ᴬ yields an uppercase letter), so for
    // anything outside those ranges we repeat until nothing changes. This makes
    // idempotence a guarantee rather than an observation; stored keys depend
    // on it.
    if out.chars().all(is_known_stable) {
        return out;
    }
    for _ in 0..4 {
        let next = normalize_pass(&out);
        if next == out {
            break;
        }
        out = next;
    }
    out
}

/// Characters that a normalisation pass can emit and that a second pass leaves
/// unchanged: ASCII (lowercase letters, digits, space) and the Arabic block
/// (already NFKD-decomposed and folded, no case).
fn is_known_stable(c: char) -> bool {
    c.is_ascii() || ('\u{0600}'..='\u{06FF}').contains(&c)
}

fn normalize_pass(s: &str) -> String {
    normalize_common(s).unwrap_or_else(|| normalize_pass_full(s))
}

/// The same pass for text made only of ASCII and the basic Arabic letters, marks and digits —
/// nearly every name a desk types — without NFKD or Unicode tables: the store, search and HQ
/// duplicate detection normalise every name, and at 1M people the general path was the
/// largest cost. `None` for anything else (the general path then decides).
/// For these characters NFKD followed by dropping marks equals [`fold_letter`] (أ is ا plus a
/// hamza mark, ؤ is و plus one, ئ is ي plus one), which the tests check against the general path.
fn normalize_common(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        let kept = match c {
            'a'..='z' | '0'..='9' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            // harakat, hamza and madda marks, superscript alef, tatweel: dropped inside words
            '\u{064B}'..='\u{065F}' | '\u{0670}' | TATWEEL => continue,
            '\u{0621}'..='\u{063A}' | '\u{0641}'..='\u{064A}' => fold_letter(c),
            '\u{0660}'..='\u{0669}' | '\u{06F0}'..='\u{06F9}' => fold_digit(c),
            // ASCII punctuation and the Arabic comma, semicolon and question mark separate words
            '\u{060C}' | '\u{061B}' | '\u{061F}' => {
                space = true;
                continue;
            }
            c if c.is_ascii() => {
                space = true;
                continue;
            }
            _ => return None,
        };
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(kept);
    }
    Some(out)
}

fn normalize_pass_full(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.nfkd() {
        // Lowercasing can emit several chars (İ → i + U+0307); each goes
        // through the same filter so a combining mark never survives.
        for c in c.to_lowercase() {
            if is_combining_mark(c)
                || canonical_combining_class(c) != 0
                || c == TATWEEL
                || is_invisible_format(c)
            {
                continue;
            }
            let c = fold_digit(fold_letter(c));
            if c.is_alphanumeric() {
                out.push(c);
            } else {
                out.push(' ');
            }
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Prefixes that are written with or without a space but belong to the next
/// word: "عبد الله" and "عبدالله" are the same name, as are "آل سعود"/"السعود"
/// and "أبو بكر"/"أبوبكر". Spelled here in normalised form.
const JOINING_PREFIXES: [&str; 3] = ["عبد", "ابو", "ال"];

/// Linking particles ("son of", "daughter of") that some people write between
/// name parts and others leave out.
const LINKING_PARTICLES: [&str; 3] = ["بن", "بنت", "ابن"];

/// Tokens of a person's name for search and duplicate matching.
///
/// Normalises, splits on whitespace, then joins "عبد", "ابو" and a standalone
/// "ال" (which is also how "آل" normalises) to the following token (chains
/// such as "ابو عبد الله" become one token), and drops the linking particles
/// "بن", "بنت", "ابن" when they stand between name parts. A particle at the
/// start or end, or a name that is only a particle, is kept: there it may be
/// the name itself.
///
/// Stable under re-joining: `name_tokens(&name_tokens(x).join(" ")) == name_tokens(x)`.
pub fn name_tokens(s: &str) -> Vec<String> {
    let normalized = normalize(s);
    let raw: Vec<&str> = normalized.split_whitespace().collect();

    let mut joined: Vec<String> = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let mut token = raw[i].to_string();
        let mut last_piece = raw[i];
        i += 1;
        // Keep joining while the last piece is itself a prefix, so that
        // "عبد ال رحمن" and "عبدالرحمن" agree.
        while JOINING_PREFIXES.contains(&last_piece) && i < raw.len() {
            token.push_str(raw[i]);
            last_piece = raw[i];
            i += 1;
        }
        joined.push(token);
    }

    let is_particle = |t: &str| LINKING_PARTICLES.contains(&t);
    let first_part = joined.iter().position(|t| !is_particle(t));
    let last_part = joined.iter().rposition(|t| !is_particle(t));
    match (first_part, last_part) {
        (Some(first), Some(last)) => joined
            .into_iter()
            .enumerate()
            .filter(|(idx, t)| !(is_particle(t) && *idx > first && *idx < last))
            .map(|(_, t)| t)
            .collect(),
        // Only particles (or nothing): there is no "between" to drop from.
        _ => joined,
    }
}

/// The canonical search key of a person's name: `name_tokens(s).join(" ")`.
pub fn name_key(s: &str) -> String {
    name_tokens(s).join(" ")
}

/// How well a name key ([`name_key`]) answers a search typed as `query` tokens ([`name_tokens`]):
/// whole-token matches beat prefixes, the query's order and a first-name match count, and a
/// shorter name that matches is closer. The one ranking of name search, at a branch and at HQ.
pub fn search_score(query: &[String], key: &str) -> f64 {
    let tokens: Vec<&str> = key.split(' ').collect();
    let mut s = 0.0;
    let mut last_pos: Option<usize> = None;
    for (qi, q) in query.iter().enumerate() {
        let exact = tokens.iter().position(|t| t == q);
        let pos = exact.or_else(|| tokens.iter().position(|t| t.starts_with(q.as_str())));
        match (exact, pos) {
            (Some(p), _) => {
                s += 3.0;
                if qi == 0 && p == 0 {
                    s += 1.0;
                }
            }
            (None, Some(_)) => s += 1.5,
            (None, None) => {}
        }
        if let (Some(p), Some(l)) = (pos, last_pos)
            && p > l
        {
            s += 0.5;
        }
        if pos.is_some() {
            last_pos = pos;
        }
    }
    s - tokens.len() as f64 * 0.05
}

// Weights of the name parts in [`name_similarity`]. First and family names
// identify a person far more than the chain of ancestors in between, which
// people shorten freely (three-part vs four-part names).
const W_FIRST: f64 = 0.4;
const W_FAMILY: f64 = 0.3;
const W_MIDDLE: f64 = 0.3;

/// Credit given to a name part that one record has and the other lacks. It is
/// not a contradiction (people drop the grandfather's name all the time), but
/// it is not evidence of a match either.
const MISSING_PART_CREDIT: f64 = 0.45;

/// Similarity in `0.0..=1.0` of two person names, for duplicate detection at
/// HQ.
///
/// Compares [`name_tokens`] in order: first name with first name, family name
/// (last token) with family name, and the middle parts (father, grandfather …)
/// by an order-preserving alignment that tolerates a missing part. Per-token
/// similarity is a normalised edit distance (with adjacent transpositions) on
/// the normalised tokens; the "عبد"/"ابو" prefix and the "ال" article are
/// compared separately so that عبدالله/عبدالرحمن or السالم/العتيبي do not look
/// alike just because they share a prefix.
///
/// Identical names (after normalisation) score 1.0; the function is symmetric.
/// A name with no tokens scores 0.0 against anything: an empty name is no
/// evidence of a duplicate.
pub fn name_similarity(a: &str, b: &str) -> f64 {
    name_similarity_of_tokens(&name_tokens(a), &name_tokens(b))
}

/// [`name_similarity`] on names already split by [`name_tokens`]: duplicate detection compares
/// each person with many others and tokenises each name once.
pub fn name_similarity_of_tokens(ta: &[String], tb: &[String]) -> f64 {
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    if ta == tb {
        return 1.0;
    }
    // Fixed argument order makes the result bit-for-bit symmetric (floating
    // point sums are order-sensitive).
    let (x, y) = if ta <= tb { (ta, tb) } else { (tb, ta) };
    score_names(x, y).clamp(0.0, 1.0)
}

fn score_names(x: &[String], y: &[String]) -> f64 {
    let mut num = W_FIRST * token_similarity(&x[0], &y[0]);
    let mut den = W_FIRST;
    match (x.len(), y.len()) {
        (1, 1) => {}
        (1, _) | (_, 1) => {
            // One side is a bare first name: family and middle are unknown.
            num += (W_FAMILY + W_MIDDLE) * MISSING_PART_CREDIT;
            den += W_FAMILY + W_MIDDLE;
        }
        (nx, ny) => {
            num += W_FAMILY * token_similarity(&x[nx - 1], &y[ny - 1]);
            den += W_FAMILY;
            let mx = &x[1..nx - 1];
            let my = &y[1..ny - 1];
            if !(mx.is_empty() && my.is_empty()) {
                num += W_MIDDLE * middle_similarity(mx, my);
                den += W_MIDDLE;
            }
        }
    }
    num / den
}

/// Best order-preserving alignment of the shorter list of middle parts into
/// the longer one; parts of the longer list left over get
/// [`MISSING_PART_CREDIT`] each.
fn middle_similarity(a: &[String], b: &[String]) -> f64 {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let (ns, nl) = (short.len(), long.len());
    // best[i][j]: best sum matching all of short[..i] into long[..j].
    let mut best = vec![vec![f64::NEG_INFINITY; nl + 1]; ns + 1];
    best[0].fill(0.0);
    for i in 1..=ns {
        for j in i..=nl {
            let skip = best[i][j - 1];
            let take = best[i - 1][j - 1] + token_similarity(&short[i - 1], &long[j - 1]);
            best[i][j] = skip.max(take);
        }
    }
    (best[ns][nl] + MISSING_PART_CREDIT * (nl - ns) as f64) / nl as f64
}

/// Similarity of two normalised name tokens.
fn token_similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let (pa, ra) = split_compound_prefix(a);
    let (pb, rb) = split_compound_prefix(b);
    let rest = article_tolerant_similarity(ra, rb);
    // عبدالعزيز and عزيز are different names; a differing compound prefix
    // halves whatever the rest of the token shares.
    if pa == pb { rest } else { rest * 0.5 }
}

/// Splits "عبد…" / "ابو…" off a joined token, when enough remains to be a
/// name (so that "عبده" stays whole).
fn split_compound_prefix(t: &str) -> (&str, &str) {
    for prefix in ["عبد", "ابو"] {
        if let Some(rest) = t.strip_prefix(prefix)
            && rest.chars().count() >= 2
        {
            return (prefix, rest);
        }
    }
    ("", t)
}

/// Compares with the article "ال" set aside: two family names that both carry
/// it must not look alike because of it (السالم/العتيبي), and one that has it
/// vs one that lacks it is a spelling variant, not a different name
/// (السالم/سالم), so it costs only a little.
fn article_tolerant_similarity(a: &str, b: &str) -> f64 {
    let (ha, ca) = strip_article(a);
    let (hb, cb) = strip_article(b);
    let sim = edit_similarity(ca, cb);
    if ha == hb { sim } else { sim * 0.95 }
}

fn strip_article(t: &str) -> (bool, &str) {
    match t.strip_prefix("ال") {
        Some(rest) if rest.chars().count() >= 2 => (true, rest),
        _ => (false, t),
    }
}

/// `1 - distance / longer length`, with the optimal-string-alignment distance
/// (Levenshtein plus adjacent transposition). Chosen over Jaro-Winkler because
/// Arabic names are short and Jaro-Winkler rates pairs such as محمد/خالد far
/// too close.
fn edit_similarity(a: &str, b: &str) -> f64 {
    // Names are short: compare on the stack (this runs tens of millions of times at HQ).
    const MAX: usize = 40;
    let (mut ca, mut cb) = (['\0'; MAX], ['\0'; MAX]);
    let (mut na, mut nb) = (0, 0);
    for c in a.chars() {
        if na == MAX {
            return edit_similarity_long(a, b);
        }
        ca[na] = c;
        na += 1;
    }
    for c in b.chars() {
        if nb == MAX {
            return edit_similarity_long(a, b);
        }
        cb[nb] = c;
        nb += 1;
    }
    let longer = na.max(nb);
    if longer == 0 {
        return 1.0;
    }
    1.0 - osa_distance(&ca[..na], &cb[..nb]) as f64 / longer as f64
}

fn edit_similarity_long(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    1.0 - osa_distance(&a, &b) as f64 / a.len().max(b.len()) as f64
}

/// Optimal-string-alignment distance with three rolling rows.
fn osa_distance(a: &[char], b: &[char]) -> usize {
    let m = b.len();
    let mut two_back: Vec<usize> = vec![0; m + 1];
    let mut prev: Vec<usize> = (0..=m).collect();
    let mut cur: Vec<usize> = vec![0; m + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(two_back[j - 2] + 1);
            }
            cur[j] = v;
        }
        std::mem::swap(&mut two_back, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[m]
}

/// True when `s` contains at least one Arabic letter (any of the Arabic
/// Unicode blocks, letters only: Arabic-Indic digits and Arabic punctuation
/// alone do not count). Used to decide text direction and which name field a
/// value belongs in.
pub fn contains_arabic(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(
            c,
            '\u{0600}'..='\u{06FF}'
                | '\u{0750}'..='\u{077F}'
                | '\u{08A0}'..='\u{08FF}'
                | '\u{FB50}'..='\u{FDFF}'
                | '\u{FE70}'..='\u{FEFF}'
        ) && c.is_alphabetic()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_score_puts_a_whole_token_before_a_prefix() {
        let q = vec!["محمد".to_owned()];
        assert!(super::search_score(&q, "محمد سعد") > super::search_score(&q, "محمدين سعد"));
    }
    #[test]
    fn the_common_path_agrees_with_the_general_one() {
        // Every character the common path accepts, alone and in words.
        let mut alphabet: Vec<char> = ('\u{0621}'..='\u{063A}')
            .chain('\u{0640}'..='\u{065F}')
            .chain(['\u{0670}'])
            .chain('\u{0660}'..='\u{0669}')
            .chain('\u{06F0}'..='\u{06F9}')
            .chain(['\u{060C}', '\u{061B}', '\u{061F}'])
            .collect();
        alphabet.extend((0x20u8..0x7f).map(char::from));
        for c in &alphabet {
            let s = format!("{c}ب{c} {c}");
            assert_eq!(
                super::normalize_common(&s).as_deref(),
                Some(super::normalize_pass_full(&s).as_str()),
                "{:04X}",
                *c as u32
            );
        }
        for s in [
            "  أحمدُ  عبد الله-بن سعد، آل دوسري ",
            "مُنِيرة ناصر فهد آل سعود",
            "فاطـــمة الزهرانى ١٢٣ ۴۵",
            "Mohammed AL-Otaibi (2)",
            "ؤئءة ى ي",
        ] {
            assert_eq!(
                super::normalize_common(s).as_deref(),
                Some(super::normalize_pass_full(s).as_str())
            );
        }
        assert_eq!(super::normalize_common("ی"), None);
    }

    use super::*;
    use proptest::prelude::*;

    fn check<I: std::fmt::Debug + ?Sized, O: PartialEq + std::fmt::Debug>(
        f: impl Fn(&I) -> O,
        cases: &[(&I, O)],
    ) {
        for (input, expected) in cases {
            assert_eq!(&f(input), expected, "input: {input:?}");
        }
    }

    #[test]
    fn fold_digits_cases() {
        check(
            |s: &str| fold_digits(s),
            &[
                ("٠١٢٣٤٥٦٧٨٩", "0123456789".to_string()),
                ("۰۱۲۳۴۵۶۷۸۹", "0123456789".to_string()),
                ("رقم ١٢3", "رقم 123".to_string()),
                ("abc", "abc".to_string()),
                ("", String::new()),
            ],
        );
    }

    #[test]
    fn normalize_cases() {
        check(
            |s: &str| normalize(s),
            &[
                ("أحمد", "احمد".to_string()),
                ("إبراهيم", "ابراهيم".to_string()),
                ("آمنة", "امنه".to_string()),
                ("ٱلله", "الله".to_string()),
                ("فاطمة", "فاطمه".to_string()),
                ("مصطفى", "مصطفي".to_string()),
                ("مؤمن", "مومن".to_string()),
                ("هانئ", "هاني".to_string()),
                ("عائشة", "عايشه".to_string()),
                ("سماء", "سماء".to_string()),
                ("مُحَمَّد", "محمد".to_string()),
                ("رَحْمٰن", "رحمن".to_string()),
                ("محـــمد", "محمد".to_string()),
                ("١٢٣ ۴۵۶", "123 456".to_string()),
                ("Mohammed AL-Salem", "mohammed al salem".to_string()),
                ("a.b_c-d", "a b c d".to_string()),
                ("الرياض، جدة؛ مكة", "الرياض جده مكه".to_string()),
                ("  كثير   من\tالمسافات \n", "كثير من المسافات".to_string()),
                ("ﻣﺤﻤﺪ", "محمد".to_string()),
                ("\u{200F}محمد\u{200C}علي", "محمدعلي".to_string()),
                ("ALİ", "ali".to_string()),
                ("؟!@#", String::new()),
                ("", String::new()),
            ],
        );
    }

    #[test]
    fn name_tokens_cases() {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        check(
            |s: &str| name_tokens(s),
            &[
                ("عبد الله", v(&["عبدالله"])),
                ("عبدالله", v(&["عبدالله"])),
                ("عبد الرحمن", v(&["عبدالرحمن"])),
                ("عبد ال رحمن", v(&["عبدالرحمن"])),
                ("أبو بكر", v(&["ابوبكر"])),
                ("ابو بكر", v(&["ابوبكر"])),
                ("آل سعود", v(&["السعود"])),
                ("ال سعود", v(&["السعود"])),
                ("السعود", v(&["السعود"])),
                (
                    "محمد بن عبد الله آل سعود",
                    v(&["محمد", "عبدالله", "السعود"]),
                ),
                ("نورة بنت سعد بن فهد", v(&["نوره", "سعد", "فهد"])),
                ("علي ابن أحمد", v(&["علي", "احمد"])),
                ("بن", v(&["بن"])),
                ("بن لادن", v(&["بن", "لادن"])),
                ("محمد بن", v(&["محمد", "بن"])),
                ("محمد عبد", v(&["محمد", "عبد"])),
                ("أبو عبد الله", v(&["ابوعبدالله"])),
                ("", v(&[])),
            ],
        );
    }

    #[test]
    fn name_key_cases() {
        check(
            |s: &str| name_key(s),
            &[
                ("محمد بن عبد الله", "محمد عبدالله".to_string()),
                ("فاطمة أحمد آل سعود", "فاطمه احمد السعود".to_string()),
                ("", String::new()),
            ],
        );
    }

    #[test]
    fn name_similarity_cases() {
        // (a, b, lowest acceptable, highest acceptable)
        let cases: &[(&str, &str, f64, f64)] = &[
            ("محمد عبدالله السالم", "محمد عبدالله السالم", 1.0, 1.0),
            ("أحمد عبد الله الغامدي", "احمد عبدالله الغامدى", 1.0, 1.0),
            ("فاطمة علي", "فاطمه علي", 1.0, 1.0),
            // Missing grandfather: same person.
            ("محمد عبدالله سالم السالم", "محمد عبدالله السالم", 0.85, 1.0),
            ("نورة سعد فهد العتيبي", "نوره بنت سعد العتيبي", 0.85, 1.0),
            // Spelling variant in one token.
            ("ابراهيم خالد الدوسري", "ابرهيم خالد الدوسري", 0.9, 1.0),
            ("ابراهيم خالد سعد الدوسري", "ابرهيم خالد الدوسري", 0.85, 1.0),
            // Family name with and without the article.
            ("محمد عبدالله السالم", "محمد عبدالله سالم", 0.9, 1.0),
            // Clearly different people.
            ("محمد عبدالله السالم", "خالد فهد العتيبي", 0.0, 0.5),
            ("عبدالله محمد القحطاني", "عبدالرحمن سعد الشمري", 0.0, 0.5),
            ("سارة", "منيرة", 0.0, 0.5),
            // Same family, different first name: well below a duplicate.
            ("محمد عبدالله السالم", "خالد عبدالله السالم", 0.0, 0.8),
            ("", "محمد", 0.0, 0.0),
            ("", "", 0.0, 0.0),
        ];
        for (a, b, lo, hi) in cases {
            let s = name_similarity(a, b);
            assert!(
                (*lo..=*hi).contains(&s),
                "{a} / {b}: {s} not in {lo}..={hi}"
            );
            assert_eq!(s, name_similarity(b, a), "not symmetric: {a} / {b}");
        }
    }

    #[test]
    fn contains_arabic_cases() {
        check(
            |s: &str| contains_arabic(s),
            &[
                ("محمد", true),
                ("Mohammed محمد", true),
                ("ﻣﺤﻤﺪ", true),
                ("Mohammed", false),
                ("١٢٣", false),
                ("،؛", false),
                ("", false),
            ],
        );
    }

    #[test]
    fn edit_distance_cases() {
        let cases = [
            ("", "", 0),
            ("abc", "abc", 0),
            ("abc", "acb", 1),
            ("kitten", "sitting", 3),
            ("احمد", "محمد", 1),
        ];
        for (a, b, d) in cases {
            let a: Vec<char> = a.chars().collect();
            let b: Vec<char> = b.chars().collect();
            assert_eq!(osa_distance(&a, &b), d);
        }
    }

    /// Arbitrary text weighted towards the ranges that matter: Arabic letters,
    /// marks and presentation forms, digits, punctuation, and any char at all.
    fn text() -> impl Strategy<Value = String> {
        let ch = prop_oneof![
            proptest::char::range('\u{0600}', '\u{06FF}'),
            proptest::char::range('\u{0750}', '\u{077F}'),
            proptest::char::range('\u{08A0}', '\u{08FF}'),
            proptest::char::range('\u{FB50}', '\u{FDFF}'),
            proptest::char::range('\u{FE70}', '\u{FEFF}'),
            proptest::char::range(' ', '~'),
            Just(' '),
            any::<char>(),
        ];
        proptest::collection::vec(ch, 0..40).prop_map(|v| v.into_iter().collect())
    }

    /// Names built from real name parts, prefixes and particles, in any
    /// order and spelling, so the joining and dropping rules get exercised.
    fn name_like() -> impl Strategy<Value = String> {
        let part = prop_oneof![
            Just("عبد"),
            Just("عبـد"),
            Just("أبو"),
            Just("ابو"),
            Just("آل"),
            Just("ال"),
            Just("بن"),
            Just("بنت"),
            Just("ابن"),
            Just("إبن"),
            Just("الله"),
            Just("محمد"),
            Just("فاطمة"),
            Just("سعود"),
            Just("الرحمن"),
            Just("-"),
            Just("،"),
        ];
        proptest::collection::vec(part, 0..8).prop_map(|v| v.join(" "))
    }

    proptest! {
        #[test]
        fn normalize_is_idempotent(s in text()) {
            let once = normalize(&s);
            prop_assert_eq!(normalize(&once), once);
        }

        #[test]
        fn name_tokens_stable_under_rejoin(s in prop_oneof![text(), name_like()]) {
            let tokens = name_tokens(&s);
            prop_assert_eq!(name_tokens(&tokens.join(" ")), tokens);
        }

        #[test]
        fn name_similarity_symmetric_and_bounded(a in name_like(), b in name_like()) {
            let ab = name_similarity(&a, &b);
            prop_assert!((0.0..=1.0).contains(&ab));
            prop_assert_eq!(ab, name_similarity(&b, &a));
        }

        #[test]
        fn name_similarity_of_self_is_one(a in name_like()) {
            let expected = if name_tokens(&a).is_empty() { 0.0 } else { 1.0 };
            prop_assert_eq!(name_similarity(&a, &a), expected);
        }
    }
}
