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
    .await
}
