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
        ("operator", "operator", None),
        ("petugas.pupr", "officer", Some(pupr)),
        ("petugas.dlh", "officer", Some(dlh)),
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
        let page = citizen
            .get(&format!("/pengaduan/{code}"))
            .await
            .text()
            .await
            .unwrap();
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
        let r = op
            .post_multipart(
                &format!("/staf/pengaduan/{code}/aksi"),
                &[("action", "dispose"), ("agency", &pupr.to_string())],
                &[],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
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
        assert!(csv.contains("Jumlah,2,1,1,1,1,1,"), "{csv}");
    }
);

db_test!(
    the_json_api_submits_and_refuses_with_stable_keys,
    async |t: &TestDb| {
        let (app, _) = app(t).await;
        let c = platform::city::get(&t.db, "12.75").await.unwrap().unwrap();
        let acc = platform::accounts::list(&t.db, &c, &Default::default(), 100)
            .await
            .unwrap()
            .into_iter()
            .find(|a| a.nik.as_deref() == Some("1275021508900001"))
            .unwrap();
        let (token, _) = platform::sessions::create_token(&t.db, &c, &acc, "hp")
            .await
            .unwrap();
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
        let up: serde_json::Value = http
            .post(app.url("/api/v1/files"))
            .bearer_auth(&token)
            .multipart(reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(jpeg()).file_name("a.jpg"),
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
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
    }
);
