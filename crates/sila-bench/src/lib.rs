//! What the benchmarks and their tests share: synthetic, labelled data.

pub mod labelled;
