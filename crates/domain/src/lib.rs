//! Accord's pure business rules.
//!
//! Nothing in this crate does I/O: it holds the domain types (parsed once at the edge,
//! "parse, don't validate"), their validation messages and the arithmetic on money and
//! time. The server crate turns HTTP input into these types and stores them.

pub mod audit;
pub mod contacts;
pub mod customers;
pub mod employees;
pub mod input;
pub mod legal_entities;
pub mod money;
pub mod nightly;
pub mod notify;
pub mod products;
pub mod settings;
pub mod sla;
pub mod text;
pub mod tickets;
pub mod two_factor;
pub mod validation;
pub mod workflow;

pub use validation::{FieldError, FieldErrors};
