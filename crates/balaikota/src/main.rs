//! `balaikota`: the whole smart city in one binary.

mod bench;
mod config;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use platform::accounts::{Passwords, StaffInput};
use platform::city::CityCache;
use platform::db::{Db, DbTarget};
use platform::files::FileStore;
use platform::web::{AppState, WebSettings};

/// Balaikota: layanan kota dalam satu program (complaints, permits, queues, budget, command center).
#[derive(Parser, Debug)]
#[command(name = "balaikota", version, about, long_about = None)]
struct Cli {
    /// Settings file (TOML). Default: ./balaikota.toml if it exists.
    #[arg(long, global = true, env = "BALAIKOTA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the web server (and the background work).
    Serve(ServeArgs),
    /// Apply database migrations, then exit.
    Migrate(DbArgs),
    /// Manage accounts from the shell.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a consistent copy of the database to FILE (SQLite file, or SQL for PostgreSQL via pg_dump).
    Backup {
        /// Where to write the copy.
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the OpenAPI document of the JSON API.
    Openapi,
    /// Measure e-Masyarakat's speed on this machine (run it with --release).
    Bench {
        /// Complaints to load before timing the listings.
        #[arg(long, default_value_t = 1_000_000)]
        reports: u64,
        /// Complaints submitted through the HTTP API (and raw rows inserted).
        #[arg(long, default_value_t = 1000)]
        submits: u64,
        /// Clients submitting at once (the raw rate is taken with as many writers).
        #[arg(long, default_value_t = 8)]
        clients: usize,
        /// Requests timed per listing.
        #[arg(long, default_value_t = 200)]
        samples: usize,
        /// Keep the database afterwards (its folder is printed), to look at query plans.
        #[arg(long)]
        keep: bool,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create an admin account (and the city, on an empty database).
    Create {
        /// Login name of the new admin (lower-case letters, digits, dot, dash).
        #[arg(long)]
        username: String,
        /// Full name shown in the audit log.
        #[arg(long, default_value = "Admin")]
        name: String,
        /// Make the account province-level: it works in every city of the province hosted here.
        #[arg(long)]
        province_wide: bool,
        /// Host name that serves this city (e.g. layanan.binjaikota.go.id), when the city is new.
        #[arg(long)]
        host: Option<String>,
        /// Password; if absent it is read from BALAIKOTA_ADMIN_PASSWORD.
        #[arg(long, env = "BALAIKOTA_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// Walk every hash chain; exit 1 and name the first broken entry if any row was changed.
    Verify(DbArgs),
}

#[derive(Args, Debug, Clone, Default)]
pub struct DbArgs {
    /// Database URL: sqlite://FILE or postgres://USER@HOST:PORT/DB. Default: SQLite in the data dir.
    #[arg(long, env = "BALAIKOTA_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Folder for the SQLite database and uploads.
    #[arg(long, env = "BALAIKOTA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The city by its Kemendagri code, e.g. 12.75 (Kota Binjai) or 72.71 (Kota Palu).
    #[arg(long, env = "BALAIKOTA_CITY")]
    pub city: Option<String>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Seed the demo city (Kota Binjai) with one account per role.
    #[arg(long, env = "BALAIKOTA_DEMO")]
    pub demo: bool,
    /// TCP port.
    #[arg(long, env = "BALAIKOTA_PORT")]
    pub port: Option<u16>,
    /// Address to listen on.
    #[arg(long, env = "BALAIKOTA_BIND")]
    pub bind: Option<String>,
    /// Logs as JSON lines (for log collectors).
    #[arg(long, env = "BALAIKOTA_JSON_LOGS")]
    pub json_logs: bool,
    /// Mark cookies Secure and send HSTS (when served over HTTPS).
    #[arg(long, env = "BALAIKOTA_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Where email goes: smtp://user:pass@host:587?tls=required, smtps://…, or file:///dir.
    #[arg(long, env = "BALAIKOTA_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The public address of this server, for links in messages.
    #[arg(long, env = "BALAIKOTA_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Map tiles URL ({z}/{x}/{y}); "none" for maps without a background.
    #[arg(long, env = "BALAIKOTA_MAP_TILES")]
    pub map_tiles: Option<String>,
}

/// mimalloc: the driver and the listings allocate many small values per row; glibc's malloc
/// took a fifth of the time in the benchmarks (see the README's figures).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("balaikota: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open_db(s: &config::Resolved) -> anyhow::Result<Db> {
    let target = match &s.database_url {
        Some(url) => DbTarget::parse(url)?,
        None => {
            std::fs::create_dir_all(&s.data_dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the data folder {}: {e}",
                    s.data_dir.display()
                )
            })?;
            DbTarget::default_sqlite(&s.data_dir)
        }
    };
    let db = Db::connect(&target).await?;
    let applied = platform::db::migrate::run(&db, &platform::app::all_migrations(&apps())).await?;
    if !applied.is_empty() {
        tracing::info!(count = applied.len(), "migrations applied");
    }
    Ok(db)
}

/// The rooms this binary serves.
fn apps() -> Vec<Arc<dyn platform::app::CityApp>> {
    vec![Arc::new(masyarakat::Masyarakat::new())]
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let file = config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve(args) => {
            let s = config::resolve(&args.db, Some(&args), &file);
            init_logs(s.json_logs);
            serve(s).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(db) => {
            init_logs(false);
            let s = config::resolve(&db, None, &file);
            open_db(&s).await?;
            println!("Database is up to date.");
            Ok(ExitCode::SUCCESS)
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    username,
                    name,
                    host,
                    province_wide,
                    password,
                    db,
                },
        } => {
            let s = config::resolve(&db, None, &file);
            let dbh = open_db(&s).await?;
            let code = s.city.clone().unwrap_or_else(|| "12.75".into());
            let staff = StaffInput {
                username: username.clone(),
                full_name: name,
                role: "admin".into(),
                password,
                province_wide,
                ..Default::default()
            };
            match platform::seed::setup_city(
                &dbh,
                &Passwords::standard(),
                &code,
                host,
                true,
                &staff,
            )
            .await
            {
                Ok(city) => {
                    println!(
                        "Admin '{username}' created for {} ({}).",
                        city.name, city.code
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(platform::AppError::Invalid(errs)) => {
                    for e in errs.0 {
                        eprintln!(
                            "{}: {}",
                            e.field,
                            platform::i18n::field_error(kernel::Lang::En, &e)
                        );
                    }
                    Ok(ExitCode::from(2))
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Audit {
            command: AuditCommand::Verify(db),
        } => {
            let s = config::resolve(&db, None, &file);
            let dbh = open_db(&s).await?;
            let report = platform::audit::verify(&dbh).await?;
            match report.failure {
                None => {
                    println!(
                        "Audit log intact: {} entries in {} chain(s).",
                        report.entries, report.cities
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Some(f) => {
                    let at = f
                        .seq
                        .map(|s| format!("entry #{s}"))
                        .unwrap_or_else(|| "the chain's head".into());
                    eprintln!(
                        "Audit log BROKEN in city {} at {at}: {}.",
                        f.city_code, f.reason
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Backup { file: out, db } => {
            let s = config::resolve(&db, None, &file);
            backup(&s, &out).await?;
            println!("Backup written to {}.", out.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            reports,
            submits,
            clients,
            samples,
            keep,
        } => {
            init_logs(false);
            bench::run(bench::Options {
                reports,
                submits,
                clients,
                samples,
                keep,
            })
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Openapi => {
            let doc = platform::web::api::openapi(&apps());
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn backup(s: &config::Resolved, out: &std::path::Path) -> anyhow::Result<()> {
    if out.exists() {
        anyhow::bail!("{} exists already; choose a new file", out.display());
    }
    match &s.database_url {
        Some(url) if url.starts_with("postgres") => {
            let status = std::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg("-f")
                .arg(out)
                .arg(url)
                .status()?;
            if !status.success() {
                anyhow::bail!("pg_dump failed ({status})");
            }
        }
        _ => {
            let db = open_db(s).await?;
            use sea_orm::ConnectionTrait;
            let path = out.to_string_lossy().replace('\'', "''");
            db.conn()
                .execute_unprepared(&format!("VACUUM INTO '{path}'"))
                .await?;
        }
    }
    Ok(())
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BALAIKOTA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.compact().try_init()
    };
}

async fn serve(s: config::Resolved) -> anyhow::Result<()> {
    let db = open_db(&s).await?;
    let passwords = Passwords::standard();
    let apps = apps();
    if s.demo {
        let seeded = platform::seed::demo(&db, &passwords).await?;
        if let Some(city) = platform::city::get(&db, "12.75").await? {
            for app in &apps {
                app.seed_demo(&db, &city)
                    .await
                    .map_err(|e| anyhow::anyhow!("demo data of {}: {e:?}", app.name()))?;
            }
        }
        print_demo(&s, seeded);
    }
    let files = FileStore::local(&s.data_dir.join("files"))?;
    let mut notify_settings = s.notify.clone();
    if notify_settings.smtp_url.is_empty() && s.demo {
        // The demo writes its emails as .eml files instead of needing a mail server.
        notify_settings.smtp_url = format!("file://{}", s.data_dir.join("mail").display());
    }
    if notify_settings.public_url == platform::notify::NotifySettings::default().public_url {
        notify_settings.public_url = format!("http://{}:{}", s.bind, s.port);
    }
    let notifier =
        platform::notify::Notifier::new(notify_settings, Arc::new(platform::clock::SystemClock))?;
    eprintln!(
        "Balaikota: email {}, SMS {}",
        if notifier.email_configured() {
            notifier.email_transport()
        } else {
            "not configured".into()
        },
        if notifier.sms_configured() {
            "through the configured gateway"
        } else {
            "not configured"
        }
    );
    let cities = CityCache::default();
    cities.reload(&db).await?;
    let default_city = s
        .city
        .clone()
        .or_else(|| s.demo.then(|| "12.75".to_string()));
    if let Some(code) = &default_city
        && cities.by_code(&db, code).await?.is_none()
    {
        // A city chosen by code that is not set up yet: create it (then the setup page asks for
        // nothing but an admin via `admin create`).
        platform::city::create(
            &db,
            &platform::audit::Actor::cli(),
            platform::city::NewCity {
                code: code.clone(),
                host: None,
                own_nik_only: true,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("city {code}: {e:?}"))?;
        cities.reload(&db).await?;
    }
    let state = AppState {
        db: db.clone(),
        cities,
        passwords,
        files,
        settings: Arc::new(WebSettings {
            default_city,
            secure_cookies: s.secure_cookies,
            map_tiles: s.map_tiles.clone(),
            map_attribution: s.map_attribution.clone(),
        }),
        apps: Arc::new(apps.clone()),
        notifier: notifier.clone(),
    };
    // Deadlines and notifications: fire due ladder rungs, then deliver the outbox. Every
    // instance may run this; firing and delivery are each exactly-once across instances.
    let worker = {
        let (db, cities, notifier) = (db.clone(), state.cities.clone(), notifier.clone());
        let apps = apps.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                match platform::deadlines::tick(&db, &cities, &notifier).await {
                    Ok(r) if r.fired > 0 => {
                        tracing::info!(fired = r.fired, queued = r.queued, "deadline rungs fired")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = ?e, "deadline tick failed"),
                }
                for app in &apps {
                    if let Err(e) = app.tick(&db, &cities, &notifier).await {
                        tracing::warn!(app = app.name(), error = ?e, "app tick failed");
                    }
                }
                match notifier.deliver_due(&db, 500).await {
                    Ok(r) if r.sent + r.failed + r.dead > 0 => tracing::info!(
                        sent = r.sent,
                        failed = r.failed,
                        dead = r.dead,
                        "outbox delivered"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = ?e, "outbox delivery failed"),
                }
            }
        })
    };
    // Housekeeping: expired sessions and old login counters, and SQLite's planner statistics
    // brought up to date; at start, then hourly (idempotent, so several instances on one
    // PostgreSQL may all run it).
    let sweeper = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every.tick().await;
                match platform::sessions::sweep(&db).await {
                    Ok(n) if n > 0 => tracing::info!(rows = n, "swept expired sessions"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = ?e, "session sweep failed"),
                }
                if let Err(e) = db.optimize().await {
                    tracing::warn!(error = ?e, "database statistics not updated");
                }
            }
        })
    };
    let app = platform::web::router(state);
    let addr: SocketAddr = format!("{}:{}", s.bind, s.port)
        .parse()
        .map_err(|e| anyhow::anyhow!("bad address {}:{}: {e}", s.bind, s.port))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    tracing::info!(%addr, "Balaikota is serving");
    eprintln!("Balaikota: http://{addr}/");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown())
    .await?;
    sweeper.abort();
    worker.abort();
    db.close().await;
    Ok(())
}

fn print_demo(s: &config::Resolved, seeded: bool) {
    eprintln!(
        "\nDemo city: Kota Binjai (12.75){}",
        if seeded { ", seeded now" } else { "" }
    );
    eprintln!(
        "Open http://{}:{}/ and log in with (password for all: {}):",
        s.bind,
        s.port,
        platform::seed::DEMO_PASSWORD
    );
    for d in platform::seed::DEMO_LOGINS {
        eprintln!("  {:<40} {}", d.role, d.login);
    }
    eprintln!();
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
