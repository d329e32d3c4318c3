//! The shared kernel every room uses: database, web shell, errors, authentication,
//! the generic object machinery (resources), the audit log and activity posts.

pub mod audit;
pub mod auth;
pub mod db;
pub mod error;
pub mod jobs;
pub mod nightly;
pub mod resource;
pub mod secrets;
pub mod web;
