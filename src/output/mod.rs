//! What a run shows: the printed summary and JSON report, and the figures.

pub mod plots;
pub mod report;
