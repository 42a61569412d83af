//! Test helpers: a fresh database on either backend (a SQLite file, or a PostgreSQL schema of its
//! own on `BALAIKOTA_TEST_PG`), the real app on port 0, and a browser-like client with cookies.
//! `db_test!` runs one test body on both backends.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::accounts::Passwords;
use crate::city::CityCache;
use crate::db::{Backend, Db, DbTarget};
use crate::files::FileStore;
use crate::web::{AppState, WebSettings};

/// The PostgreSQL the tests use: `BALAIKOTA_TEST_PG`, or the local server CI and developers run.
pub fn pg_url() -> String {
    std::env::var("BALAIKOTA_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A migrated, empty database that cleans up after itself.
pub struct TestDb {
    pub db: Db,
    pub dir: tempfile::TempDir,
    schema: Option<String>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => Self::sqlite().await,
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let db = Db::connect(&DbTarget::default_sqlite(dir.path()))
            .await
            .unwrap_or_else(|e| panic!("sqlite: {e}"));
        crate::db::migrate::run(&db, &crate::schema::migrations())
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        TestDb {
            db,
            dir,
            schema: None,
        }
    }

    pub async fn postgres() -> TestDb {
        let url = pg_url();
        let target = DbTarget::parse(&url).unwrap_or_else(|e| panic!("BALAIKOTA_TEST_PG: {e}"));
        let admin = Db::connect(&target)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is needed for the tests ({url}): {e}. Start it, or set BALAIKOTA_TEST_PG."));
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        use sea_orm::ConnectionTrait;
        admin
            .conn()
            .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        admin.close().await;
        let db = Db::connect_with_schema(&target, Some(&schema))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        crate::db::migrate::run(&db, &crate::schema::migrations())
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        TestDb {
            db,
            dir,
            schema: Some(schema),
        }
    }

    /// Drops the PostgreSQL schema (call at the end of a test).
    pub async fn cleanup(self) {
        let TestDb { db, schema, .. } = self;
        db.close().await;
        if let Some(schema) = schema
            && let Ok(target) = DbTarget::parse(&pg_url())
            && let Ok(admin) = Db::connect(&target).await
        {
            use sea_orm::ConnectionTrait;
            let _ = admin
                .conn()
                .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
                .await;
            admin.close().await;
        }
    }
}

/// Runs a test body on SQLite and on PostgreSQL: `db_test!(name, async |t: &TestDb| {…})`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let t = $crate::testkit::TestDb::new($crate::db::Backend::Sqlite).await;
                ($body)(&t).await;
                t.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let t = $crate::testkit::TestDb::new($crate::db::Backend::Postgres).await;
                ($body)(&t).await;
                t.cleanup().await;
            }
        }
    };
}

/// The real application on a random port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub state: AppState,
    pub server: tokio::task::JoinHandle<()>,
}

impl TestApp {
    pub async fn spawn(t: &TestDb, default_city: Option<&str>) -> TestApp {
        let files = FileStore::local(&t.dir.path().join("files")).unwrap_or_else(|e| panic!("{e}"));
        let state = AppState {
            db: t.db.clone(),
            cities: CityCache::default(),
            passwords: Passwords::fast_for_tests(),
            files,
            settings: Arc::new(WebSettings {
                default_city: default_city.map(str::to_string),
                secure_cookies: false,
            }),
            apps: Arc::new(Vec::new()),
        };
        let app = crate::web::router(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        TestApp {
            addr,
            state,
            server,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A browser: cookies kept, redirects not followed (tests look at them).
    pub fn browser(&self) -> Browser {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        Browser {
            client,
            jar,
            base: format!("http://{}", self.addr),
        }
    }
}

pub struct Browser {
    pub client: reqwest::Client,
    pub jar: Arc<reqwest::cookie::Jar>,
    pub base: String,
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// The CSRF cookie (a GET first sets it).
    pub async fn csrf(&self) -> String {
        use reqwest::cookie::CookieStore;
        let url: reqwest::Url = self.base.parse().unwrap_or_else(|e| panic!("{e}"));
        if let Some(v) = self
            .jar
            .cookies(&url)
            .and_then(|h| h.to_str().ok().map(str::to_string))
            && let Some(tok) = v.split("; ").find_map(|kv| kv.strip_prefix("bk_csrf="))
        {
            return tok.to_string();
        }
        let _ = self.get("/healthz").await;
        let _ = self.get("/tentang").await;
        let v = self
            .jar
            .cookies(&url)
            .and_then(|h| h.to_str().ok().map(str::to_string))
            .unwrap_or_default();
        v.split("; ")
            .find_map(|kv| kv.strip_prefix("bk_csrf="))
            .map(str::to_string)
            .unwrap_or_default()
    }

    /// Posts a form as a browser would, with the CSRF token.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("_csrf", csrf.as_str()));
        self.client
            .post(format!("{}{path}", self.base))
            .form(&all)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// Posts without a CSRF token (to test the refusal).
    pub async fn post_form_without_csrf(
        &self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    pub async fn login(&self, base: &str, ident: &str, password: &str) -> reqwest::Response {
        self.post_form(
            &format!("{base}/masuk"),
            &[("identifier", ident), ("password", password)],
        )
        .await
    }
}
