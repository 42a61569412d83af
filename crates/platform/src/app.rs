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
    /// Periodic work (run by every instance every few seconds; must be idempotent). The
    /// notifier's clock is the time.
    fn tick<'a>(
        &'a self,
        _db: &'a crate::db::Db,
        _cities: &'a crate::city::CityCache,
        _notifier: &'a crate::notify::Notifier,
    ) -> futures::future::BoxFuture<'a, crate::AppResult<()>> {
        Box::pin(async { Ok(()) })
    }
    /// Sample data for the demo city.
    fn seed_demo<'a>(
        &'a self,
        _db: &'a crate::db::Db,
        _city: &'a crate::city::City,
    ) -> futures::future::BoxFuture<'a, crate::AppResult<()>> {
        Box::pin(async { Ok(()) })
    }
    /// Links for the staff workspace and the citizen's home page: (path, i18n key).
    fn staff_links(&self) -> Vec<(&'static str, &'static str)> {
        vec![]
    }
    fn citizen_links(&self) -> Vec<(&'static str, &'static str)> {
        vec![]
    }
    /// The app's settings pages, shown to admins in the staff workspace.
    fn admin_links(&self) -> Vec<(&'static str, &'static str)> {
        vec![]
    }
    /// What waits for this staff member, counted, each figure a link to the list it counts:
    /// the first thing the staff workspace shows.
    fn staff_figures<'a>(
        &'a self,
        _st: &'a AppState,
        _ctx: &'a crate::web::context::Ctx,
        _user: &'a crate::accounts::Account,
    ) -> futures::future::BoxFuture<'a, crate::AppResult<Vec<Figure>>> {
        Box::pin(async { Ok(vec![]) })
    }
}

/// A number on the staff workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figure {
    /// What it counts, in the reader's language.
    pub label: String,
    pub value: u64,
    /// The list it counts.
    pub href: String,
    /// `info`, `warn` or `bad` (a colour beside the label, never instead of it).
    pub tone: &'static str,
}

/// Every migration: the platform's, then each app's in order.
pub fn all_migrations(apps: &[std::sync::Arc<dyn CityApp>]) -> Vec<Migration> {
    let mut v = crate::schema::migrations();
    for a in apps {
        v.extend(a.migrations());
    }
    v
}
