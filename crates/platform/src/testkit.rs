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

    /// Applies an app's migrations too (the platform's are applied already).
    pub async fn migrate(&self, migrations: &[crate::db::migrate::Migration]) {
        crate::db::migrate::run(&self.db, migrations)
            .await
            .unwrap_or_else(|e| panic!("migrate: {e}"));
    }

    /// A second, independent connection pool to the same database: what another app instance
    /// sharing it would have.
    pub async fn reconnect(&self) -> Db {
        match &self.schema {
            None => Db::connect(&DbTarget::default_sqlite(self.dir.path()))
                .await
                .unwrap_or_else(|e| panic!("sqlite: {e}")),
            Some(schema) => {
                let target =
                    DbTarget::parse(&pg_url()).unwrap_or_else(|e| panic!("BALAIKOTA_TEST_PG: {e}"));
                Db::connect_with_schema(&target, Some(schema))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"))
            }
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
        let notifier = crate::notify::Notifier::new(
            crate::notify::NotifySettings::default(),
            Arc::new(crate::clock::SystemClock),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        Self::spawn_with(t, default_city, notifier).await
    }

    /// The app with a given notifier (its clock and transports).
    pub async fn spawn_with(
        t: &TestDb,
        default_city: Option<&str>,
        notifier: crate::notify::Notifier,
    ) -> TestApp {
        Self::spawn_with_apps(t, default_city, notifier, Vec::new()).await
    }

    /// The app with rooms mounted (their migrations must be applied: `TestDb::migrate`).
    pub async fn spawn_with_apps(
        t: &TestDb,
        default_city: Option<&str>,
        notifier: crate::notify::Notifier,
        apps: Vec<Arc<dyn crate::app::CityApp>>,
    ) -> TestApp {
        let files = FileStore::local(&t.dir.path().join("files")).unwrap_or_else(|e| panic!("{e}"));
        let state = AppState {
            db: t.db.clone(),
            cities: CityCache::default(),
            passwords: Passwords::fast_for_tests(),
            files,
            settings: Arc::new(WebSettings {
                default_city: default_city.map(str::to_string),
                secure_cookies: false,
                ..Default::default()
            }),
            apps: Arc::new(apps),
            notifier,
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
        crate::install_tls();
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

    /// Posts a multipart form (text fields and files) with the CSRF token in the query.
    pub async fn post_multipart(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        files: &[(&str, &str, Vec<u8>)],
    ) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut form = reqwest::multipart::Form::new();
        for (k, v) in fields {
            form = form.text(k.to_string(), v.to_string());
        }
        for (k, name, bytes) in files {
            form = form.part(
                k.to_string(),
                reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
            );
        }
        let sep = if path.contains('?') { '&' } else { '?' };
        self.client
            .post(format!("{}{path}{sep}_csrf={csrf}", self.base))
            .multipart(form)
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

/// A real SMTP server on loopback that keeps what it receives. `stop()` closes the port (new
/// connections are refused); `start()` listens again on the same port.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<std::sync::Mutex<Vec<ReceivedMail>>>,
    task: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl ReceivedMail {
    /// The decoded Subject header (lettre encodes non-ASCII subjects).
    pub fn subject(&self) -> String {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .map(decode_header)
            .unwrap_or_default()
    }

    /// The text body parts, decoded from quoted-printable or base64.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for part in self.data.split("Content-Type: text/plain").skip(1) {
            let (head, body) = part.split_once("\r\n\r\n").unwrap_or(("", part));
            let body = body.split("\r\n--").next().unwrap_or("");
            if head.contains("base64") {
                use base64::Engine;
                let joined: String = body.split_whitespace().collect();
                if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(joined) {
                    out.push_str(&String::from_utf8_lossy(&b));
                }
            } else if head.contains("quoted-printable") {
                out.push_str(&decode_qp(body));
            } else {
                out.push_str(body);
            }
        }
        out
    }
}

fn decode_qp(s: &str) -> String {
    let joined = s.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

fn decode_header(s: &str) -> String {
    // =?utf-8?b?...?= or =?utf-8?q?...?=, possibly several words
    let mut out = String::new();
    for word in s.split_whitespace() {
        if let Some(rest) = word
            .strip_prefix("=?utf-8?b?")
            .or_else(|| word.strip_prefix("=?UTF-8?B?"))
        {
            use base64::Engine;
            let b64 = rest.trim_end_matches("?=");
            if let Ok(b) = base64::engine::general_purpose::STANDARD.decode(b64) {
                out.push_str(&String::from_utf8_lossy(&b));
                continue;
            }
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

impl SmtpSink {
    pub async fn start_new() -> SmtpSink {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{e}"))
            .port();
        let sink = SmtpSink {
            port,
            mails: Arc::default(),
            task: Arc::default(),
        };
        sink.serve(listener);
        sink
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<ReceivedMail> {
        self.mails.lock().map(|m| m.clone()).unwrap_or_default()
    }

    pub fn stop(&self) {
        if let Ok(mut t) = self.task.lock()
            && let Some(h) = t.take()
        {
            h.abort();
        }
    }

    pub async fn start(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap_or_else(|e| panic!("rebind {}: {e}", self.port));
        self.serve(listener);
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let mails = self.mails.clone();
        let h = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    break;
                };
                let mails = mails.clone();
                conns.spawn(async move {
                    let _ = smtp_session(sock, mails).await;
                });
            }
        });
        if let Ok(mut t) = self.task.lock() {
            *t = Some(h);
        }
    }
}

async fn smtp_session(
    sock: tokio::net::TcpStream,
    mails: Arc<std::sync::Mutex<Vec<ReceivedMail>>>,
) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 sink ESMTP\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            w.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?;
        } else if upper.starts_with("HELO") {
            w.write_all(b"250 sink\r\n").await?;
        } else if upper.starts_with("MAIL FROM:") {
            from = cmd[10..].trim().trim_matches(['<', '>']).to_string();
            to.clear();
            w.write_all(b"250 OK\r\n").await?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().trim_matches(['<', '>']).to_string());
            w.write_all(b"250 OK\r\n").await?;
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            loop {
                line.clear();
                if r.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(
                    line.strip_prefix('.')
                        .filter(|_| line.starts_with(".."))
                        .unwrap_or(&line),
                );
            }
            if let Ok(mut m) = mails.lock() {
                m.push(ReceivedMail {
                    from: from.clone(),
                    to: to.clone(),
                    data,
                });
            }
            w.write_all(b"250 queued\r\n").await?;
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            w.write_all(b"250 OK\r\n").await?;
        } else {
            w.write_all(b"502 not implemented\r\n").await?;
        }
    }
}

/// An HTTP server on loopback that records requests (an SMS gateway or webhook receiver) and
/// answers with a status the test sets.
#[derive(Clone)]
pub struct HttpSink {
    pub addr: SocketAddr,
    pub requests: Arc<std::sync::Mutex<Vec<ReceivedRequest>>>,
    pub status: Arc<std::sync::atomic::AtomicU16>,
    pub answer: Arc<std::sync::Mutex<String>>,
}

#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl HttpSink {
    pub async fn start() -> HttpSink {
        use axum::body::Bytes;
        use axum::http::{HeaderMap, Method, StatusCode, Uri};
        let sink = HttpSink {
            addr: "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}")),
            requests: Arc::default(),
            status: Arc::new(std::sync::atomic::AtomicU16::new(200)),
            answer: Arc::new(std::sync::Mutex::new("OK".into())),
        };
        let (reqs, status, answer) = (
            sink.requests.clone(),
            sink.status.clone(),
            sink.answer.clone(),
        );
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let (reqs, status, answer) = (reqs.clone(), status.clone(), answer.clone());
                async move {
                    if let Ok(mut r) = reqs.lock() {
                        r.push(ReceivedRequest {
                            method: method.to_string(),
                            uri: uri.to_string(),
                            headers: headers
                                .iter()
                                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                                .collect(),
                            body: String::from_utf8_lossy(&body).into_owned(),
                        });
                    }
                    let code =
                        StatusCode::from_u16(status.load(std::sync::atomic::Ordering::SeqCst))
                            .unwrap_or(StatusCode::OK);
                    (code, answer.lock().map(|a| a.clone()).unwrap_or_default())
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        HttpSink { addr, ..sink }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn answer_with(&self, status: u16, body: &str) {
        self.status
            .store(status, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut a) = self.answer.lock() {
            *a = body.to_string();
        }
    }
}
