//! The I/O every Balaikota app shares: the database (SQLite or PostgreSQL), cities, agencies,
//! accounts and sessions, the audit log, files, live events, translations and the web chrome.

pub mod accounts;
pub mod agencies;
pub mod app;
pub mod audit;
pub mod calendar;
pub mod city;
pub mod clock;
pub mod db;
pub mod deadlines;
pub mod entity;
pub mod error;
pub mod events;
pub mod files;
pub mod i18n;
pub mod memo;
pub mod notify;
pub mod places;
pub mod schema;
pub mod seed;
pub mod sessions;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod web;

pub use error::{AppError, AppResult};

/// Installs the process-wide TLS crypto provider (ring) used by outgoing HTTPS (SMS gateway,
/// webhooks). Call before building an HTTP client; calling again does nothing.
pub fn install_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
