//! Duplicate detection measured on a labelled synthetic population (src/labelled.rs): spelling
//! variants, three- and four-part names, missing IDs, new mobiles, namesakes and brothers.
//! The figures are printed (`cargo test -p sila-bench --test duplicates -- --nocapture`) and
//! held to a floor, so a change to the scoring that loses people or invents pairs fails here.

use sila_bench::labelled;
use sila_domain::duplicates::{self, THRESHOLD};

#[test]
fn precision_and_recall_on_a_labelled_population() {
    let l = labelled::generate(20_000, 7);
    let found = duplicates::candidates(&l.people, THRESHOLD, 2);
    let proposed: Vec<(usize, usize)> = found.iter().map(|c| (c.a, c.b)).collect();
    let (precision, recall, tp, fp) = labelled::precision_recall(&l, &proposed);
    let findable = l.same.len() - l.unfindable;
    let certain_wrong = found
        .iter()
        .filter(|c| c.certain && !l.same.contains(&(c.a, c.b)))
        .count();
    println!(
        "people {} | true pairs {} (unfindable by blocking {}) | proposed {} | TP {tp} FP {fp} | \
         precision {precision:.3} | recall {recall:.3} | recall of findable {:.3} | certain but wrong {certain_wrong}",
        l.people.len(),
        l.same.len(),
        l.unfindable,
        proposed.len(),
        tp as f64 / findable.max(1) as f64,
    );
    // Namesakes with different IDs are never certain.
    assert_eq!(certain_wrong, 0);
    assert!(precision >= 0.95, "precision {precision:.3}");
    assert!(
        tp as f64 / findable as f64 >= 0.95,
        "recall of findable pairs {:.3}",
        tp as f64 / findable as f64
    );
    assert!(recall >= 0.90, "recall {recall:.3}");
}
