//! The contract every app (room) fulfils to join the binary: its routes, its migrations and its
//! part of the OpenAPI document. The command center will read apps through `WallSource`, added
//! with it.

use axum::Router;

use crate::db::migrate::Migration;
use crate::web::AppState;

pub trait CityApp: Send + Sync {
    /// Short name, also the prefix of its migration ids (`masyarakat`).
    fn name(&self) -> &'static str;
    fn routes(&self) -> Router<AppState>;
    fn migrations(&self) -> Vec<Migration>;
    fn openapi(&self) -> utoipa::openapi::OpenApi;
}

/// Every migration: the platform's, then each app's in order.
pub fn all_migrations(apps: &[std::sync::Arc<dyn CityApp>]) -> Vec<Migration> {
    let mut v = crate::schema::migrations();
    for a in apps {
        v.extend(a.migrations());
    }
    v
}
