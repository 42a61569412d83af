//! `balaikota bench`: the speed figures of e-Masyarakat on the machine it runs on, in one run.
//!
//! 1. The raw SQLite rate of inserting and committing, each in its own transaction, on a
//!    connection of its own (not through the application's writer, which shares commits
//!    between writes that wait): a row with only its key; a row into a copy of the complaints
//!    table, with its indexes; and, the baseline of the submit ratio, one complaint's rows
//!    (those a submission through the API wrote, copied under new keys: report, timeline line,
//!    deadline, photo, three receipts, audit entry, the counter and the audit head).
//! 2. The end-to-end rate of submitting a complaint through the HTTP JSON API (no photo upload:
//!    every submission refers to one photo uploaded first), and its ratio to each of (1); then
//!    the same submissions straight into the store, to tell the web layer's cost from the
//!    database's. Both (1) and (2) run `--clients` writers at once.
//! 3. With the table filled to `--reports` complaints: p50/p99 latency of Open311 `GET requests`
//!    (default window, a service_code filter, a status filter) and of the staff inbox page
//!    (newest first, a state filter, and by deadline); then the pages beyond the measures
//!    that read many complaints (the staff workspace, the monthly evaluation, the public map and
//!    statistics), with the first request apart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};

use platform::accounts::Passwords;
use platform::app::CityApp;
use platform::city::CityCache;
use platform::db::{Backend, Db, DbTarget};
use platform::files::FileStore;
use platform::web::{AppState, WebSettings};

pub struct Options {
    pub reports: u64,
    pub submits: u64,
    pub clients: usize,
    pub samples: usize,
    pub keep: bool,
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

/// Runs `job(0)` … `job(n - 1)` on `clients` tasks at once and says how long all of them took.
async fn at_once<F, Fut>(clients: u64, n: u64, job: F) -> anyhow::Result<Duration>
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let job = job.clone();
        tasks.spawn(async move {
            for i in (c..n).step_by(usize::try_from(clients).unwrap_or(1)) {
                job(i).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(t0.elapsed())
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

pub async fn run(opt: Options) -> anyhow::Result<()> {
    let dir = tempfile_dir()?;
    let target = DbTarget::default_sqlite(&dir);
    let db = Db::connect(&target).await?;
    let apps: Vec<Arc<dyn CityApp>> = vec![Arc::new(masyarakat::Masyarakat::new())];
    platform::db::migrate::run(&db, &platform::app::all_migrations(&apps)).await?;
    let pw = Passwords::fast_for_tests();
    platform::seed::demo(&db, &pw)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let city = platform::city::get(&db, "12.75")
        .await?
        .ok_or_else(|| anyhow::anyhow!("no demo city"))?;
    for a in &apps {
        a.seed_demo(&db, &city)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    println!(
        "Balaikota bench: SQLite in {} ({} cores)",
        dir.display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    );

    // 1. Raw insert + commit, one row per transaction.
    db.conn()
        .execute_unprepared(
            "CREATE TABLE bench_raw (city_code TEXT NOT NULL, id TEXT NOT NULL, code TEXT NOT NULL, category_id TEXT NOT NULL, description TEXT NOT NULL, privacy TEXT NOT NULL, reporter_id TEXT NOT NULL, lat REAL, lon REAL, address TEXT NOT NULL, state TEXT NOT NULL, created_us INTEGER NOT NULL, PRIMARY KEY (city_code, id))",
        )
        .await?;
    let clients = opt.clients.max(1) as u64;
    let n_raw = opt.submits;
    // Raw means one row, one commit: on a connection of its own, with the application's
    // settings (WAL, synchronous = NORMAL), where the writers queue for the one connection
    // instead of sharing commits as the application's writes do.
    let raw_conn = {
        let mut o = sea_orm::ConnectOptions::new(format!(
            "sqlite://{}",
            dir.join("balaikota.db").display()
        ));
        o.max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
            });
        sea_orm::Database::connect(o).await?
    };
    let raw_one = {
        let (db, conn) = (db.clone(), raw_conn.clone());
        move |i| {
            let (db, conn) = (db.clone(), conn.clone());
            async move {
                raw_commit(&conn, vec![Statement::from_sql_and_values(
                    db.db_backend(),
                    "INSERT INTO bench_raw VALUES ('12.75', ?, ?, ?, 'Lampu jalan di depan SD Negeri 3 mati sejak seminggu.', 'public', ?, 3.6001, 98.4852, 'Jl. Sudirman', 'diterima', ?)",
                    [
                        uuid::Uuid::now_v7().to_string().into(),
                        format!("RAW-{i:07}").into(),
                        uuid::Uuid::nil().to_string().into(),
                        uuid::Uuid::nil().to_string().into(),
                        (i as i64).into(),
                    ],
                )])
                .await
            }
        }
    };
    let busy = Turns::start(&db);
    let took = at_once(clients, n_raw, raw_one.clone()).await?;
    let raw = rate(n_raw, took);
    let raw_turn = busy.end(&db, took, n_raw);

    // 1b. The same, into a copy of the complaints table: its columns and its indexes.
    let ddl = db
        .conn()
        .query_all_raw(Statement::from_string(
            db.db_backend(),
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'mas_reports' AND sql IS NOT NULL ORDER BY type DESC",
        ))
        .await?;
    for row in ddl {
        let sql: String = row.try_get("", "sql")?;
        db.conn()
            .execute_unprepared(&sql.replace("mas_reports", "bench_report"))
            .await?;
    }
    let shaped_one = {
        let (db, raw_conn) = (db.clone(), raw_conn.clone());
        move |i: u64| {
            let (db, conn) = (db.clone(), raw_conn.clone());
            async move {
                raw_commit(&conn, vec![Statement::from_sql_and_values(
                    db.db_backend(),
                    "INSERT INTO bench_report (city_code, id, code, category_id, description, privacy, reporter_id, lat, lon, cell, kelurahan_code, kelurahan_source, address, answers, state, agency_id, assignee_id, closure, closure_note, after_photo, estimate_rupiah, programme, budget_agency_id, referred_to, duplicate_of, awaiting_confirmation, confirm_due_us, confirmation, satisfaction, supporters, status_note, source, contact, media_url, created_us, updated_us, verified_us, closed_us) VALUES ('12.75', ?, ?, ?, 'Lampu jalan di depan SD Negeri 3 mati sejak seminggu.', 'public', ?, 3.6001, 98.4852, 1869435541, '12.75.01.1001', 'gps', 'Jl. Sudirman', '{}', 'diterima', NULL, NULL, NULL, '', NULL, NULL, '', NULL, '', NULL, 0, NULL, NULL, NULL, 0, '', 'web', '', '', ?, ?, NULL, NULL)",
                    [
                        uuid::Uuid::now_v7().into(),
                        format!("RAW-{i:07}").into(),
                        uuid::Uuid::now_v7().into(),
                        uuid::Uuid::now_v7().into(),
                        (i as i64).into(),
                        (i as i64).into(),
                    ],
                )])
                .await
            }
        }
    };
    let busy = Turns::start(&db);
    let took = at_once(clients, n_raw, shaped_one.clone()).await?;
    let shaped = rate(n_raw, took);
    let shaped_turn = busy.end(&db, took, n_raw);

    // 2. End to end through HTTP.
    let notifier = platform::notify::Notifier::new(
        platform::notify::NotifySettings::default(),
        Arc::new(platform::clock::SystemClock),
    )?;
    let files = FileStore::local(&dir.join("files"))?;
    let state = AppState {
        db: db.clone(),
        cities: CityCache::default(),
        passwords: pw.clone(),
        files: files.clone(),
        settings: Arc::new(WebSettings {
            default_city: Some("12.75".into()),
            secure_cookies: false,
            ..Default::default()
        }),
        apps: Arc::new(apps.clone()),
        notifier: notifier.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = platform::web::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    let base = format!("http://{addr}");
    platform::install_tls();
    let http = reqwest::Client::new();
    let citizen = platform::accounts::list(&db, &city, &Default::default(), 100)
        .await?
        .into_iter()
        .find(|a| a.nik.is_some())
        .ok_or_else(|| anyhow::anyhow!("no demo citizen"))?;
    let (token, _) = platform::sessions::create_token(&db, &city, &citizen, "bench").await?;
    let jpeg = {
        let img = image_bytes();
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(img).file_name("a.png"),
        )
    };
    let up: serde_json::Value = http
        .post(format!("{base}/api/v1/files"))
        .bearer_auth(&token)
        .multipart(jpeg)
        .send()
        .await?
        .json()
        .await?;
    let photo = up["id"].clone();
    let body = serde_json::json!({
        "category": "lampu-jalan",
        "description": "Lampu jalan di depan SD Negeri 3 mati sejak seminggu.",
        "lat": "3.6001", "lon": "98.4852", "address": "Jl. Sudirman",
        "photos": [photo],
    });
    let url = format!("{base}/api/v1/pengaduan");
    let post_one = {
        let (http, body, url, token) = (http.clone(), body.clone(), url.clone(), token.clone());
        move |_| {
            let (http, url, token, body) = (http.clone(), url.clone(), token.clone(), body.clone());
            async move {
                let r = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await?;
                if r.status() != reqwest::StatusCode::CREATED {
                    anyhow::bail!(
                        "submit failed: {} {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    );
                }
                r.bytes().await?;
                anyhow::Ok(())
            }
        }
    };
    // 1c. One complaint's rows, raw: those of a complaint filed through the API, written
    // again under new keys, one complaint per transaction, on the raw writers' connection.
    let filed: serde_json::Value = http
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let filed = filed["code"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the sample complaint came back without its code"))?;
    let rows = Arc::new(ComplaintRows::read(&db, &city.code, filed).await?);
    let complaint_one = {
        let (conn, rows) = (raw_conn.clone(), rows.clone());
        move |i: u64| {
            let (conn, rows) = (conn.clone(), rows.clone());
            async move { raw_commit(&conn, rows.statements(i)).await }
        }
    };
    let busy = Turns::start(&db);
    let took = at_once(clients, n_raw, complaint_one.clone()).await?;
    let complaint = rate(n_raw, took);
    let complaint_turn = busy.end(&db, took, n_raw);

    let busy = Turns::start(&db);
    let took = at_once(clients, opt.submits, post_one.clone()).await?;
    let e2e = rate(opt.submits, took);
    let e2e_turn = busy.end(&db, took, opt.submits);

    // The same submissions straight into the store, without HTTP, JSON or the token: what
    // the database work of a complaint (its report, timeline, deadline, photo, receipt and
    // audit rows) costs on its own.
    let input: masyarakat::store::ReportInput = serde_json::from_value(body.clone())?;
    let (input, citizen) = (Arc::new(input), Arc::new(citizen));
    let store_one = {
        let (db, notifier, files, city) =
            (db.clone(), notifier.clone(), files.clone(), city.clone());
        move |_| {
            let (db, notifier, files, city, citizen, input) = (
                db.clone(),
                notifier.clone(),
                files.clone(),
                city.clone(),
                citizen.clone(),
                input.clone(),
            );
            async move {
                masyarakat::store::submit(&db, &notifier, &files, &city, &citizen, &input)
                    .await
                    .map_err(|e| anyhow::anyhow!("store submit failed: {e:?}"))?;
                anyhow::Ok(())
            }
        }
    };
    let busy = Turns::start(&db);
    let took = at_once(clients, opt.submits, store_one.clone()).await?;
    let store_rate = rate(opt.submits, took);
    let store_turn = busy.end(&db, took, opt.submits);
    // What SQLite itself writes for each: its commit costs in proportion to these pages.
    let raw_pages = wal_frames(&db, 20, raw_one).await?;
    let complaint_pages = wal_frames(&db, 10, complaint_one.clone()).await?;
    let store_pages = wal_frames(&db, 10, store_one).await?;
    println!();
    println!("| measure | figure |");
    println!("|---|---|");
    println!(
        "| raw SQLite insert + commit of one complaint's rows (report, timeline, deadline, photo, 3 receipts, audit entry; counter and audit head updated), one complaint per transaction | {complaint:.0} complaints/s{complaint_turn} |"
    );
    println!(
        "| complaint submit through the HTTP JSON API (no photo upload) | {e2e:.0} complaints/s{e2e_turn} |"
    );
    println!(
        "| ratio to the complaint's rows raw (target ≥ 50 %) | {:.0} % |",
        e2e / complaint * 100.0
    );
    println!(
        "| raw insert + commit of one row into a copy of the complaints table (its 11 indexes) | {shaped:.0} rows/s{shaped_turn} |"
    );
    println!("| ratio to that | {:.0} % |", e2e / shaped * 100.0);
    println!(
        "| raw SQLite insert + commit of a 12-column row with only its key | {raw:.0} rows/s{raw_turn} |"
    );
    println!("| ratio to that | {:.0} % |", e2e / raw * 100.0);
    println!(
        "| the same complaints straight into the store (no HTTP) | {store_rate:.0} complaints/s ({:.0} % of the complaint's rows raw){store_turn} |",
        store_rate / complaint * 100.0
    );
    let pages = |p: Option<f64>| p.map_or_else(|| "n/a".to_string(), |p| format!("{p:.1}"));
    if db.backend() == Backend::Sqlite {
        println!(
            "| pages SQLite writes per commit (4 KiB WAL frames): 12-column row · complaint's rows raw · complaint submitted alone | {} · {} · {} |",
            pages(raw_pages),
            pages(complaint_pages),
            pages(store_pages)
        );
    }
    println!("| clients at once (raw writers and submitters) | {clients} |");

    // 3. Fill to N complaints, then time the listings.
    let have: u64 = masyarakat::store::count(&db, &city).await?;
    let t0 = Instant::now();
    fill(&db, &city, have, opt.reports).await?;
    // What the server's housekeeping does at start and hourly: the planner's statistics.
    let t_stats = Instant::now();
    db.optimize().await?;
    let stats_took = t_stats.elapsed();
    // The load's pages go into the database file now, so that the submissions timed next do
    // not wait for that checkpoint.
    db.catch_up_wal().await?;
    let filled = masyarakat::store::count(&db, &city).await?;
    println!(
        "| complaints loaded | {filled} (in {:.0} s; the planner's statistics then took {:.0} ms) |",
        t0.elapsed().as_secs_f64(),
        stats_took.as_secs_f64() * 1000.0
    );
    // Submitting must not slow down with the table's size (nothing reads the whole table);
    // the raw rows slow down too, in indexes a thousand times larger: the ratio again.
    if filled > have {
        let busy = Turns::start(&db);
        let took = at_once(clients, n_raw, move |i| complaint_one(2_000_000_000 + i)).await?;
        let complaint = rate(n_raw, took);
        println!(
            "| raw insert + commit of one complaint's rows, with the complaints loaded | {complaint:.0} complaints/s{} |",
            busy.end(&db, took, n_raw)
        );
        let busy = Turns::start(&db);
        let took = at_once(clients, opt.submits, post_one).await?;
        let e2e = rate(opt.submits, took);
        println!(
            "| complaint submit through the HTTP JSON API, with the complaints loaded | {e2e:.0} complaints/s{} |",
            busy.end(&db, took, opt.submits)
        );
        println!(
            "| ratio to the complaint's rows raw, with the complaints loaded | {:.0} % |",
            e2e / complaint * 100.0
        );
    }
    // Staff sessions: the operator for the inbox, the mayor for what leaders read.
    let staff = login(&base, "operator").await?;
    let mayor = login(&base, "walikota").await?;
    let cases = [
        (
            "Open311 GET requests (default window)",
            "/open311/v2/requests.json",
            None,
        ),
        (
            "Open311 GET requests?service_code=sampah",
            "/open311/v2/requests.json?service_code=sampah",
            None,
        ),
        (
            "Open311 GET requests?status=closed",
            "/open311/v2/requests.json?status=closed",
            None,
        ),
        ("staff inbox, first page", "/staf/pengaduan", Some(&staff)),
        (
            "staff inbox, state filter",
            "/staf/pengaduan?status=diproses",
            Some(&staff),
        ),
        (
            "staff inbox, by deadline (the submissions' running clocks)",
            "/staf/pengaduan?urut=tenggat",
            Some(&staff),
        ),
    ];
    for (name, path, session) in cases {
        let (times, body, _) = sample(session.unwrap_or(&http), &base, path, opt.samples).await?;
        let rows = if session.is_some() {
            // The inbox's table rows (its head's row left out).
            body.matches("<tr").count().saturating_sub(1)
        } else {
            body.matches("\"service_request_id\"").count()
        };
        println!(
            "| {name} ({rows} rows) | p50 {} · p99 {} |",
            ms(pct(times.clone(), 0.5)),
            ms(pct(times, 0.99))
        );
    }
    // Pages outside the measures that read many of the complaints: what staff, leaders
    // and the public open. The first request is shown apart: the public statistics are counted
    // once and then kept for five minutes.
    let pages = [
        ("staff workspace, operator (/staf)", "/staf", Some(&staff)),
        ("staff workspace, mayor (/staf)", "/staf", Some(&mayor)),
        (
            "monthly evaluation, this month (/evaluasi)",
            "/evaluasi",
            Some(&mayor),
        ),
        (
            "monthly evaluation by category, CSV",
            "/evaluasi.csv?per=kategori",
            Some(&mayor),
        ),
        (
            "public map, 90 days (/pengaduan/peta)",
            "/pengaduan/peta",
            None,
        ),
        (
            "public statistics, 12 months (/pengaduan/statistik)",
            "/pengaduan/statistik",
            None,
        ),
    ];
    for (name, path, session) in pages {
        let (times, _, first) = sample(session.unwrap_or(&http), &base, path, opt.samples).await?;
        println!(
            "| {name} | first {} · p50 {} · p99 {} |",
            ms(first),
            ms(pct(times.clone(), 0.5)),
            ms(pct(times, 0.99))
        );
    }
    db.close().await;
    if opt.keep {
        println!("\nThe database is kept in {}.", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// A staff member's session, signed in through the sign-in form as a browser would.
async fn login(base: &str, who: &str) -> anyhow::Result<reqwest::Client> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = client
        .get(format!("{base}/masuk"))
        .send()
        .await?
        .text()
        .await?;
    let csrf = page
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("")
        .to_string();
    let r = client
        .post(format!("{base}/masuk"))
        .form(&[
            ("identifier", who),
            ("password", platform::seed::DEMO_PASSWORD),
            ("_csrf", csrf.as_str()),
        ])
        .send()
        .await?;
    if !r.status().is_redirection() {
        anyhow::bail!("{who}: sign-in failed: {}", r.status());
    }
    Ok(client)
}

/// `samples` timed requests for `path` after five untimed ones: their times, the last body,
/// and the time of the very first request (before anything was kept).
async fn sample(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    samples: usize,
) -> anyhow::Result<(Vec<Duration>, String, Duration)> {
    let mut times = Vec::with_capacity(samples);
    let (mut body, mut first) = (String::new(), Duration::ZERO);
    for i in 0..samples + 5 {
        let t = Instant::now();
        let r = client.get(format!("{base}{path}")).send().await?;
        let status = r.status();
        // The whole body, as bytes: decoding it is the client's work, not the server's.
        let bytes = r.bytes().await?;
        let d = t.elapsed();
        if !status.is_success() {
            anyhow::bail!("{path}: {status}");
        }
        if i == 0 {
            first = d;
        }
        if i >= 5 {
            times.push(d);
        }
        if i + 1 == samples + 5 {
            body = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    Ok((times, body, first))
}

/// The SQLite writer's turn over one stretch of the bench: what share of the time some write
/// transaction held it, and for how long each (on average). Near 100 %, the one writer is what
/// limits the rate, and the time each holds it is what a faster rate must shorten.
struct Turns(Option<Duration>, Option<Duration>, Option<(u64, u64)>);

/// The CPU time this process has used so far, all threads (user and system), from
/// `/proc/self/stat` in clock ticks of 10 ms; `None` where there is no such file.
fn cpu_used() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: count fields after it.
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let ticks = f.next()?.parse::<u64>().ok()? + f.next()?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

impl Turns {
    fn start(db: &Db) -> Turns {
        Turns(db.writer_busy(), cpu_used(), db.writer_saved())
    }

    /// `; writer's turn held 96 % of the time, 970 µs each; 5.2 writes per commit; CPU 1100 µs
    /// each`: the writer's figures only where the phase wrote through it.
    fn end(self, db: &Db, took: Duration, n: u64) -> String {
        let cpu = match (self.1, cpu_used()) {
            (Some(a), Some(b)) if n > 0 => format!(
                "; CPU {:.0} µs each",
                b.saturating_sub(a).as_secs_f64() * 1e6 / n as f64
            ),
            _ => String::new(),
        };
        let turn = match (self.0, db.writer_busy()) {
            (Some(a), Some(b)) if n > 0 && b > a => {
                let held = b.saturating_sub(a);
                format!(
                    "; writer's turn held {:.0} % of the time, {:.0} µs each",
                    held.as_secs_f64() / took.as_secs_f64().max(1e-9) * 100.0,
                    held.as_secs_f64() * 1e6 / n as f64
                )
            }
            _ => String::new(),
        };
        let shared = match (self.2, db.writer_saved()) {
            (Some((w0, c0)), Some((w1, c1))) if c1 > c0 => format!(
                "; {:.1} writes per commit",
                (w1 - w0) as f64 / (c1 - c0) as f64
            ),
            _ => String::new(),
        };
        turn + &shared + &cpu
    }
}

/// How many pages (WAL frames) one transaction of `job` writes, on average over `n` run one after
/// another: the WAL is emptied first, and SQLite then says how many frames it holds. `None` when
/// the WAL could not be emptied (a reader held it) or another backend is in use. Keep
/// `n` × pages under SQLite's automatic checkpoint (1,000 frames), which would empty it midway.
async fn wal_frames<F, Fut>(db: &Db, n: u64, job: F) -> anyhow::Result<Option<f64>>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    if db.backend() != Backend::Sqlite || n == 0 {
        return Ok(None);
    }
    let checkpoint = |mode: &str| {
        Statement::from_string(db.db_backend(), format!("PRAGMA wal_checkpoint({mode})"))
    };
    // (busy, frames in the WAL, frames copied back)
    let read = |row: Option<sea_orm::QueryResult>| -> anyhow::Result<(i64, i64)> {
        let row = row.ok_or_else(|| anyhow::anyhow!("wal_checkpoint gave no row"))?;
        Ok((row.try_get_by_index(0)?, row.try_get_by_index(1)?))
    };
    // The server's checkpointer runs beside this: a checkpoint that finds the file busy answers
    // -1 frames, so a reading is taken only when both checkpoints here ran (a few tries).
    for attempt in 0..5u64 {
        let (busy, _) = read(db.conn().query_one_raw(checkpoint("TRUNCATE")).await?)?;
        if busy != 0 {
            continue;
        }
        for i in 0..n {
            job(1_000_000_000 + attempt * 1_000 + i).await?;
        }
        let (busy, frames) = read(db.conn().query_one_raw(checkpoint("PASSIVE")).await?)?;
        if busy == 0 && frames >= 0 {
            return Ok(Some(frames as f64 / n as f64));
        }
    }
    Ok(None)
}

/// One complaint as the store wrote it (its rows in the tables a submission writes), to be
/// written again raw under new keys: each row's values as SQL literals (SQLite's `quote`),
/// but for the keys each copy takes anew, which are bound.
struct ComplaintRows {
    city: String,
    year: i32,
    /// The sample's ticket code, as it stands inside the outbox's idempotency keys.
    code: String,
    rows: Vec<RawRow>,
}

struct RawRow {
    table: &'static str,
    /// (column, its literal); `None` for a key the copy takes anew.
    cols: Vec<(String, Option<String>)>,
    /// The sample's idempotency key (outbox rows).
    key: Option<String>,
}

impl ComplaintRows {
    /// The rows of the complaint `code` (SQLite only).
    async fn read(db: &Db, city: &str, code: &str) -> anyhow::Result<ComplaintRows> {
        let conn = db.conn();
        let lit = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let report_id: String = conn
            .query_one_raw(Statement::from_string(
                db.db_backend(),
                format!(
                    "SELECT quote(id) AS id FROM mas_reports WHERE city_code = {} AND code = {}",
                    lit(city),
                    lit(code)
                ),
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("no complaint {code}"))?
            .try_get("", "id")?;
        let (c, s) = (lit(city), lit(code));
        let tables: [(&'static str, String, usize); 6] = [
            ("mas_reports", format!("city_code = {c} AND code = {s}"), 1),
            (
                "mas_events",
                format!("city_code = {c} AND report_id = {report_id}"),
                1,
            ),
            (
                "mas_photos",
                format!("city_code = {c} AND report_id = {report_id}"),
                1,
            ),
            (
                "sla_clocks",
                format!("city_code = {c} AND subject_type = 'pengaduan' AND subject_id = {s}"),
                1,
            ),
            ("outbox", format!("city_code = {c} AND source_id = {s}"), 3),
            (
                "audit_log",
                format!("city_code = {c} AND subject_id = {s} AND action = 'masyarakat.submit'"),
                1,
            ),
        ];
        let mut rows = Vec::new();
        for (table, filter, expect) in tables {
            let names: Vec<String> = conn
                .query_all_raw(Statement::from_string(
                    db.db_backend(),
                    format!("SELECT name FROM pragma_table_info('{table}') ORDER BY cid"),
                ))
                .await?
                .iter()
                .map(|r| r.try_get::<String>("", "name"))
                .collect::<Result<_, _>>()?;
            let quoted = names
                .iter()
                .map(|n| format!("quote(\"{n}\")"))
                .collect::<Vec<_>>()
                .join(", ");
            let found = conn
                .query_all_raw(Statement::from_string(
                    db.db_backend(),
                    format!("SELECT {quoted} FROM {table} WHERE {filter}"),
                ))
                .await?;
            if found.len() != expect {
                anyhow::bail!("{table}: {} rows for {code}, not {expect}", found.len());
            }
            for r in found {
                let mut cols = Vec::new();
                let mut key = None;
                for (i, n) in names.iter().enumerate() {
                    let v: String = r.try_get_by_index(i)?;
                    match (table, n.as_str()) {
                        // The log numbers its entries itself.
                        ("audit_log", "seq") => continue,
                        ("outbox", "idempotency_key") => {
                            key = Some(v.trim_matches('\'').to_string());
                            cols.push((n.clone(), None));
                        }
                        (_, "id" | "report_id" | "code" | "subject_id" | "source_id") => {
                            cols.push((n.clone(), None))
                        }
                        _ => cols.push((n.clone(), Some(v))),
                    }
                }
                rows.push(RawRow { table, cols, key });
            }
        }
        Ok(ComplaintRows {
            city: city.to_string(),
            // The counter's year, as the ticket code has it (`ADU-2026-000123`: in the city's
            // time zone).
            year: code
                .split('-')
                .nth(1)
                .and_then(|y| y.parse().ok())
                .ok_or_else(|| anyhow::anyhow!("no year in the ticket code {code}"))?,
            code: code.to_string(),
            rows,
        })
    }

    /// The `i`th copy's statements: its rows under new keys (a new report id and ticket code),
    /// then the counter and the audit head moved on, as a submission does.
    fn statements(&self, i: u64) -> Vec<Statement> {
        let report = uuid::Uuid::now_v7();
        let code = format!("RAW-{}-{i:07}", self.year);
        let mut out = Vec::with_capacity(self.rows.len() + 2);
        for row in &self.rows {
            let (mut names, mut exprs, mut values) = (vec![], vec![], vec![]);
            for (n, v) in &row.cols {
                names.push(format!("\"{n}\""));
                match v {
                    Some(l) => exprs.push(l.clone()),
                    None => {
                        exprs.push("?".into());
                        values.push(match (row.table, n.as_str()) {
                            ("mas_reports", "id") | (_, "report_id") => report.into(),
                            (_, "id") => uuid::Uuid::now_v7().into(),
                            ("outbox", "idempotency_key") => row
                                .key
                                .as_deref()
                                .unwrap_or_default()
                                .replace(&self.code, &code)
                                .into(),
                            _ => code.clone().into(),
                        });
                    }
                }
            }
            out.push(Statement::from_sql_and_values(
                sea_orm::DbBackend::Sqlite,
                format!(
                    "INSERT INTO {} ({}) VALUES ({})",
                    row.table,
                    names.join(", "),
                    exprs.join(", ")
                ),
                values,
            ));
        }
        out.push(Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            "UPDATE mas_counters SET last = last + 1 WHERE city_code = ? AND year = ?",
            [self.city.clone().into(), self.year.into()],
        ));
        out.push(Statement::from_sql_and_values(
            sea_orm::DbBackend::Sqlite,
            "UPDATE audit_heads SET last_seq = (SELECT max(seq) FROM audit_log WHERE city_code = ?), last_hash = ?, entries = entries + 1 WHERE city_code = ?",
            [
                self.city.clone().into(),
                format!("{:064x}", u128::from(i as u32)).into(),
                self.city.clone().into(),
            ],
        ));
        out
    }
}

/// One commit of its own: `BEGIN IMMEDIATE`, the statements in one call (as the writer sends a
/// submission's rows), `COMMIT`.
async fn raw_commit(
    conn: &sea_orm::DatabaseConnection,
    stmts: Vec<Statement>,
) -> anyhow::Result<()> {
    let tx = sea_orm::TransactionTrait::begin_with_options(
        conn,
        sea_orm::TransactionOptions {
            sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
            ..Default::default()
        },
    )
    .await?;
    platform::db::run_all(&tx, stmts).await?;
    tx.commit().await?;
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("balaikota-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// A small PNG (the photo every benchmark submission refers to).
fn image_bytes() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    let _ = image::DynamicImage::ImageRgb8(img).write_to(&mut out, image::ImageFormat::Png);
    out.into_inner()
}

/// Adds complaints until there are `total`: spread over two years, over the categories,
/// agencies and states, in transactions of 5,000 rows.
async fn fill(db: &Db, city: &platform::city::City, have: u64, total: u64) -> anyhow::Result<()> {
    if have >= total {
        return Ok(());
    }
    let cats = masyarakat::store::categories(db.conn(), city, false).await?;
    let agencies: Vec<uuid::Uuid> = platform::agencies::list(db, city, &Default::default())
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let villages: Vec<String> = city
        .villages()
        .into_iter()
        .map(|v| v.code.to_string())
        .collect();
    let states = [
        "diterima",
        "didisposisi",
        "diproses",
        "selesai_langsung",
        "selesai_langsung",
        "butuh_anggaran",
        "ditolak",
        "selesai_langsung",
    ];
    let now_us = chrono::Utc::now().timestamp_micros();
    let span_us: i64 = 730 * 86_400_000_000;
    let mut i = have;
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    while i < total {
        let tx = db.begin_write().await?;
        let end = (i + 5000).min(total);
        let mut sql = String::from(
            "INSERT INTO mas_reports (city_code, id, code, category_id, description, privacy, reporter_id, lat, lon, cell, kelurahan_code, kelurahan_source, address, answers, state, agency_id, assignee_id, closure, closure_note, after_photo, estimate_rupiah, programme, budget_agency_id, referred_to, duplicate_of, awaiting_confirmation, confirm_due_us, confirmation, satisfaction, supporters, status_note, source, contact, media_url, created_us, updated_us, verified_us, closed_us) VALUES ",
        );
        for k in i..end {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            // Older rows first, so ids (time-ordered) follow creation times.
            let created = now_us - span_us + (span_us / total as i64) * k as i64;
            let id = uuid::Uuid::now_v7();
            let cat = &cats[(rng % cats.len() as u64) as usize];
            let state = states[(rng >> 8) as usize % states.len()];
            let closed = matches!(state, "selesai_langsung" | "butuh_anggaran" | "ditolak");
            let agency = if state == "diterima" {
                "NULL".to_string()
            } else {
                format!(
                    "X'{}'",
                    agencies[(rng >> 16) as usize % agencies.len()].simple()
                )
            };
            let closure = match state {
                "selesai_langsung" => "'fixed_directly'",
                "butuh_anggaran" => "'needs_budget'",
                "ditolak" => "'rejected'",
                _ => "NULL",
            };
            let estimate = if state == "butuh_anggaran" {
                format!("{}", 10_000_000 + (rng % 500) * 1_000_000)
            } else {
                "NULL".into()
            };
            let vill = &villages[(rng >> 24) as usize % villages.len()];
            let lat = 3.55 + ((rng >> 32) % 1000) as f64 / 10_000.0;
            let lon = 98.45 + ((rng >> 40) % 900) as f64 / 10_000.0;
            if k > i {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('{}',X'{}','BNC-{k:08}',X'{}','Laporan contoh nomor {k} untuk uji kecepatan.','public',X'{}',{lat},{lon},{},'{vill}','reporter','Jl. Contoh {k}','{{}}','{state}',{agency},NULL,{closure},'',NULL,{estimate},'',NULL,'',NULL,{},NULL,NULL,NULL,0,'','bench','','',{created},{created},NULL,{})",
                city.code,
                id.simple(),
                cat.id.simple(),
                uuid::Uuid::nil().simple(),
                kernel::geo::cell_of((lat, lon)),
                i32::from(false),
                if closed { created.to_string() } else { "NULL".into() },
            ));
        }
        tx.execute_unprepared(&sql).await?;
        tx.commit().await?;
        i = end;
    }
    Ok(())
}
