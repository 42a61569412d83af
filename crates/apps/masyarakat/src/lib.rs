//! e-Masyarakat: citizens report complaints (photo, place, category); the city's verifier sends
//! them to the agency in charge; the agency follows up under working-day deadlines; the reporter
//! confirms or disputes; leaders read a monthly evaluation. Built as a room of the standard
//! shape (DESIGN.md): `domain` (pure rules), `entity`, `store`, `web`, `api`.

pub mod api;
pub mod domain;
pub mod entity;
pub mod evaluation;
pub mod open311;
pub mod seed;
pub mod store;
pub mod web;

use axum::Router;
use axum::routing::{get, post};
use platform::app::CityApp;
use platform::db::migrate::{Migration, Step, index, table};
use platform::web::AppState;

/// The room, as the binary mounts it.
pub struct Masyarakat;

impl Masyarakat {
    pub fn new() -> Masyarakat {
        store::register_messages();
        Masyarakat
    }
}

impl Default for Masyarakat {
    fn default() -> Self {
        Masyarakat::new()
    }
}

impl CityApp for Masyarakat {
    fn name(&self) -> &'static str {
        "masyarakat"
    }

    fn routes(&self) -> Router<AppState> {
        Router::new()
            .route("/lapor", get(web::new_report).post(web::submit_report))
            .route("/pengaduan/saya", get(web::mine))
            .route("/pengaduan/peta", get(web::public_map))
            .route("/pengaduan/statistik", get(web::public_statistics))
            .route("/pengaduan/{code}", get(web::track))
            .route("/pengaduan/{code}/foto/{file}", get(web::report_photo))
            .route("/pengaduan/{code}/aksi", post(web::citizen_action))
            .route("/pengaduan/{code}/dukung", post(web::support))
            .route("/staf/pengaduan", get(web::inbox))
            .route("/staf/pengaduan.csv", get(web::inbox_csv))
            .route("/staf/pengaduan/massal", post(web::bulk_dispose))
            .route("/staf/pengaduan/{code}", get(web::staff_report))
            .route("/staf/pengaduan/{code}/aksi", post(web::staff_action))
            .route("/admin/pengaduan", get(web::admin::page))
            .route(
                "/admin/pengaduan/kategori",
                post(web::admin::category_create),
            )
            .route(
                "/admin/pengaduan/kategori/{code}",
                get(web::admin::category_edit).post(web::admin::category_save),
            )
            .route("/admin/pengaduan/wilayah", post(web::admin::save_box))
            .route("/admin/pengaduan/balasan", post(web::admin::reply_add))
            .route(
                "/admin/pengaduan/balasan/{id}/hapus",
                post(web::admin::reply_delete),
            )
            .route(
                "/admin/open311",
                get(web::open311_keys).post(web::open311_issue),
            )
            .route(
                "/open311/v2/{doc}",
                get(open311::get_doc).post(open311::post_request),
            )
            .route("/api/v1/pengaduan", post(api::submit))
            .route("/api/v1/pengaduan/kategori", get(api::categories))
            .route("/api/v1/pengaduan/saya", get(api::mine))
            .route("/api/v1/pengaduan/sekitar", get(api::nearby))
            .route("/api/v1/pengaduan/{code}", get(api::one))
            .route("/api/v1/pengaduan/{code}/dukung", post(api::support))
            .route("/api/v1/pengaduan/{code}/aksi", post(api::act))
            .route("/evaluasi", get(web::evaluation))
            .route("/evaluasi.csv", get(web::evaluation_csv))
            .route("/evaluasi.pdf", get(web::evaluation_pdf))
            .route("/open311/v2/services/{file}", get(open311::get_service))
            .route("/open311/v2/requests/{file}", get(open311::get_request))
            .route("/open311/v2/tokens/{file}", get(open311::get_token))
    }

    fn migrations(&self) -> Vec<Migration> {
        migrations()
    }

    fn openapi(&self) -> utoipa::openapi::OpenApi {
        <api::MasyarakatApi as utoipa::OpenApi>::openapi()
    }

    fn tick<'a>(
        &'a self,
        db: &'a platform::db::Db,
        cities: &'a platform::city::CityCache,
        notifier: &'a platform::notify::Notifier,
    ) -> futures::future::BoxFuture<'a, platform::AppResult<()>> {
        Box::pin(async move {
            store::remind_to_confirm(db, cities, notifier).await?;
            store::confirm_by_silence(db, notifier.now()).await?;
            Ok(())
        })
    }

    fn seed_demo<'a>(
        &'a self,
        db: &'a platform::db::Db,
        city: &'a platform::city::City,
    ) -> futures::future::BoxFuture<'a, platform::AppResult<()>> {
        Box::pin(async move {
            seed::demo(db, city).await?;
            seed::sample_reports(db, city).await
        })
    }

    fn staff_figures<'a>(
        &'a self,
        st: &'a platform::web::AppState,
        ctx: &'a platform::web::context::Ctx,
        user: &'a platform::accounts::Account,
    ) -> futures::future::BoxFuture<'a, platform::AppResult<Vec<platform::app::Figure>>> {
        Box::pin(web::staff_figures(st, ctx, user))
    }

    fn staff_links(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("/staf/pengaduan", "mas-inbox-title"),
            ("/evaluasi", "mas-eval-title"),
        ]
    }

    fn admin_links(&self) -> Vec<(&'static str, &'static str)> {
        vec![("/admin/pengaduan", "mas-admin-title")]
    }

    fn citizen_links(&self) -> Vec<(&'static str, &'static str)> {
        vec![
            ("/lapor", "mas-report-title"),
            ("/pengaduan/saya", "mas-mine-title"),
            ("/pengaduan/peta", "mas-map-title"),
            ("/pengaduan/statistik", "mas-stats-title"),
        ]
    }
}

/// The room's migrations (ids prefixed `masyarakat.`).
pub fn migrations() -> Vec<Migration> {
    vec![
        Migration {
            id: "masyarakat.0001_reports",
            steps: reports,
        },
        Migration {
            id: "masyarakat.0002_replies",
            steps: |s| table(s, entity::reply::Entity),
        },
        Migration {
            id: "masyarakat.0003_kelurahan_source",
            steps: |_| {
                vec![Step::AddColumn {
                    table: "mas_reports",
                    column: "kelurahan_source",
                    definition: "VARCHAR(20) NOT NULL DEFAULT ''",
                }]
            },
        },
        Migration {
            // Open311's service_code filter reads the newest of one category in index order.
            id: "masyarakat.0004_category_created",
            steps: |_| {
                vec![index(
                    "mas_reports_category_created",
                    "mas_reports",
                    &["city_code", "category_id", "created_us"],
                    false,
                )]
            },
        },
        Migration {
            // Reports near a place (the kelurahan of a GPS point, "Saya juga") are found by grid
            // cell, not by reading every report of the city. The backfill floors portably:
            // SQLite's CAST truncates, PostgreSQL's rounds.
            id: "masyarakat.0005_report_cell",
            steps: |_| {
                let floor = |x: &str| {
                    format!(
                        "(CAST({x} AS BIGINT) - CASE WHEN CAST({x} AS BIGINT) > {x} THEN 1 ELSE 0 END)"
                    )
                };
                vec![
                    Step::AddColumn {
                        table: "mas_reports",
                        column: "cell",
                        definition: "BIGINT",
                    },
                    Step::Sql(format!(
                        "UPDATE mas_reports SET cell = {} * 100000 + {} WHERE lat IS NOT NULL AND lon IS NOT NULL",
                        floor("((lat + 90.0) * 200.0)"),
                        floor("((lon + 180.0) * 200.0)"),
                    )),
                    // With the kelurahan's source and the place: a GPS point's kelurahan is
                    // looked up among the reports a person labelled, however many others share
                    // the cell, and a close look reads only a band of the cell.
                    index(
                        "mas_reports_cell",
                        "mas_reports",
                        &["city_code", "cell", "kelurahan_source", "lat", "lon"],
                        false,
                    ),
                ]
            },
        },
        Migration {
            // The reporter is reminded before silence confirms a closure. Found through the
            // few reports awaiting an answer (their index), so no index of its own.
            id: "masyarakat.0006_confirm_remind",
            steps: |_| {
                vec![Step::AddColumn {
                    table: "mas_reports",
                    column: "confirm_remind_us",
                    definition: "BIGINT",
                }]
            },
        },
    ]
}

fn reports(s: &sea_orm::Schema) -> Vec<Step> {
    use entity::*;
    let mut v = Vec::new();
    v.extend(table(s, category::Entity));
    v.push(index(
        "mas_categories_code",
        "mas_categories",
        &["city_code", "code"],
        true,
    ));
    v.extend(table(s, report::Entity));
    v.push(index(
        "mas_reports_code",
        "mas_reports",
        &["city_code", "code"],
        true,
    ));
    v.push(index(
        "mas_reports_state",
        "mas_reports",
        &["city_code", "state", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_agency",
        "mas_reports",
        &["city_code", "agency_id", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_category",
        "mas_reports",
        &["city_code", "category_id", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_reporter",
        "mas_reports",
        &["city_code", "reporter_id", "id"],
        false,
    ));
    v.push(index(
        "mas_reports_created",
        "mas_reports",
        &["city_code", "created_us"],
        false,
    ));
    v.push(index(
        "mas_reports_updated",
        "mas_reports",
        &["city_code", "updated_us"],
        false,
    ));
    v.push(index(
        "mas_reports_confirm",
        "mas_reports",
        &["awaiting_confirmation", "confirm_due_us"],
        false,
    ));
    v.extend(table(s, photo::Entity));
    v.extend(table(s, event::Entity));
    v.push(index(
        "mas_events_report",
        "mas_events",
        &["city_code", "report_id", "at_us"],
        false,
    ));
    v.extend(table(s, support::Entity));
    v.extend(table(s, counter::Entity));
    v.extend(table(s, settings::Entity));
    v.extend(table(s, api_key::Entity));
    v
}
