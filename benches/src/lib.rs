//! Criterion benchmarks of the identity stores live in `benches/`.

pub mod corpus;
