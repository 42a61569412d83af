//! e-Masyarakat through HTTP as browsers use it, on both backends: multipart reports with field
//! errors, privacy on the public page and photos, who may act, and CSRF.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use platform::accounts::{self, Passwords, RegisterInput, StaffInput};
use platform::agencies::{self, AgencyInput};
use platform::audit::Actor;
use platform::city::{self, NewCity};
use platform::db_test;
use platform::notify::{Notifier, NotifySettings};
use platform::testkit::{TestApp, TestDb};
use reqwest::StatusCode;

const DAYS: [&str; 7] = [
    "Senin, ", "Selasa, ", "Rabu, ", "Kamis, ", "Jumat, ", "Sabtu, ", "Minggu, ",
];

fn jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

async fn app(t: &TestDb) -> (TestApp, uuid::Uuid) {
    t.migrate(&masyarakat::migrations()).await;
    let city = city::create(
        &t.db,
        &Actor::cli(),
        NewCity {
            code: "12.75".into(),
            host: None,
            own_nik_only: true,
        },
    )
    .await
    .unwrap();
    let pw = Passwords::fast_for_tests();
    for (short, name) in [
        ("Dinas PUPR", "Dinas Pekerjaan Umum dan Penataan Ruang"),
        ("DLH", "Dinas Lingkungan Hidup"),
        ("Satpol PP", "Satuan Polisi Pamong Praja"),
    ] {
        agencies::create(
            &t.db,
            &city,
            &Actor::cli(),
            &AgencyInput {
                name: name.into(),
                short_name: short.into(),
                kind: "dinas".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let all = agencies::list(&t.db, &city, &Default::default())
        .await
        .unwrap();
    let pupr = all
        .iter()
        .find(|a| a.short_name == "Dinas PUPR")
        .unwrap()
        .id;
    let dlh = all.iter().find(|a| a.short_name == "DLH").unwrap().id;
    for (u, role, ag) in [
        ("admin", "admin", None),
        ("operator", "operator", None),
        ("petugas.pupr", "officer", Some(pupr)),
        ("petugas.dlh", "officer", Some(dlh)),
        ("walikota", "leader", None),
    ] {
        accounts::create_staff(
            &t.db,
            &pw,
            &city,
            &Actor::cli(),
            &StaffInput {
                username: u.into(),
                full_name: format!("Staf {u}"),
                role: role.into(),
                agency_id: ag.map(|a| a.to_string()).unwrap_or_default(),
                password: "rahasia-123".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    for (nik, phone) in [
        ("1275021508900001", "0812-3456-7890"),
        ("1275025508900002", "0812-3456-7891"),
    ] {
        accounts::register_citizen(
            &t.db,
            &pw,
            &city,
            &RegisterInput {
                nik: nik.into(),
                full_name: format!("Warga {nik}"),
                phone: phone.into(),
                email: String::new(),
                password: "rahasia-123".into(),
                password_confirm: None,
            },
        )
        .await
        .unwrap();
    }
    masyarakat::seed::demo(&t.db, &city).await.unwrap();
    let n = Notifier::new(
        NotifySettings::default(),
        Arc::new(platform::clock::SystemClock),
    )
    .unwrap();
    let a = TestApp::spawn_with_apps(
        t,
        Some("12.75"),
        n,
        vec![Arc::new(masyarakat::Masyarakat::new())],
    )
    .await;
    (a, pupr)
}

/// The base fields with some replaced.
fn with<'a>(base: &[(&'a str, &'a str)], extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v: Vec<(&str, &str)> = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .copied()
        .collect();
    v.extend_from_slice(extra);
    v
}

/// An API token of the demo citizen (NIK 1275021508900001), as the mobile app would hold.
async fn citizen_token(t: &TestDb) -> String {
    let c = platform::city::get(&t.db, "12.75").await.unwrap().unwrap();
    let acc = platform::accounts::list(&t.db, &c, &Default::default(), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.nik.as_deref() == Some("1275021508900001"))
        .unwrap();
    platform::sessions::create_token(&t.db, &c, &acc, "hp")
        .await
        .unwrap()
        .0
}

/// A photo uploaded through the API (`POST /api/v1/files`); its answer (`id`, …).
async fn upload(http: &reqwest::Client, app: &TestApp, token: &str) -> serde_json::Value {
    http.post(app.url("/api/v1/files"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(jpeg()).file_name("a.jpg"),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn code_of(r: &reqwest::Response) -> String {
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    loc.split("/pengaduan/")
        .nth(1)
        .unwrap_or("")
        .split('?')
        .next()
        .unwrap_or("")
        .to_string()
}

db_test!(
    reports_through_the_browser_with_privacy_and_roles,
    async |t: &TestDb| {
        let (app, pupr) = app(t).await;
        let citizen = app.browser();
        citizen.login("", "1275021508900001", "rahasia-123").await;
        let base = [
            ("category", "lampu-jalan"),
            (
                "description",
                "Lampu jalan di depan SD Negeri 3 mati sejak seminggu.",
            ),
            ("lat", "3.6001"),
            ("lon", "98.4852"),
        ];

        // Not an image, and too many photos: refused by field, nothing saved.
        let r = citizen
            .post_multipart(
                "/lapor",
                &base,
                &[("photo", "surat.pdf", b"%PDF-1.4 nope".to_vec())],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("Berkas ini bukan foto."));
        let four: Vec<(&str, &str, Vec<u8>)> = (0..4).map(|_| ("photo", "a.jpg", jpeg())).collect();
        let r = citizen.post_multipart("/lapor", &base, &four).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        assert!(page.contains("Paling banyak 3 foto."));
        // The three kept photos come back as hidden fields (no re-upload needed).
        assert_eq!(page.matches("name=\"photo_id\"").count(), 3);
        let r = citizen
            .post_multipart(
                "/lapor",
                &with(&base, &[("lat", "3.9")]),
                &[("photo", "a.jpg", jpeg())],
            )
            .await;
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Lokasi ini di luar wilayah kota.")
        );
        // Without CSRF: refused.
        let r = citizen
            .client
            .post(app.url("/lapor"))
            .multipart(reqwest::multipart::Form::new().text("category", "lampu-jalan"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);

        // Anonymous report: accepted.
        let r = citizen
            .post_multipart(
                "/lapor",
                &with(&base, &[("privacy", "anonymous")]),
                &[("photo", "a.jpg", jpeg())],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let code = code_of(&r);
        assert!(code.starts_with("ADU-"), "{code}");
        // The reporter lands on a confirmation: the number large, what happens next and by
        // when, and where the receipt went.
        let sent = format!("/pengaduan/{code}?baru=1");
        assert!(
            r.headers()["location"].to_str().unwrap().ends_with(&sent),
            "{:?}",
            r.headers()["location"]
        );
        let page = citizen.get(&sent).await.text().await.unwrap();
        assert!(page.contains("Laporan Anda terkirim"), "{page}");
        assert!(page.contains(&format!("<p class=\"ticket\">{code}</p>")));
        let by = page
            .split("Petugas kota memeriksa laporan Anda paling lambat ")
            .nth(1)
            .expect("the date the check is due")
            .split('.')
            .next()
            .unwrap();
        assert!(
            DAYS[..5].iter().any(|d| by.starts_with(d)),
            "a working day, in words: {by}"
        );
        assert!(
            page.contains(
                "Tanda terima sudah dikirim lewat: Notifikasi di aplikasi (lonceng).</p>"
            ),
            "in-app only: this citizen gave no email, and no SMS gateway is set: {page}"
        );
        // Anyone else at that address sees the report, not the reporter's confirmation.
        let other = app.browser().get(&sent).await.text().await.unwrap();
        assert!(other.contains(&code) && !other.contains("Laporan Anda terkirim"));
        let page = citizen
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains("Laporan Anda terkirim"), "once, on arrival");
        assert!(
            page.contains("Warga 1275021508900001"),
            "the reporter sees their own name"
        );
        let photo_path = page
            .split(&format!("/pengaduan/{code}/foto/"))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();

        // The public sees the report and the photo, never the name.
        let anon = app.browser();
        let page = anon
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Lampu jalan mati") && !page.contains("Warga 1275021508900001"));
        // The timeline in words, as a citizen reads dates (UX.md): "Senin, 23 November 2026, 14.05 WIB".
        let first = page
            .split("<ol class=\"timeline\"><li><span class=\"muted\">")
            .nth(1)
            .and_then(|x| x.split("</span>").next())
            .unwrap_or_default();
        assert!(
            DAYS.iter().any(|d| first.starts_with(d)) && first.ends_with(" WIB"),
            "{first}"
        );
        // What happens next, and by when.
        assert!(
            page.contains("Tahap sekarang")
                && page.contains("Verifikasi (3 hari kerja) · paling lambat")
                && page.contains("Sesuai jadwal"),
            "{page}"
        );
        assert_eq!(
            anon.get(&format!("/pengaduan/{code}/foto/{photo_path}"))
                .await
                .status(),
            StatusCode::OK
        );

        // The verifier sends it to PUPR; the officer of DLH may not act or even open it.
        let op = app.browser();
        op.login("", "operator", "rahasia-123").await;
        let page = op
            .get(&format!("/staf/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Warga 1275021508900001"),
            "the city desk knows the anonymous reporter"
        );
        // Each action says beforehand what the reporter will be told, as it will be sent.
        assert!(
            page.contains("Pelapor akan menerima pesan ini")
                && page.contains(&format!("Pengaduan {code} sekarang: Diteruskan ke OPD."))
                && page.contains(&format!("Pengaduan {code}: mohon keterangan Anda"))
                && page.contains(r#"data-note-of="note-hold""#),
            "{page}"
        );
        let r = op
            .post_multipart(
                &format!("/staf/pengaduan/{code}/aksi"),
                &[
                    ("action", "dispose"),
                    ("agency", &pupr.to_string()),
                    ("note", "Tiang di depan SD, mohon dicek minggu ini."),
                ],
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // The note for the agency and the reporter reaches the report's page.
        let page = citizen
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Tiang di depan SD, mohon dicek minggu ini."),
            "{page}"
        );
        let dlh = app.browser();
        dlh.login("", "petugas.dlh", "rahasia-123").await;
        assert_eq!(
            dlh.get(&format!("/staf/pengaduan/{code}")).await.status(),
            StatusCode::FORBIDDEN
        );
        let r = dlh
            .post_multipart(
                &format!("/staf/pengaduan/{code}/aksi"),
                &[("action", "start")],
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let officer = app.browser();
        officer.login("", "petugas.pupr", "rahasia-123").await;
        let page = officer
            .get(&format!("/staf/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("(anonim)") && !page.contains("Warga 1275021508900001"),
            "the agency does not learn who"
        );
        // The officer takes it on: the reporter learns who handles it, the public does not.
        let me = page
            .split(r#"<select id="assignee" name="assignee">"#)
            .nth(1)
            .and_then(|s| s.split("</select>").next())
            .and_then(|s| {
                s.split(r#"<option value=""#)
                    .find(|o| o.contains(">Staf petugas.pupr<"))
            })
            .and_then(|o| o.split('"').next())
            .expect("the officer is offered")
            .to_string();
        let r = officer
            .post_multipart(
                &format!("/staf/pengaduan/{code}/aksi"),
                &[("action", "assign"), ("assignee", &me)],
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let mine = citizen
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            mine.contains("Petugas yang menangani</dt><dd>Staf petugas.pupr"),
            "{mine}"
        );
        let public = app
            .browser()
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(!public.contains("Staf petugas.pupr"), "{public}");
        // The API says the same to each.
        let api = async |b: &platform::testkit::Browser| {
            b.get(&format!("/api/v1/pengaduan/{code}"))
                .await
                .json::<serde_json::Value>()
                .await
                .unwrap()
        };
        let theirs = api(&citizen).await;
        assert_eq!(theirs["officer_name"], "Staf petugas.pupr", "{theirs}");
        assert_eq!(
            theirs["agency_name"],
            "Dinas Pekerjaan Umum dan Penataan Ruang"
        );
        let anyone = api(&app.browser()).await;
        assert!(
            anyone["officer_name"].is_null() && anyone["report"]["assignee_id"].is_null(),
            "{anyone}"
        );
        assert_eq!(
            anyone["agency_name"],
            "Dinas Pekerjaan Umum dan Penataan Ruang"
        );
        assert!(
            page.contains("Diperbaiki langsung: Pelapor akan menerima pesan ini")
                && page.contains("Apakah masalahnya sudah beres? Beri tahu kami paling lambat")
                && page.contains(r#"data-note-of="close-note""#)
                && page.contains("Ditolak: Pelapor akan menerima pesan ini"),
            "{page}"
        );
        // Closing without a closure type: refused, state unchanged.
        let r = officer
            .post_multipart(
                &format!("/staf/pengaduan/{code}/aksi"),
                &[("action", "close"), ("note", "Sudah.")],
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("Pilih cara penyelesaian."));
        let r = officer
            .post_multipart(
                &format!("/staf/pengaduan/{code}/aksi"),
                &[
                    ("action", "close"),
                    ("closure", "fixed_directly"),
                    ("note", "Lampu sudah diganti."),
                ],
                &[("after_photo_file", "after.jpg", jpeg())],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = anon
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Selesai diperbaiki") && page.contains("Lampu sudah diganti."));
        assert!(!page.contains("Tahap sekarang"), "closed: no stage runs");

        // A confidential report is not public at all.
        let r = citizen
            .post_multipart(
                "/lapor",
                &with(&base, &[("privacy", "confidential")]),
                &[("photo", "a.jpg", jpeg())],
            )
            .await;
        let secret = code_of(&r);
        assert_eq!(
            anon.get(&format!("/pengaduan/{secret}")).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            citizen.get(&format!("/pengaduan/{secret}")).await.status(),
            StatusCode::OK
        );
        // Another citizen supports the first one... no: it is closed. The second report is open.
        let neighbour = app.browser();
        neighbour.login("", "1275025508900002", "rahasia-123").await;
        let r = neighbour
            .post_form(&format!("/pengaduan/{code}/dukung"), &[])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(r.text().await.unwrap().contains("sudah ditutup"));
        let mine = citizen.get("/pengaduan/saya").await.text().await.unwrap();
        assert!(mine.contains(&code) && mine.contains(&secret));
        // The fixed one waits for the reporter's confirmation; the new one does not.
        assert_eq!(mine.matches("Perlu tanggapan Anda").count(), 1, "{mine}");
        let flagged = mine.split("Perlu tanggapan Anda").nth(1).unwrap();
        assert!(flagged.split("</li>").next().unwrap().contains(&code));

        // The evaluation: for the city desk (and leaders), not for citizens.
        assert_eq!(
            citizen.get("/evaluasi").await.status(),
            StatusCode::FORBIDDEN
        );
        let page = op.get("/evaluasi?per=kategori").await.text().await.unwrap();
        assert!(
            page.contains("Evaluasi bulanan pengaduan") && page.contains("<svg class=\"chart\""),
            "evaluation page"
        );
        assert!(page.contains("Lampu jalan mati"));
        let r = op.get("/evaluasi.csv?per=opd").await;
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = r.text().await.unwrap();
        assert!(csv.starts_with("group,received,"));
        assert!(csv.contains("\"Jumlah\",2,1,1,1,1,1,"), "{csv}");
        // The PDF to print and sign: a real PDF with the table's groups and total.
        let r = op.get("/evaluasi.pdf?per=opd").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "application/pdf");
        let pdf = r.bytes().await.unwrap();
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.starts_with("%PDF-1.4") && text.ends_with("%%EOF\n"));
        assert!(text.contains("(Jumlah) Tj"), "the total row");
        assert!(text.contains("Dinas PUPR"), "a group");
        assert_eq!(
            citizen.get("/evaluasi.pdf").await.status(),
            StatusCode::FORBIDDEN
        );
    }
);

db_test!(
    the_json_api_submits_and_refuses_with_stable_keys,
    async |t: &TestDb| {
        let (app, _) = app(t).await;
        let token = citizen_token(t).await;
        let http = reqwest::Client::new();
        let cats: serde_json::Value = http
            .get(app.url("/api/v1/pengaduan/kategori"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            cats.as_array()
                .unwrap()
                .iter()
                .any(|c| c["code"] == "lampu-jalan")
        );
        let up = upload(&http, &app, &token).await;
        let body = serde_json::json!({"category": "lampu-jalan", "description": "Lampu jalan mati di gang masjid.", "lat": "3.6001", "lon": "98.4852", "photos": []});
        let r = http
            .post(app.url("/api/v1/pengaduan"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e: serde_json::Value = r.json().await.unwrap();
        assert_eq!(e["error"], "validation_failed");
        assert_eq!(e["fields"]["photos"]["key"], "photo_required");
        let r = http
            .post(app.url("/api/v1/pengaduan"))
            .bearer_auth(&token)
            .body("{")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let mut ok = body.clone();
        ok["photos"] = serde_json::json!([up["id"]]);
        let r = http
            .post(app.url("/api/v1/pengaduan"))
            .bearer_auth(&token)
            .json(&ok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let rep: serde_json::Value = r.json().await.unwrap();
        let code = rep["code"].as_str().unwrap().to_string();
        assert!(rep.get("reporter_id").is_none());
        let mine: serde_json::Value = http
            .get(app.url("/api/v1/pengaduan/saya"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(mine[0]["code"], code.as_str());
        let one: serde_json::Value = http
            .get(app.url(&format!("/api/v1/pengaduan/{code}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(one["timeline"][0]["kind"], "submit");
        assert_eq!(one["current_step"]["stage"], "verifikasi");
        assert_eq!(one["current_step"]["state"], "on_track");
        assert!(one["current_step"]["due_at"].is_string(), "{one}");
        assert_eq!(
            one["timeline"][0]["actor"], "",
            "the public does not learn who"
        );
        let r = http
            .post(app.url(&format!("/api/v1/pengaduan/{code}/aksi")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"action": "confirm"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["fields"]["action"]["key"],
            "transition_not_allowed"
        );
        let doc: serde_json::Value = http
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(doc["paths"]["/api/v1/pengaduan"]["post"].is_object());
        let near = &doc["paths"]["/api/v1/pengaduan/sekitar"]["get"];
        assert_eq!(near["parameters"][1]["name"], "lat");
        assert_eq!(near["parameters"][1]["in"], "query");
        assert_eq!(
            near["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ApiError"
        );
        assert!(
            doc["paths"]["/api/v1/pengaduan/{code}/dukung"]["post"]["responses"]["404"].is_object()
        );
        // The nearby search wants a category and a place on Earth.
        for q in [
            "lat=3.6&lon=98.5",
            "kategori=lampu-jalan&lat=1e26&lon=98.5",
            "kategori=lampu-jalan&lat=3.6&lon=-181",
            "kategori=lampu-jalan&lat=NaN&lon=98.5",
        ] {
            let r = http
                .get(app.url(&format!("/api/v1/pengaduan/sekitar?{q}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{q}");
            assert_eq!(
                r.json::<serde_json::Value>().await.unwrap()["error"],
                "query_invalid"
            );
        }
        let r = http
            .get(app.url("/api/v1/pengaduan/sekitar?kategori=lampu-jalan&lat=3.6&lon=98.5"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
);

db_test!(
    the_list_by_deadline_pages_on_from_the_last_deadline_shown,
    async |t: &TestDb| {
        let (app, _) = app(t).await;
        let token = citizen_token(t).await;
        let http = reqwest::Client::new();
        let up = upload(&http, &app, &token).await;
        // One more than a page.
        let mut codes = Vec::new();
        for i in 0..51 {
            let body = serde_json::json!({"category": "lampu-jalan", "description": format!("Lampu jalan mati nomor {i}."), "lat": "3.6001", "lon": "98.4852", "photos": [up["id"]]});
            let r = http
                .post(app.url("/api/v1/pengaduan"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            let rep: serde_json::Value = r.json().await.unwrap();
            codes.push(rep["code"].as_str().unwrap().to_string());
        }
        let op = app.browser();
        op.login("", "operator", "rahasia-123").await;
        let listed = |page: &str| -> Vec<String> {
            codes
                .iter()
                .filter(|c| page.contains(&format!(">{c}<")))
                .cloned()
                .collect()
        };
        let first = op
            .get("/staf/pengaduan?urut=tenggat")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(listed(&first).len(), 50);
        // On a phone the filters are folded away (the list comes first) unless some narrow the
        // list; the order is not a filter.
        assert!(
            first.contains(
                "<details class=\"filters-box\" data-wide-open><summary>Saring</summary>"
            ),
            "{first}"
        );
        let narrowed = op
            .get("/staf/pengaduan?status=diterima&terlambat=1&urut=tenggat")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            narrowed.contains("data-wide-open open><summary>Saring (2)</summary>"),
            "{narrowed}"
        );
        let next = first
            .split("<nav class=\"pager\"><a href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a link to the next page")
            .replace("&#38;", "&")
            .replace("&amp;", "&");
        assert!(
            next.contains("urut=tenggat") && next.contains("&setelah="),
            "{next}"
        );
        let second = op.get(&next).await.text().await.unwrap();
        let mut all = listed(&first);
        all.extend(listed(&second));
        assert_eq!(listed(&second).len(), 1, "the one left");
        all.sort();
        let mut want = codes.clone();
        want.sort();
        assert_eq!(all, want, "each once");
        assert!(
            !second.contains("<nav class=\"pager\">"),
            "no page after the last"
        );
    }
);

db_test!(
    maps_statistics_bulk_disposition_replies_and_settings,
    async |t: &TestDb| {
        let (app, _pupr) = app(t).await;
        let citizen = app.browser();
        citizen.login("", "1275021508900001", "rahasia-123").await;
        let mut codes = Vec::new();
        for (privacy, lat) in [
            ("public", "3.6001"),
            ("anonymous", "3.6101"),
            ("confidential", "3.6201"),
        ] {
            let r = citizen
                .post_multipart(
                    "/lapor",
                    &[
                        ("category", "lampu-jalan"),
                        ("description", "Lampu jalan mati di depan sekolah."),
                        ("lat", lat),
                        ("lon", "98.4852"),
                        ("privacy", privacy),
                    ],
                    &[("photo", "a.jpg", jpeg())],
                )
                .await;
            assert_eq!(r.status(), StatusCode::SEE_OTHER);
            codes.push(code_of(&r));
        }

        // The public map shows the public and anonymous reports, never the confidential one,
        // and never a name.
        let anon = app.browser();
        let r = anon.get("/pengaduan/peta").await;
        assert_eq!(r.status(), StatusCode::OK);
        let page = r.text().await.unwrap();
        assert!(page.contains(&codes[0]) && page.contains(&codes[1]));
        assert!(!page.contains(&codes[2]));
        assert!(!page.contains("Warga 1275021508900001"));
        assert!(
            page.contains("3.6101"),
            "the point's latitude is on the map"
        );
        let page = anon
            .get("/pengaduan/peta?status=selesai&hari=30")
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains(&codes[0]), "none is closed yet");
        // Statistics count all three, with charts.
        let page = anon.get("/pengaduan/statistik").await.text().await.unwrap();
        assert!(page.contains("<svg class=\"chart\""));
        assert!(page.contains("<strong>3</strong>"), "three received");

        // The verifier sees the inbox as a map, then disposes two at once to DLH.
        let op = app.browser();
        op.login("", "operator", "rahasia-123").await;
        let page = op
            .get("/staf/pengaduan?tampil=peta")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("data-map") && page.contains(&codes[2]));
        assert!(
            page.contains("name=\"code\""),
            "received reports can be ticked"
        );
        let dlh = page
            .split("<option value=\"")
            .find_map(|o| {
                o.split_once("\">Dinas Lingkungan Hidup")
                    .map(|(id, _)| id.to_string())
            })
            .unwrap();
        let r = op
            .post_form(
                "/staf/pengaduan/massal",
                &[
                    ("code", codes[0].as_str()),
                    ("code", codes[1].as_str()),
                    ("agency", dlh.as_str()),
                    ("back", "status=diterima"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        assert!(
            loc.starts_with("/staf/pengaduan?status=diterima&pesan=2%20pengaduan")
                || loc.starts_with("/staf/pengaduan?status=diterima&pesan=2+pengaduan"),
            "{loc}"
        );
        // Nothing ticked, or no agency: a message, nothing moves.
        let r = op
            .post_form("/staf/pengaduan/massal", &[("code", codes[2].as_str())])
            .await;
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .contains("pesan=Pilih")
        );
        let page = op
            .get(&format!("/staf/pengaduan/{}", codes[2]))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("Diterima"));
        // An officer cannot dispose in bulk.
        let officer = app.browser();
        officer.login("", "petugas.dlh", "rahasia-123").await;
        let r = officer
            .post_form(
                "/staf/pengaduan/massal",
                &[("code", codes[2].as_str()), ("agency", dlh.as_str())],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        // The officer's next things to do: by deadline, each with its due time.
        let page = officer
            .get("/staf/pengaduan?urut=tenggat")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("selected>Tenggat terdekat dulu</option>"),
            "{page}"
        );
        let due_cells = |page: &str| page.matches(r#"<td data-label="Tenggat"><strong>"#).count();
        assert_eq!(due_cells(&page), 2, "{page}");
        assert!(
            page.contains(r#"aria-sort="ascending"><a href="/staf/pengaduan?status=&#38;kategori=&#38;opd=&#38;kelurahan=&#38;terlambat=&#38;urut=tenggat">Tenggat ▲</a>"#),
            "the table says how it is sorted: {page}"
        );
        assert!(page.find(&codes[0]).unwrap() < page.find(&codes[1]).unwrap());
        assert!(
            page.contains("urut=tenggat"),
            "the order is kept in the links"
        );
        // A page after the last possible deadline is empty; a position that is not one starts
        // at the top.
        let r = officer
            .get("/staf/pengaduan?urut=tenggat&setelah=9223372036854775807.ffffffffffffffffffffffffffffffff")
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(due_cells(&r.text().await.unwrap()), 0);
        for bad in ["rusak", "18446744073709551616.x", ".", "1."] {
            let r = officer
                .get(&format!("/staf/pengaduan?urut=tenggat&setelah={bad}"))
                .await;
            assert_eq!(r.status(), StatusCode::OK, "{bad}");
            assert_eq!(due_cells(&r.text().await.unwrap()), 2, "{bad}");
        }
        // Newest first, the same reports still show when they are due.
        let page = officer.get("/staf/pengaduan").await.text().await.unwrap();
        assert_eq!(due_cells(&page), 2, "{page}");
        // The same list as CSV, under the same filters (the page links to it).
        assert!(page.contains("/staf/pengaduan.csv?status="), "{page}");
        let r = officer.get("/staf/pengaduan.csv").await;
        assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
        let csv = r.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "code,received_at,category,state,agency,due_at,late,kelurahan,address,supporters,privacy"
        );
        assert_eq!(lines.len(), 3, "{csv}");
        assert!(
            lines[1..].iter().all(|l| l.split("\",\"").count() == 11
                && l.contains("\"DLH\"")
                && l.contains("\"Diteruskan ke OPD\"")),
            "{csv}"
        );
        assert!(
            csv.contains(&format!("\"{}\"", codes[0]))
                && csv.contains(&format!("\"{}\"", codes[1]))
        );
        let none = officer
            .get("/staf/pengaduan.csv?status=diterima")
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(none.lines().count(), 1, "{none}");
        // The workspace counts what waits, each figure a link to its list.
        let home = officer.get("/staf").await.text().await.unwrap();
        assert!(
            home.contains(r#"<a href="/staf/pengaduan?status=didisposisi"><strong>2</strong><span class="label">Pengaduan baru untuk OPD Anda</span>"#)
                && home.contains(r#"<a href="/staf/pengaduan?terlambat=1"><strong>0</strong><span class="label">Pengaduan lewat tenggat</span>"#),
            "{home}"
        );
        // The mayor reads the month first, as the evaluation counts it (a click on), and the
        // overdue ones; no desk's or agency's queue.
        let mayor = app.browser();
        mayor.login("", "walikota", "rahasia-123").await;
        let home = mayor.get("/staf").await.text().await.unwrap();
        let month = chrono::Utc::now()
            .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).unwrap())
            .format("%Y-%m")
            .to_string();
        for (n, label) in [
            (3, "Pengaduan masuk bulan ini"),
            (0, "Dari itu, beres ditangani langsung"),
            (0, "Dari itu, butuh anggaran"),
        ] {
            assert!(
                home.contains(&format!(r#"<a href="/evaluasi?bulan={month}"><strong>{n}</strong><span class="label">{label}</span>"#)),
                "{label}: {home}"
            );
        }
        assert!(home.contains("Pengaduan lewat tenggat") && !home.contains("menunggu verifikasi"));
        assert!(home.contains("<h2>Sekilas</h2>") && !home.contains("Menunggu Anda"));

        // The admin adds a reply template (an unknown placeholder is refused by name).
        let admin = app.browser();
        admin.login("", "admin", "rahasia-123").await;
        let r = admin
            .post_form(
                "/admin/pengaduan/balasan",
                &[("title", "Jadwal"), ("body", "Dikerjakan {besok}.")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Isian {besok} tidak dikenal")
        );
        let r = admin
            .post_form(
                "/admin/pengaduan/balasan",
                &[
                    ("title", "Jadwal"),
                    ("body", "Laporan {kode} dijadwalkan oleh {opd}."),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // The DLH officer schedules with the template and an empty box: the template is sent.
        officer
            .post_multipart(
                &format!("/staf/pengaduan/{}/aksi", codes[0]),
                &[("action", "start")],
                &[],
            )
            .await;
        let page = officer
            .get(&format!("/staf/pengaduan/{}", codes[0]))
            .await
            .text()
            .await
            .unwrap();
        // The option titled "Jadwal" (the demo's own templates are listed too).
        let reply = page
            .split("\">Jadwal</option>")
            .next()
            .and_then(|s| s.rsplit("<option value=\"").next())
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_string();
        let r = officer
            .post_multipart(
                &format!("/staf/pengaduan/{}/aksi", codes[0]),
                &[
                    ("action", "schedule"),
                    ("note", ""),
                    ("reply", reply.as_str()),
                ],
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let page = anon
            .get(&format!("/pengaduan/{}", codes[0]))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!(
                "Laporan {} dijadwalkan oleh Dinas Lingkungan Hidup.",
                codes[0]
            )),
            "{page}"
        );

        // Categories: bad questions JSON is refused by field; a good one reaches the form.
        let r = admin
            .post_form(
                "/admin/pengaduan/kategori",
                &[
                    ("code", "pohon-tumbang"),
                    ("name_id", "Pohon tumbang"),
                    ("name_en", "Fallen tree"),
                    ("questions", "[{"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Pertanyaan tambahan harus berupa daftar JSON")
        );
        let r = admin
            .post_form(
                "/admin/pengaduan/kategori",
                &[
                    ("code", "pohon-tumbang"),
                    ("name_id", "Pohon tumbang"),
                    ("name_en", "Fallen tree"),
                    ("agency_id", dlh.as_str()),
                    (
                        "questions",
                        r#"[{"code":"jalan_tertutup","label_id":"Jalan tertutup?","label_en":"Road blocked?","kind":"choice","options":["Ya","Tidak"]}]"#,
                    ),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let form = citizen.get("/lapor").await.text().await.unwrap();
        assert!(form.contains("Pohon tumbang"));
        // Its question is asked with the story, once the category is chosen.
        let form = citizen
            .post_multipart(
                "/lapor",
                &[
                    ("langkah", "lokasi"),
                    ("category", "pohon-tumbang"),
                    ("lat", "3.6001"),
                    ("lon", "98.4852"),
                ],
                &[],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(
            form.contains("Langkah 3 dari 5") && form.contains("Jalan tertutup?"),
            "{form}"
        );
        // Switched off: no longer offered.
        let r = admin
            .post_form(
                "/admin/pengaduan/kategori/pohon-tumbang",
                &[("name_id", "Pohon tumbang"), ("name_en", "Fallen tree")],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let form = citizen.get("/lapor").await.text().await.unwrap();
        assert!(!form.contains("Pohon tumbang"));
        // The city box: a reversed box is refused and the old one kept.
        let r = admin
            .post_form(
                "/admin/pengaduan/wilayah",
                &[
                    ("min_lat", "3.7"),
                    ("max_lat", "3.5"),
                    ("min_lon", "98.43"),
                    ("max_lon", "98.55"),
                    ("duplicate_radius_m", "150"),
                    ("duplicate_days", "x"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        assert!(page.contains("Isi dengan angka."), "{page}");
        // Citizens and officers cannot open the settings.
        assert_eq!(
            citizen.get("/admin/pengaduan").await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            officer.get("/admin/pengaduan").await.status(),
            StatusCode::FORBIDDEN
        );
    }
);

/// Every link in the error summary lands on an element of the page (the field to fix).
fn summary_links_land(page: &str) {
    let summary = page
        .split("class=\"error-summary\"")
        .nth(1)
        .and_then(|x| x.split("</div>").next())
        .expect("an error summary");
    for target in summary.split("href=\"#").skip(1) {
        let id = target.split('"').next().unwrap();
        assert!(
            page.contains(&format!("id=\"{id}\"")),
            "#{id} is not on the page"
        );
    }
}

/// The hidden fields of a page's form, as a browser would send them back.
fn hidden(page: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let v = tag
            .split(&format!(" {name}=\""))
            .nth(1)?
            .split('"')
            .next()?;
        Some(
            v.replace("&#x2f;", "/")
                .replace("&#47;", "/")
                .replace("&amp;", "&"),
        )
    };
    page.split("<input type=\"hidden\"")
        .skip(1)
        .filter_map(|rest| {
            let tag = format!(" {}", rest.split('>').next()?);
            Some((attr(&tag, "name")?, attr(&tag, "value")?))
        })
        .collect()
}

/// Answers one step: what the page carries, plus this step's own answers.
async fn step(
    who: &platform::testkit::Browser,
    page: &str,
    answers: &[(&str, &str)],
    files: &[(&str, &str, Vec<u8>)],
) -> reqwest::Response {
    let carried = hidden(page);
    let mut fields: Vec<(&str, &str)> = carried
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.extend_from_slice(answers);
    who.post_multipart("/lapor", &fields, files).await
}

/// The same, when the step is expected to be taken: the page it leads to.
async fn step_to(
    who: &platform::testkit::Browser,
    page: &str,
    answers: &[(&str, &str)],
    files: &[(&str, &str, Vec<u8>)],
) -> String {
    let r = step(who, page, answers, files).await;
    assert_eq!(r.status(), StatusCode::OK, "{answers:?}");
    r.text().await.unwrap()
}

db_test!(
    reporting_asks_one_question_at_a_time_then_lets_the_reporter_check,
    async |t: &TestDb| {
        let (app, _) = app(t).await;
        // A neighbour's open report at the spot, to be offered.
        let neighbour = app.browser();
        neighbour.login("", "1275025508900002", "rahasia-123").await;
        let r = neighbour
            .post_multipart(
                "/lapor",
                &[
                    ("category", "lampu-jalan"),
                    ("description", "Lampu jalan mati di depan sekolah."),
                    ("lat", "3.6001"),
                    ("lon", "98.4852"),
                ],
                &[("photo", "a.jpg", jpeg())],
            )
            .await;
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "a form posted whole is sent at once"
        );
        let theirs = code_of(&r);

        let citizen = app.browser();
        citizen.login("", "1275021508900001", "rahasia-123").await;
        let page = citizen.get("/lapor").await.text().await.unwrap();
        assert!(
            page.contains("Langkah 1 dari 5")
                && page.contains("name=\"category\" value=\"lampu-jalan\"")
        );
        assert!(!page.contains("data-pick"), "one question: no map yet");
        // Each step checks its own answer and keeps the page.
        let r = step(&citizen, &page, &[("ke", "lanjut")], &[]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        summary_links_land(&page);
        assert!(page.contains("Pilih kategori pengaduan.") && page.contains("Langkah 1 dari 5"));
        let page = step_to(
            &citizen,
            &page,
            &[("category", "lampu-jalan"), ("ke", "lanjut")],
            &[],
        )
        .await;
        assert!(
            page.contains("Langkah 2 dari 5") && page.contains("data-pick=\"lat,lon\""),
            "{page}"
        );
        let r = step(&citizen, &page, &[("ke", "lanjut")], &[]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        summary_links_land(&page);
        assert!(page.contains("Tandai lokasi di peta, pakai GPS, atau pilih kelurahan."));
        assert!(
            !page.contains("Ceritakan masalahnya (minimal"),
            "only this step's question is judged"
        );
        let page = step_to(
            &citizen,
            &page,
            &[
                ("lat", "3.6002"),
                ("lon", "98.4853"),
                ("address", "Jl. Sudirman"),
                ("ke", "lanjut"),
            ],
            &[],
        )
        .await;
        assert!(page.contains("Langkah 3 dari 5") && page.contains("id=\"description\""));
        let page = step_to(
            &citizen,
            &page,
            &[
                ("description", "Lampu padam sejak Senin."),
                ("ke", "lanjut"),
            ],
            &[],
        )
        .await;
        assert!(page.contains("Langkah 4 dari 5"));
        // A file that is not a photo is refused on the photo step.
        let r = step(
            &citizen,
            &page,
            &[("ke", "lanjut")],
            &[("photo", "x.pdf", b"%PDF-1.4".to_vec())],
        )
        .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        summary_links_land(&page);
        assert!(page.contains("Berkas ini bukan foto.") && page.contains("Langkah 4 dari 5"));
        let page = step_to(
            &citizen,
            &page,
            &[("ke", "lanjut")],
            &[("photo", "a.jpg", jpeg())],
        )
        .await;
        assert!(page.contains("Langkah 5 dari 5"));
        assert_eq!(
            hidden(&page)
                .iter()
                .filter(|(k, _)| k == "photo_id")
                .count(),
            1,
            "the photo travels by id"
        );
        // Back: the earlier answer is still there.
        let back = step_to(&citizen, &page, &[("ke", "kembali")], &[]).await;
        assert!(back.contains("Langkah 4 dari 5") && back.contains("name=\"photo_id\""));
        let page = step_to(
            &citizen,
            &page,
            &[("privacy", "anonymous"), ("ke", "lanjut")],
            &[],
        )
        .await;
        assert!(page.contains("Periksa kembali laporan Anda"), "{page}");
        for shown in [
            "Lampu jalan mati",
            "Jl. Sudirman",
            "Lampu padam sejak Senin.",
            "Anonim",
        ] {
            assert!(page.contains(shown), "{shown}");
        }
        // The open report nearby is offered, with its distance.
        assert!(
            page.contains(&format!("/pengaduan/{theirs}/dukung")),
            "{page}"
        );
        assert!(page.contains(&format!(" m, {theirs})")));
        // Nothing is saved before it is sent.
        let mine = citizen.get("/pengaduan/saya").await.text().await.unwrap();
        assert!(!mine.contains("ADU-"), "{mine}");

        // "Ubah" opens the step; "Lanjut" comes back to the check.
        let page = step_to(&citizen, &page, &[("ke", "cerita")], &[]).await;
        assert!(page.contains("Lampu padam sejak Senin.</textarea>"));
        let page = step_to(
            &citizen,
            &page,
            &[
                ("description", "Lampu padam sejak Senin malam."),
                ("ke", "lanjut"),
            ],
            &[],
        )
        .await;
        assert!(
            page.contains("Periksa kembali laporan Anda")
                && page.contains("Lampu padam sejak Senin malam.")
        );
        let r = step(&citizen, &page, &[("ke", "kirim")], &[]).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let code = code_of(&r);
        assert_ne!(code, theirs);
        let page = citizen
            .get(&format!("/pengaduan/{code}?baru=1"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("Laporan Anda terkirim")
                && page.contains("Lampu padam sejak Senin malam.")
        );
        assert!(page.contains("Jl. Sudirman"));
        let public = app
            .browser()
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !public.contains("Warga 1275021508900001"),
            "sent as anonymous"
        );
    }
);
