//! The `balaikota` binary as an operator uses it from the shell.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::{Command, Output};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_balaikota"));
    // settings come only from the flags of each test
    for (k, _) in std::env::vars() {
        if k.starts_with("BALAIKOTA_") {
            c.env_remove(k);
        }
    }
    c
}

fn run(args: &[&str], dir: &std::path::Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .env("BALAIKOTA_ADMIN_PASSWORD", "rahasia-123")
        .output()
        .expect("run balaikota")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn admin_create_then_audit_verify_catches_a_row_edited_behind_the_apps_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let data_s = data.to_string_lossy().to_string();
    let o = run(
        &[
            "admin",
            "create",
            "--username",
            "admin",
            "--name",
            "Admin Palu",
            "--city",
            "72.71",
            "--data-dir",
            &data_s,
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Kota Palu (72.71)"), "{}", text(&o));
    // a second city in the same deployment
    let o = run(
        &[
            "admin",
            "create",
            "--username",
            "admin.binjai",
            "--city",
            "1275",
            "--data-dir",
            &data_s,
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", text(&o));

    let o = run(&["audit", "verify", "--data-dir", &data_s], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Audit log intact: 12 entries in 2 chain(s)"),
        "{}",
        text(&o)
    );

    // edit the newest Palu entry directly in the database file
    let db = data.join("balaikota.db");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let seq: i64 = rt.block_on(async {
        use sea_orm::ConnectionTrait;
        let db = platform::db::Db::connect(&platform::db::DbTarget::Sqlite {
            path: db.clone(),
            create: false,
        })
        .await
        .expect("open");
        let row = db
            .conn()
            .query_one_raw(sea_orm::Statement::from_string(
                db.db_backend(),
                "SELECT MAX(seq) AS s FROM audit_log WHERE city_code = '72.71'",
            ))
            .await
            .expect("q")
            .expect("row");
        let seq: i64 = row.try_get("", "s").expect("seq");
        db.conn()
            .execute_unprepared(&format!(
                "UPDATE audit_log SET after = '{{\"role\":\"leader\"}}' WHERE seq = {seq}"
            ))
            .await
            .expect("tamper");
        db.close().await;
        seq
    });
    let o = run(&["audit", "verify", "--data-dir", &data_s], dir.path());
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("BROKEN in city 72.71")
            && out.contains(&format!("entry #{seq}"))
            && out.contains("edited"),
        "{out}"
    );

    // bad input to admin create: clear messages, exit 2, nothing created
    let o = bin()
        .args([
            "admin",
            "create",
            "--username",
            "X Y",
            "--city",
            "99.99",
            "--data-dir",
            &data_s,
        ])
        .env("BALAIKOTA_ADMIN_PASSWORD", "pendek")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("city_code: This code is not in the Kemendagri region data."),
        "{out}"
    );
    assert!(
        out.contains("password: The password must have at least 8 characters."),
        "{out}"
    );

    // backup makes a readable copy; it refuses to overwrite
    let copy = dir.path().join("copy.db");
    let copy_s = copy.to_string_lossy().to_string();
    let o = run(&["backup", &copy_s, "--data-dir", &data_s], dir.path());
    assert!(o.status.success(), "{}", text(&o));
    assert!(copy.metadata().expect("copy").len() > 10_000);
    let o = run(&["backup", &copy_s, "--data-dir", &data_s], dir.path());
    assert!(!o.status.success() && text(&o).contains("exists already"));
    let o = run(
        &[
            "audit",
            "verify",
            "--database-url",
            &format!("sqlite://{copy_s}"),
        ],
        dir.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the copy carries the tampered row too: {}",
        text(&o)
    );
}

#[test]
fn bad_database_urls_stop_with_a_clear_message_and_create_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let cases = [
        ("mysql://root:secret@localhost/x", "is not understood"),
        ("sqlite://typo/balaikota.db", "does not exist"),
        (
            "sqlite://balaikota-typo.db",
            "does not exist; check the path",
        ),
        ("postgres://", "malformed"),
        (
            "postgres://nobody@127.0.0.1:1/none",
            "cannot open the database (PostgreSQL nobody@127.0.0.1:1/none)",
        ),
    ];
    for (url, want) in cases {
        let o = run(&["migrate", "--database-url", url], dir.path());
        assert!(!o.status.success(), "{url}");
        let out = text(&o);
        assert!(out.contains(want), "{url}: {out}");
        assert!(!out.contains("secret"), "password shown: {out}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert!(left.is_empty(), "nothing may be created: {left:?}");
}

#[test]
fn openapi_prints_the_document_and_help_explains() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = run(&["openapi"], dir.path());
    assert!(o.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert!(doc["paths"]["/api/v1/register"].is_object());
    let o = run(&["serve", "--help"], dir.path());
    let out = text(&o);
    for flag in [
        "--demo",
        "--port",
        "--bind",
        "--data-dir",
        "--database-url",
        "--city",
        "BALAIKOTA_PORT",
    ] {
        assert!(out.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn serve_city_72_71_is_kota_palu_with_its_own_kecamatan() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    // port and data folder from balaikota.toml, the city from the environment
    std::fs::write(
        dir.path().join("balaikota.toml"),
        format!("port = {port}\ndata_dir = \"palu-data\"\n"),
    )
    .expect("toml");
    let mut child = bin()
        .arg("serve")
        .env("BALAIKOTA_CITY", "7271")
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve");
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let result = rt.block_on(async {
        let base = format!("http://127.0.0.1:{port}");
        platform::install_tls();
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let home = client.get(format!("{base}/")).send().await?.text().await?;
        let regions: serde_json::Value = client
            .get(format!("{base}/api/v1/regions"))
            .send()
            .await?
            .json()
            .await?;
        Ok::<_, reqwest::Error>((home, regions))
    });
    let _ = child.kill();
    let _ = child.wait();
    let (home, regions) = result.expect("requests");
    assert!(
        home.contains("Layanan warga Kota Palu") && home.contains("8 kecamatan dan 46 kelurahan"),
        "{home}"
    );
    assert_eq!(regions["city_code"], "72.71");
    assert_eq!(regions["districts"].as_array().map(Vec::len), Some(8));
    assert!(
        dir.path().join("palu-data/balaikota.db").exists(),
        "data_dir from balaikota.toml"
    );
    // an unknown key in the file is refused, with the file named
    std::fs::write(dir.path().join("balaikota.toml"), "prot = 8080\n").expect("toml");
    let o = run(&["migrate"], dir.path());
    assert!(
        !o.status.success()
            && text(&o).contains("balaikota.toml")
            && text(&o).contains("unknown field"),
        "{}",
        text(&o)
    );
}

/// The bench's baseline for the submit ratio writes, raw, the very rows a submission writes:
/// each copy is a whole complaint (report, timeline line, deadline, photo, three receipts and
/// an audit entry), and the ratio is printed against it.
#[test]
fn the_bench_compares_submissions_with_the_same_rows_written_raw() {
    let dir = tempfile::tempdir().expect("tmp");
    let o = bin()
        .args([
            "bench",
            "--reports",
            "200",
            "--submits",
            "24",
            "--clients",
            "3",
            "--samples",
            "2",
            "--keep",
        ])
        .current_dir(dir.path())
        .env("TMPDIR", dir.path())
        .output()
        .expect("run bench");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    let ratio = out
        .lines()
        .find(|l| l.starts_with("| ratio to the complaint's rows raw (target ≥ 50 %) | "))
        .unwrap_or_else(|| panic!("no ratio line: {out}"));
    let pct: f64 = ratio
        .trim_end_matches(" % |")
        .rsplit("| ")
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{ratio}"));
    assert!(pct > 0.0, "{ratio}");
    // With the table filled, the raw rows are written again and the ratio printed anew.
    assert!(
        out.contains("| ratio to the complaint's rows raw, with the complaints loaded | "),
        "{out}"
    );
    let kept = out
        .lines()
        .find_map(|l| l.strip_prefix("The database is kept in "))
        .map(|p| std::path::PathBuf::from(p.trim_end_matches('.')))
        .unwrap_or_else(|| panic!("not kept: {out}"));
    let db = kept.join("balaikota.db");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let conn = rt
        .block_on(sea_orm::Database::connect(format!(
            "sqlite://{}",
            db.display()
        )))
        .expect("open the kept database");
    let count = |sql: &str| -> i64 {
        use sea_orm::ConnectionTrait;
        rt.block_on(conn.query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            sql,
        )))
        .expect(sql)
        .expect(sql)
        .try_get_by_index(0)
        .expect(sql)
    };
    let copies = count("SELECT count(*) FROM mas_reports WHERE code LIKE 'RAW-%'");
    assert!(copies >= 24, "{copies} raw complaints");
    let per_copy = [
        (
            "SELECT count(*) FROM mas_events e JOIN mas_reports r ON r.id = e.report_id WHERE r.code LIKE 'RAW-%'",
            1,
        ),
        (
            "SELECT count(*) FROM mas_photos p JOIN mas_reports r ON r.id = p.report_id WHERE r.code LIKE 'RAW-%'",
            1,
        ),
        (
            "SELECT count(*) FROM sla_clocks WHERE subject_id LIKE 'RAW-%'",
            1,
        ),
        (
            "SELECT count(*) FROM outbox WHERE source_id LIKE 'RAW-%' AND idempotency_key LIKE 'mas:RAW-%'",
            3,
        ),
        (
            "SELECT count(*) FROM audit_log WHERE subject_id LIKE 'RAW-%' AND action = 'masyarakat.submit'",
            1,
        ),
    ];
    for (sql, n) in per_copy {
        assert_eq!(count(sql), copies * n, "{sql}");
    }
    // The counter moved on once for each complaint filed and each raw copy.
    let filed = count("SELECT count(*) FROM mas_reports WHERE code LIKE 'ADU-%'");
    assert_eq!(count("SELECT last FROM mas_counters"), filed + copies);
}
