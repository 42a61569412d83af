//! The I/O every Balaikota app shares: the database (SQLite or PostgreSQL), cities, agencies,
//! accounts and sessions, the audit log, files, live events, translations and the web chrome.

pub mod accounts;
pub mod agencies;
pub mod app;
pub mod audit;
pub mod city;
pub mod db;
pub mod entity;
pub mod error;
pub mod events;
pub mod files;
pub mod i18n;
pub mod schema;
pub mod seed;
pub mod sessions;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod web;

pub use error::{AppError, AppResult};
