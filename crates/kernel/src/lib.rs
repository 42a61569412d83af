//! Pure rules of Balaikota: no I/O, no async. Everything here is deterministic and unit-tested,
//! so apps and the platform can lean on it without a database or a clock of their own.

pub mod audit;
pub mod calendar;
pub mod contact;
pub mod csv;
pub mod format;
pub mod geo;
pub mod ids;
pub mod lang;
pub mod message;
pub mod nik;
pub mod pdf;
pub mod region;
pub mod roles;
pub mod sla;
#[cfg(test)]
mod testutil;
pub mod validation;

pub use lang::Lang;
pub use validation::{FieldError, FieldErrors};
