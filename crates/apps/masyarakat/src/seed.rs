//! The demo's complaint categories and Binjai's box. Which agency handles which category is
//! sample data: Binjai's own assignment is not in the research.

use platform::agencies::{self, AgencyFilter};
use platform::audit::Actor;
use platform::city::City;
use platform::db::Db;
use platform::error::AppResult;

use crate::store::{self, CategoryInput, Question, Settings};

pub async fn demo(db: &Db, city: &City) -> AppResult<()> {
    if !store::categories(db.conn(), city, false).await?.is_empty() {
        return Ok(());
    }
    let actor = Actor {
        id: None,
        label: "demo".into(),
    };
    let all = agencies::list(db, city, &AgencyFilter::default()).await?;
    let by = |short: &str| all.iter().find(|a| a.short_name == short).map(|a| a.id);
    let q = |code: &str, id: &str, en: &str| Question {
        code: code.into(),
        label_id: id.into(),
        label_en: en.into(),
        kind: "text".into(),
        required: false,
        options: vec![],
    };
    let cats = [
        (
            "lampu-jalan",
            "Lampu jalan mati",
            "Streetlight out",
            "Dinas PUPR",
            vec![q("tiang", "Nomor tiang (jika ada)", "Pole number (if any)")],
        ),
        (
            "jalan-rusak",
            "Jalan rusak atau berlubang",
            "Damaged road or pothole",
            "Dinas PUPR",
            vec![],
        ),
        (
            "drainase",
            "Saluran air tersumbat atau banjir",
            "Blocked drain or flooding",
            "Dinas PUPR",
            vec![],
        ),
        (
            "sampah",
            "Sampah menumpuk",
            "Rubbish piling up",
            "DLH",
            vec![],
        ),
        (
            "ketertiban",
            "Ketertiban umum dan pedagang kaki lima",
            "Public order and street vendors",
            "Satpol PP",
            vec![],
        ),
        ("lainnya", "Lainnya", "Other", "", vec![]),
    ];
    for (i, (code, id, en, agency, questions)) in cats.into_iter().enumerate() {
        store::create_category(
            db,
            city,
            &actor,
            &CategoryInput {
                code: code.into(),
                name_id: id.into(),
                name_en: en.into(),
                agency_id: by(agency),
                questions,
                sort: i32::try_from(i).unwrap_or(0),
                ..Default::default()
            },
        )
        .await?;
    }
    // Kota Binjai lies around 3.55–3.67 N, 98.44–98.54 E (a box a little larger than the city).
    store::save_settings(
        db,
        city,
        &actor,
        Settings {
            min_lat: 3.54,
            min_lon: 98.43,
            max_lat: 3.68,
            max_lon: 98.55,
            duplicate_radius_m: 150,
            duplicate_days: 30,
        },
    )
    .await?;
    let now = chrono::Utc::now();
    for (title, body) in [
        (
            "Minta foto lebih jelas",
            "Terima kasih atas laporan {kode}. Mohon kirim foto yang lebih jelas dan patokan lokasi terdekat agar petugas mudah menemukannya.",
        ),
        (
            "Dijadwalkan minggu ini",
            "Laporan {kode} ({kategori}) sudah dijadwalkan oleh {opd} dan dikerjakan minggu ini.",
        ),
        (
            "Sudah diperbaiki",
            "Terima kasih. {kategori} yang Anda laporkan sudah diperbaiki oleh {opd}. Silakan periksa foto sesudahnya dan beri konfirmasi.",
        ),
    ] {
        store::add_reply(db, city, &actor, title, body, now).await?;
    }
    Ok(())
}

/// A few open sample complaints around the city (marked *contoh*), so the map, the statistics
/// and the inbox are not empty on first look. Places are near each kecamatan's approximate point.
/// Filed once: a city that has reports already gets none.
pub async fn sample_reports(db: &Db, city: &City) -> AppResult<()> {
    if store::count(db, city).await? > 0 {
        return Ok(());
    }
    let now = chrono::Utc::now();
    let Some(reporter) = platform::accounts::list(
        db,
        city,
        &platform::accounts::AccountFilter {
            q: None,
            role: Some("citizen".into()),
        },
        1,
    )
    .await?
    .into_iter()
    .next() else {
        return Ok(());
    };
    let samples = [
        (
            "lampu-jalan",
            "Lampu jalan mati di depan masjid, gelap sejak tiga malam.",
            (3.6431, 98.4991),
            "12.75.01.1001",
            "Jl. Gatot Subroto",
        ),
        (
            "jalan-rusak",
            "Jalan berlubang besar, sudah dua pengendara motor jatuh.",
            (3.6012, 98.4790),
            "12.75.02.1006",
            "Jl. Sudirman",
        ),
        (
            "sampah",
            "Sampah menumpuk di pinggir jalan dekat pasar, belum diangkut seminggu.",
            (3.6003, 98.4801),
            "12.75.02.1007",
            "Pasar Tavip",
        ),
        (
            "drainase",
            "Parit tersumbat, air meluap ke jalan setiap hujan.",
            (3.6190, 98.4680),
            "12.75.03.1003",
            "Jl. Danau Toba",
        ),
        (
            "ketertiban",
            "Pedagang berjualan di trotoar sampai menutup jalan pejalan kaki.",
            (3.5968, 98.5170),
            "12.75.04.1001",
            "Jl. Soekarno-Hatta",
        ),
        (
            "lampu-jalan",
            "Dua lampu jalan berkedip dan padam di tikungan.",
            (3.5655, 98.4720),
            "12.75.05.1007",
            "Jl. Jamin Ginting",
        ),
        (
            "jalan-rusak",
            "Aspal mengelupas di depan SD, licin saat hujan.",
            (3.6420, 98.4960),
            "12.75.01.1004",
            "Jl. Perintis Kemerdekaan",
        ),
        (
            "sampah",
            "Tempat sampah umum rusak dan sampah berserakan.",
            (3.5640, 98.4700),
            "12.75.05.1002",
            "Jl. Samanhudi",
        ),
    ];
    for (cat, text, at, kel, address) in samples {
        store::file_sample(
            db,
            city,
            reporter.id,
            cat,
            &format!("{text} (contoh)"),
            at,
            kel,
            address,
            now,
        )
        .await?;
    }
    Ok(())
}
