//! Making a city: the first-run setup (a city and its first admin) and the demo of Kota Binjai
//! (its usual agencies, its kecamatan and kelurahan offices, and one account per role).

use crate::accounts::{self, Passwords, StaffInput};
use crate::agencies::{self, AgencyInput};
use crate::audit::Actor;
use crate::city::{self, City, NewCity};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use kernel::FieldErrors;

/// Creates a city and its first admin (the setup page and `admin create`). The admin input is
/// checked before the city is created, so a bad password does not leave a city without admin.
pub async fn setup_city(
    db: &Db,
    pw: &Passwords,
    code: &str,
    host: Option<String>,
    own_nik_only: bool,
    admin: &StaffInput,
) -> AppResult<City> {
    let mut errs = FieldErrors::new();
    if kernel::region::normalize_regency_code(code)
        .and_then(|c| kernel::region::regency(&c))
        .is_none()
    {
        errs.add(
            "city_code",
            if kernel::region::normalize_regency_code(code).is_some() {
                "city_code_unknown"
            } else {
                "city_code_invalid"
            },
        );
    }
    if admin.password.chars().count() < accounts::MIN_PASSWORD {
        errs.push(
            kernel::FieldError::new("password", "password_too_short")
                .with_arg("min", accounts::MIN_PASSWORD),
        );
    }
    if admin.full_name.trim().is_empty() {
        errs.add("full_name", "required");
    }
    let u = admin.username.trim();
    if u.len() < 3
        || !u
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    {
        errs.add("username", "username_invalid");
    }
    errs.into_result().map_err(AppError::Invalid)?;
    let city = match city::create(
        db,
        &Actor::cli(),
        NewCity {
            code: code.into(),
            host,
            own_nik_only,
        },
    )
    .await
    {
        Ok(c) => c,
        Err(AppError::Invalid(e)) if e.get("city_code").is_some_and(|x| x.key == "city_exists") => {
            let c = kernel::region::normalize_regency_code(code).unwrap_or_default();
            city::get(db, &c).await?.ok_or(AppError::NotFound)?
        }
        Err(e) => return Err(e),
    };
    accounts::create_staff(db, pw, &city, &Actor::cli(), admin).await?;
    Ok(city)
}

/// The demo password of every demo account (printed at start and in the README).
pub const DEMO_PASSWORD: &str = "binjai-demo-2026";

/// One demo login per role.
pub struct DemoLogin {
    pub role: &'static str,
    pub login: &'static str,
}

pub const DEMO_LOGINS: [DemoLogin; 9] = [
    DemoLogin {
        role: "admin",
        login: "admin",
    },
    DemoLogin {
        role: "leader (Wali Kota)",
        login: "walikota",
    },
    DemoLogin {
        role: "operator (command center)",
        login: "operator",
    },
    DemoLogin {
        role: "officer (Dinas PUPR)",
        login: "petugas.pupr",
    },
    DemoLogin {
        role: "head (Dinas PUPR)",
        login: "kepala.pupr",
    },
    DemoLogin {
        role: "inspectorate",
        login: "inspektorat",
    },
    DemoLogin {
        role: "head (Sekretaris Daerah)",
        login: "sekda",
    },
    DemoLogin {
        role: "health staff (RSUD Dr. R.M. Djoelham)",
        login: "nakes.rsud",
    },
    DemoLogin {
        role: "citizen (NIK)",
        login: "1275021508900001",
    },
];

/// Binjai's usual agencies (names from `research/binjai-facts.md`; contact data is sample data).
const BINJAI_AGENCIES: &[(&str, &str, &str)] = &[
    (
        "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu",
        "DPMPTSP",
        "dinas",
    ),
    (
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        "Dinas PUPR",
        "dinas",
    ),
    ("Dinas Kesehatan", "Dinkes", "dinas"),
    ("Dinas Perhubungan", "Dishub", "dinas"),
    ("Dinas Lingkungan Hidup", "DLH", "dinas"),
    ("Satuan Polisi Pamong Praja", "Satpol PP", "satuan"),
    ("Dinas Sosial", "Dinsos", "dinas"),
    ("Dinas Komunikasi dan Informatika", "Diskominfo", "dinas"),
    ("Dinas Perumahan dan Kawasan Permukiman", "Perkim", "dinas"),
    (
        "Badan Pengelolaan Keuangan, Pendapatan dan Aset Daerah",
        "BPKPAD",
        "badan",
    ),
    (
        "Badan Perencanaan Pembangunan, Riset dan Inovasi Daerah (Bappeda)",
        "Bappeda",
        "badan",
    ),
    ("Badan Penanggulangan Bencana Daerah", "BPBD", "badan"),
    ("Inspektorat Kota Binjai", "Inspektorat", "inspektorat"),
    ("Sekretariat Daerah Kota Binjai", "Setdako", "setda"),
    ("RSUD Dr. R.M. Djoelham", "RSUD Djoelham", "rumah_sakit"),
    (
        "UPTD Puskesmas Binjai Estate",
        "Pkm Binjai Estate",
        "puskesmas",
    ),
    ("Puskesmas Rambung", "Pkm Rambung", "puskesmas"),
    ("UPTD Puskesmas Jati Makmur", "Pkm Jati Makmur", "puskesmas"),
];

/// Seeds the demo city (Kota Binjai, 12.75) if it is not there yet. Returns false when it was.
pub async fn demo(db: &Db, pw: &Passwords) -> AppResult<bool> {
    if city::get(db, "12.75").await?.is_some() {
        return Ok(false);
    }
    let actor = Actor {
        id: None,
        label: "demo".into(),
    };
    let city = city::create(
        db,
        &actor,
        NewCity {
            code: "12.75".into(),
            host: None,
            own_nik_only: true,
        },
    )
    .await?;
    let mut ids = std::collections::HashMap::new();
    for (name, short, kind) in BINJAI_AGENCIES {
        let slug: String = short
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let a = agencies::create(
            db,
            &city,
            &actor,
            &AgencyInput {
                name: (*name).into(),
                short_name: (*short).into(),
                kind: (*kind).into(),
                email: format!("{slug}@binjaikota.example.id"),
                ..Default::default()
            },
        )
        .await?;
        ids.insert(*short, a.id);
    }
    let villages = city.villages();
    for d in city.districts() {
        let kec = agencies::create(
            db,
            &city,
            &actor,
            &AgencyInput {
                name: format!("Kecamatan {}", d.name),
                short_name: format!("Kec. {}", d.name),
                kind: "kecamatan".into(),
                region_code: d.code.into(),
                ..Default::default()
            },
        )
        .await?;
        for v in villages.iter().filter(|v| v.parent == d.code) {
            agencies::create(
                db,
                &city,
                &actor,
                &AgencyInput {
                    name: format!("Kelurahan {} ({})", v.name, d.name),
                    short_name: format!("Kel. {}", v.name),
                    kind: "kelurahan".into(),
                    parent_id: kec.id.to_string(),
                    region_code: v.code.into(),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    let id_of = |k: &str| ids.get(k).map(|i| i.to_string()).unwrap_or_default();
    let staff = [
        ("admin", "Admin Kota Binjai", "admin", String::new()),
        (
            "walikota",
            "Wali Kota Binjai (demo)",
            "leader",
            String::new(),
        ),
        ("operator", "Operator BCC (demo)", "operator", String::new()),
        (
            "petugas.pupr",
            "Petugas Dinas PUPR (demo)",
            "officer",
            id_of("Dinas PUPR"),
        ),
        (
            "kepala.pupr",
            "Kepala Dinas PUPR (demo)",
            "head",
            id_of("Dinas PUPR"),
        ),
        (
            "inspektorat",
            "Inspektorat (demo)",
            "inspectorate",
            String::new(),
        ),
        (
            "sekda",
            "Sekretaris Daerah (demo)",
            "head",
            id_of("Setdako"),
        ),
        (
            "nakes.rsud",
            "Petugas RSUD Djoelham (demo)",
            "health_staff",
            id_of("RSUD Djoelham"),
        ),
    ];
    let mut staff_ids = std::collections::HashMap::new();
    for (n, (username, name, role, agency)) in staff.into_iter().enumerate() {
        let acc = accounts::create_staff(
            db,
            pw,
            &city,
            &actor,
            &StaffInput {
                username: username.into(),
                full_name: name.into(),
                role: role.into(),
                agency_id: agency,
                password: DEMO_PASSWORD.into(),
                // Sample contact data, so the demo's outbox shows every channel.
                email: format!("{username}@binjaikota.example.id"),
                phone: format!("0812-7500-{:04}", n + 1),
                ..Default::default()
            },
        )
        .await?;
        staff_ids.insert(username, acc.id);
    }
    accounts::register_citizen(
        db,
        pw,
        &city,
        &accounts::RegisterInput {
            nik: "1275021508900001".into(),
            full_name: "Budi Santoso (warga demo)".into(),
            phone: "0812-3456-7890".into(),
            email: "budi@warga.example.id".into(),
            password: DEMO_PASSWORD.into(),
            password_confirm: None,
        },
    )
    .await?;
    demo_deadlines(
        db,
        &city,
        ids.get("Dinas PUPR").copied(),
        staff_ids.get("petugas.pupr").copied(),
    )
    .await?;
    Ok(true)
}

/// Three sample deadlines, so the overview, the ladders and the outbox show real entries: one
/// long overdue (every rung fires on the first tick), one nearly due, one just started.
async fn demo_deadlines(
    db: &Db,
    city: &City,
    agency: Option<uuid::Uuid>,
    assignee: Option<uuid::Uuid>,
) -> AppResult<()> {
    let cal = crate::calendar::load(db.conn(), city).await?;
    let now = chrono::Utc::now();
    // The instant `hours` working hours before now.
    let back = |hours: i64| {
        let mut t = now;
        for _ in 0..(24 * 60) {
            if cal.working_time_between(t, now, &[]) >= chrono::Duration::hours(hours) {
                break;
            }
            t -= chrono::Duration::hours(1);
        }
        t
    };
    let samples = [
        (
            "perizinan.siup",
            "SIUP CV Maju Bersama (contoh)",
            "Verifikasi berkas",
            back(60),
        ),
        (
            "perizinan.siup",
            "SIUP Toko Sinar Jaya (contoh)",
            "Verifikasi berkas",
            back(20),
        ),
        (
            "masyarakat.tindak_lanjut",
            "Lampu jalan mati di Jl. Sudirman (contoh)",
            "Tindak lanjut",
            now,
        ),
    ];
    let tx = db.tx().await?;
    for (i, (kind, title, stage, at)) in samples.into_iter().enumerate() {
        crate::deadlines::start(
            &tx,
            city,
            at,
            crate::deadlines::NewDeadline {
                app: "contoh".into(),
                kind: kind.into(),
                subject_type: "contoh".into(),
                subject_id: format!("contoh-{}", i + 1),
                stage: stage.into(),
                title: title.into(),
                link: String::new(),
                agency_id: agency,
                assignee_id: assignee,
                requester_id: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
