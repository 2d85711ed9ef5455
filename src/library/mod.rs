//! Candidate-term libraries (what the regression may choose from) and the row maps that turn
//! an increment and its library columns into stacked regression rows.

pub mod rows;
pub mod terms_1d;
pub mod terms_2d;
