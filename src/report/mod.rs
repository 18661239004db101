//! Reporters: each turns the run's results into one output. The terminal
//! reporter also follows progress events; the file reporters read the
//! finished [`RunReport`].
//!
//! [`RunReport`]: crate::engine::results::RunReport

pub mod expected;
pub mod json;
pub mod junit;
pub mod terminal;
