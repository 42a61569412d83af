//! The application through HTTP, as a browser and as an API client would use it, on both
//! backends: registration, login, roles, CSRF, languages, two cities side by side, uploads.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use platform::db_test;
use platform::testkit::{TestApp, TestDb};
use reqwest::StatusCode;

async fn body(r: reqwest::Response) -> String {
    r.text().await.expect("body")
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

db_test!(
    citizen_registers_and_bad_nik_is_refused,
    async |t: &TestDb| {
        city(&t.db, "12.75").await;
        let app = TestApp::spawn(t, Some("12.75")).await;
        let b = app.browser();
        let page = body(b.get("/daftar").await).await;
        assert!(page.contains("Daftar akun warga") && page.contains("name=\"_csrf\""));

        // malformed NIK: 422, message next to the field, answers kept (never the password)
        let r = b
            .post_form(
                "/daftar",
                &[
                    ("nik", "12345"),
                    ("full_name", "Siti Aminah"),
                    ("phone", "0812-9876-5432"),
                    ("password", "rahasia-123"),
                    ("password_confirm", "rahasia-123"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = body(r).await;
        assert!(html.contains("NIK harus 16 angka."), "{html}");
        assert!(html.contains("href=\"#nik\""), "summary links to the field");
        assert!(html.contains("value=\"Siti Aminah\""), "typed name kept");
        assert!(!html.contains("rahasia-123"), "password never echoed");

        // a NIK from Palu in Binjai (own NIKs only)
        let r = b
            .post_form(
                "/daftar",
                &[
                    ("nik", "7271021508900001"),
                    ("full_name", "Siti"),
                    ("phone", "081298765432"),
                    ("password", "rahasia-123"),
                    ("password_confirm", "rahasia-123"),
                ],
            )
            .await;
        assert!(body(r).await.contains("bukan NIK Kota Binjai"));

        // valid: redirected home, logged in
        let r = b
            .post_form(
                "/daftar",
                &[
                    ("nik", "1275 0241 0795 0003"),
                    ("full_name", "Siti Aminah"),
                    ("phone", "0812-9876-5432"),
                    ("password", "rahasia-123"),
                    ("password_confirm", "rahasia-123"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(location(&r).starts_with("/?pesan="));
        let home = body(b.get("/").await).await;
        assert!(home.contains("Selamat datang, Siti Aminah."), "{home}");
        let acct = body(b.get("/akun").await).await;
        assert!(
            acct.contains("1275••••••••0003"),
            "masked NIK on the account page"
        );

        // the same NIK again, from another browser
        let b2 = app.browser();
        let r = b2
            .post_form(
                "/daftar",
                &[
                    ("nik", "1275024107950003"),
                    ("full_name", "Lain"),
                    ("email", "lain@contoh.id"),
                    ("password", "rahasia-123"),
                    ("password_confirm", "rahasia-123"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body(r).await.contains("NIK ini sudah terdaftar"));
    }
);

db_test!(forms_without_csrf_are_refused, async |t: &TestDb| {
    city(&t.db, "12.75").await;
    let app = TestApp::spawn(t, None).await;
    let b = app.browser();
    let _ = b.get("/daftar").await;
    let r = b
        .post_form_without_csrf(
            "/daftar",
            &[
                ("nik", "1275021508900001"),
                ("full_name", "X"),
                ("phone", "081234567890"),
                ("password", "rahasia-123"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(body(r).await.contains("Formulir ini sudah kedaluwarsa"));
    let r = b
        .post_form_without_csrf("/masuk", &[("identifier", "x"), ("password", "y")])
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // nothing was saved
    let all = platform::accounts::list(
        &t.db,
        &platform::city::get(&t.db, "12.75")
            .await
            .expect("c")
            .expect("c"),
        &Default::default(),
        10,
    )
    .await
    .expect("list");
    assert!(all.is_empty());
});

db_test!(each_role_sees_only_what_it_may, async |t: &TestDb| {
    let c = city(&t.db, "12.75").await;
    let pupr = agency(&t.db, &c, "Dinas PUPR", "PUPR", "dinas").await;
    staff(&t.db, &c, "admin", "admin", None).await;
    staff(&t.db, &c, "walikota", "leader", None).await;
    staff(&t.db, &c, "petugas", "officer", Some(pupr.id)).await;
    let rsud = agency(&t.db, &c, "RSUD Djoelham", "RSUD", "rumah_sakit").await;
    staff(&t.db, &c, "operator", "operator", None).await;
    staff(&t.db, &c, "inspektorat", "inspectorate", None).await;
    staff(&t.db, &c, "nakes", "health_staff", Some(rsud.id)).await;
    platform::accounts::register_citizen(
        &t.db,
        &pw(),
        &c,
        &citizen("1275021508900001", "081234567890"),
    )
    .await
    .expect("citizen");
    let app = TestApp::spawn(t, None).await;

    // anonymous: staff pages send to login
    let anon = app.browser();
    let r = anon.get("/admin/opd").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/masuk?next=%2Fadmin%2Fopd");

    let as_user = async |login: &str| {
        let b = app.browser();
        let r = b.login("", login, "rahasia-123").await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "login {login}");
        b
    };
    let expect = [
        // (login, path, status)
        ("1275021508900001", "/staf", 403),
        ("1275021508900001", "/admin/opd", 403),
        ("1275021508900001", "/audit", 403),
        ("1275021508900001", "/akun", 200),
        ("petugas", "/staf", 200),
        ("petugas", "/admin/opd", 403),
        ("petugas", "/admin/pengguna", 403),
        ("petugas", "/audit", 403),
        ("walikota", "/admin/opd", 200),
        ("walikota", "/audit", 200),
        ("walikota", "/admin/opd/baru", 403),
        ("walikota", "/admin/pengguna", 403),
        ("operator", "/admin/opd", 200),
        ("operator", "/audit", 403),
        ("operator", "/admin/pengguna", 403),
        ("inspektorat", "/admin/opd", 200),
        ("inspektorat", "/audit", 200),
        ("inspektorat", "/admin/opd/baru", 403),
        ("nakes", "/staf", 200),
        ("nakes", "/admin/opd", 403),
        ("nakes", "/audit", 403),
        ("admin", "/admin/opd/baru", 200),
        ("admin", "/admin/pengguna", 200),
        ("admin", "/audit", 200),
    ];
    for (login, path, status) in expect {
        let b = as_user(login).await;
        let r = b.get(path).await;
        assert_eq!(r.status().as_u16(), status, "{login} GET {path}");
        if status == 403 {
            assert!(
                body(r).await.contains("Anda tidak punya akses"),
                "403 page in Indonesian"
            );
        }
    }
    // the leader reads but cannot change
    let leader = as_user("walikota").await;
    let r = leader
        .post_form(
            "/admin/opd/baru",
            &[
                ("name", "Dinas Baru"),
                ("short_name", "DB"),
                ("kind", "dinas"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // the admin can, and a bad form shows field errors
    let admin = as_user("admin").await;
    let r = admin
        .post_form(
            "/admin/opd/baru",
            &[
                ("name", ""),
                ("short_name", "DB"),
                ("kind", "dinas"),
                ("email", "x@"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = body(r).await;
    assert!(
        html.contains("Wajib diisi.") && html.contains("Alamat email tidak benar"),
        "{html}"
    );
    let r = admin
        .post_form(
            "/admin/opd/baru",
            &[
                ("name", "Dinas Baru"),
                ("short_name", "DB"),
                ("kind", "dinas"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        body(admin.get("/admin/opd?q=baru").await)
            .await
            .contains("Dinas Baru")
    );
    let csv = body(admin.get("/admin/opd.csv").await).await;
    assert!(csv.starts_with("id,name,short_name") && csv.contains("\"Dinas Baru\""));
    // and the audit page shows it
    assert!(
        body(admin.get("/audit?action=agency").await)
            .await
            .contains("agency.create")
    );
    // logout ends the session
    let r = admin.post_form("/keluar", &[]).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get("/admin/pengguna").await.status(),
        StatusCode::SEE_OTHER
    );
});

db_test!(language_switch_and_wrong_login, async |t: &TestDb| {
    city(&t.db, "12.75").await;
    let app = TestApp::spawn(t, None).await;
    let b = app.browser();
    assert!(
        body(b.get("/masuk").await)
            .await
            .contains("<html lang=\"id\">")
    );
    let r = b.get("/bahasa/en?next=%2Fmasuk").await;
    assert_eq!(location(&r), "/masuk");
    let page = body(b.get("/masuk").await).await;
    assert!(page.contains("<html lang=\"en\">") && page.contains("Log in"));
    let r = b.login("", "nobody", "whatever-123").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(r).await.contains("the password is wrong"));
    // Accept-Language alone also works for a new visitor
    let r = app
        .browser()
        .client
        .get(app.url("/"))
        .header("accept-language", "en-GB,en;q=0.9")
        .send()
        .await
        .expect("get");
    assert!(
        body(r)
            .await
            .contains("Services for residents of Kota Binjai")
    );
    // an open redirect is not possible
    let r = b.get("/bahasa/id?next=%2F%2Fevil.example").await;
    assert_eq!(location(&r), "/");
});

db_test!(two_cities_never_see_each_other, async |t: &TestDb| {
    let binjai = city(&t.db, "12.75").await;
    let palu = city(&t.db, "72.71").await;
    agency(
        &t.db,
        &binjai,
        "Dinas Lingkungan Hidup Binjai",
        "DLH",
        "dinas",
    )
    .await;
    agency(&t.db, &palu, "Dinas Lingkungan Hidup Palu", "DLH", "dinas").await;
    staff(&t.db, &binjai, "admin.binjai", "admin", None).await;
    let palu_admin = staff(&t.db, &palu, "admin.palu", "admin", None).await;
    platform::accounts::register_citizen(
        &t.db,
        &pw(),
        &binjai,
        &citizen("1275021508900001", "081234567890"),
    )
    .await
    .expect("c");
    let app = TestApp::spawn(t, Some("12.75")).await;

    // the same paths under /kota/72.71 are Palu's
    let anon = app.browser();
    let home = body(anon.get("/kota/72.71/").await).await;
    assert!(
        home.contains("Kota Palu") && home.contains("8 kecamatan"),
        "{home}"
    );
    assert!(
        home.contains("href=\"/kota/72.71/masuk\""),
        "links keep the city prefix"
    );

    // a Binjai account cannot log in to Palu
    let b = app.browser();
    let r = b.login("/kota/72.71", "admin.binjai", "rahasia-123").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = b
        .login("/kota/72.71", "1275021508900001", "rahasia-123")
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Palu's admin sees only Palu's agencies and search finds nothing of Binjai
    let r = b.login("/kota/72.71", "admin.palu", "rahasia-123").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let list = body(b.get("/kota/72.71/admin/opd").await).await;
    assert!(
        list.contains("Dinas Lingkungan Hidup Palu") && !list.contains("Binjai"),
        "{list}"
    );
    assert!(
        !body(b.get("/kota/72.71/admin/opd?q=binjai").await)
            .await
            .contains("Dinas Lingkungan Hidup Binjai")
    );
    assert!(
        !body(b.get("/kota/72.71/admin/pengguna").await)
            .await
            .contains("admin.binjai")
    );
    // the Palu session cookie does not work on Binjai's paths
    assert_eq!(b.get("/admin/opd").await.status(), StatusCode::SEE_OTHER);
    let audit = body(b.get("/kota/72.71/audit").await).await;
    assert!(!audit.contains("Binjai"), "{audit}");

    // API: a Palu token reads Palu, and is refused on Binjai
    let (secret, _) = platform::sessions::create_token(&t.db, &palu, &palu_admin, "tes")
        .await
        .expect("token");
    let api = reqwest::Client::new();
    let r = api
        .get(app.url("/kota/72.71/api/v1/agencies"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::OK);
    let items: serde_json::Value = r.json().await.expect("json");
    assert_eq!(items.as_array().map(Vec::len), Some(1));
    assert_eq!(items[0]["city_code"], "72.71");
    let r = api
        .get(app.url("/api/v1/agencies"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let e: serde_json::Value = r.json().await.expect("json");
    assert_eq!(e["error"], "unauthorized");

    // an unknown city code is a clear 404
    let r = anon.get("/kota/99.99/").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(body(r).await.contains("Kode kota ini tidak dikenal"));
    let r = api
        .get(app.url("/kota/abc/api/v1/regions"))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["error"],
        "unknown_city"
    );
});

db_test!(api_errors_have_stable_keys, async |t: &TestDb| {
    let c = city(&t.db, "12.75").await;
    let app = TestApp::spawn(t, None).await;
    let api = reqwest::Client::new();
    let r = api
        .post(app.url("/api/v1/register"))
        .json(&serde_json::json!({"nik": "1275021508900001x", "full_name": "Budi", "phone": "0812", "password": "pendek"}))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let e: serde_json::Value = r.json().await.expect("json");
    assert_eq!(e["error"], "validation_failed");
    assert_eq!(e["fields"]["nik"]["key"], "nik_length");
    assert_eq!(e["fields"]["phone"]["key"], "phone_invalid");
    assert_eq!(e["fields"]["password"]["key"], "password_too_short");
    // not JSON at all
    let r = api
        .post(app.url("/api/v1/register"))
        .header("content-type", "application/json")
        .body("{nik:")
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["error"],
        "body_invalid"
    );
    // valid, then /me with a token
    let r = api
        .post(app.url("/api/v1/register"))
        .json(&serde_json::json!({"nik": "1275021508900001", "full_name": "Budi", "email": "budi@contoh.id", "password": "rahasia-123"}))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::CREATED);
    let me: serde_json::Value = r.json().await.expect("json");
    assert!(me.get("nik").is_none(), "NIK never in API output");
    assert_eq!(
        api.get(app.url("/api/v1/me"))
            .send()
            .await
            .expect("api")
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let acc = platform::accounts::get(
        &t.db,
        &c,
        me["id"].as_str().and_then(|s| s.parse().ok()).expect("id"),
    )
    .await
    .expect("g")
    .expect("acc");
    let (secret, _) = platform::sessions::create_token(&t.db, &c, &acc, "hp")
        .await
        .expect("token");
    let r = api
        .get(app.url("/api/v1/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("api");
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["full_name"],
        "Budi"
    );
    // a citizen may not list agencies
    let r = api
        .get(app.url("/api/v1/agencies"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["error"],
        "forbidden"
    );
    // public regions
    let r: serde_json::Value = api
        .get(app.url("/api/v1/regions"))
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    assert_eq!(r["districts"].as_array().map(Vec::len), Some(5));
    assert_eq!(r["villages"].as_array().map(Vec::len), Some(37));
    // the OpenAPI document lists the API
    let doc: serde_json::Value = api
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .expect("api")
        .json()
        .await
        .expect("json");
    for p in [
        "/api/v1/register",
        "/api/v1/me",
        "/api/v1/agencies",
        "/api/v1/regions",
        "/api/v1/files",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from OpenAPI");
    }
    // What a client generator reads: query parameters in the query, and every error with its
    // body (the shared layers' 400 and 401 included).
    let doc = platform::web::api::openapi(&[]);
    let doc = serde_json::to_value(&doc).expect("doc");
    let mut errors = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("item") {
            for p in op["parameters"].as_array().into_iter().flatten() {
                let name = p["name"].as_str().expect("name");
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    p["in"],
                    if in_path { "path" } else { "query" },
                    "{method} {path} {name}"
                );
            }
            let responses = op["responses"].as_object().expect("responses");
            for (code, r) in responses {
                if !code.starts_with('2') {
                    errors += 1;
                    assert_eq!(
                        r["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ApiError",
                        "{method} {path} {code}"
                    );
                }
            }
            if op.get("security").is_some() {
                assert!(responses.contains_key("401"), "{method} {path}");
            }
        }
    }
    assert!(errors > 10);
    let deadlines = &doc["paths"]["/api/v1/deadlines"]["get"];
    assert!(deadlines["responses"].get("400").is_some());
    assert_eq!(deadlines["parameters"][3]["name"], "offset");
    assert_eq!(deadlines["parameters"][3]["required"], false);
});

fn jpeg_with_exif() -> Vec<u8> {
    // A real JPEG with an APP1 EXIF segment carrying a GPS tag marker.
    let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128]));
    let mut jpg = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut jpg),
            image::ImageFormat::Jpeg,
        )
        .expect("encode");
    let mut exif =
        b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x88\x25\0\x04\0\0\0\x01\0\0\0\0GPSLatitude-3.59861"
            .to_vec();
    let len = (exif.len() + 2) as u16;
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&len.to_be_bytes());
    seg.append(&mut exif);
    let mut out = jpg[..2].to_vec();
    out.extend(seg);
    out.extend_from_slice(&jpg[2..]);
    out
}

db_test!(uploads_are_cleaned_or_refused, async |t: &TestDb| {
    let c = city(&t.db, "12.75").await;
    let acc = platform::accounts::register_citizen(
        &t.db,
        &pw(),
        &c,
        &citizen("1275021508900001", "081234567890"),
    )
    .await
    .expect("c");
    let (secret, _) = platform::sessions::create_token(&t.db, &c, &acc, "hp")
        .await
        .expect("token");
    let app = TestApp::spawn(t, None).await;
    let api = reqwest::Client::new();
    let upload = async |bytes: Vec<u8>, name: &str| {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_string());
        api.post(app.url("/api/v1/files"))
            .bearer_auth(&secret)
            .multipart(reqwest::multipart::Form::new().part("file", part))
            .send()
            .await
            .expect("upload")
    };
    let original = jpeg_with_exif();
    assert!(original.windows(11).any(|w| w == b"GPSLatitude"));
    let r = upload(original, "foto.jpg").await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let f: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        (f["width"].as_i64(), f["height"].as_i64()),
        (Some(64), Some(48))
    );
    // the stored file has no EXIF and is a JPEG; a thumbnail exists
    let b = app.browser();
    b.login("", "1275021508900001", "rahasia-123").await;
    let stored = b
        .get(&format!("/berkas/{}", f["id"].as_str().expect("id")))
        .await;
    assert_eq!(stored.headers()["content-type"], "image/jpeg");
    let bytes = stored.bytes().await.expect("bytes");
    assert!(
        !bytes.windows(4).any(|w| w == b"Exif") && !bytes.windows(11).any(|w| w == b"GPSLatitude")
    );
    assert_eq!(
        b.get(&format!("/berkas/{}/kecil", f["id"].as_str().expect("id")))
            .await
            .status(),
        StatusCode::OK
    );
    // another citizen may not read it
    platform::accounts::register_citizen(
        &t.db,
        &pw(),
        &c,
        &citizen("1275024107950003", "081298765432"),
    )
    .await
    .expect("c2");
    let other = app.browser();
    other.login("", "1275024107950003", "rahasia-123").await;
    assert_eq!(
        other
            .get(&format!("/berkas/{}", f["id"].as_str().expect("id")))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // not an image
    let r = upload(b"%PDF-1.4 not a photo".to_vec(), "surat.jpg").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["fields"]["file"]["key"],
        "file_not_image"
    );
    // a truncated JPEG
    let r = upload(jpeg_with_exif()[..200].to_vec(), "rusak.jpg").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["fields"]["file"]["key"],
        "image_invalid"
    );
    // too many bytes for the request: 413, or (when the server answers before the client has
    // finished sending) the connection is closed under the client; never accepted
    // (its own client: the connection the server closes under it must not go back to the pool
    // that the next upload takes from)
    let part =
        reqwest::multipart::Part::bytes(vec![0xFFu8; 13 * 1024 * 1024]).file_name("besar.jpg");
    let sent = reqwest::Client::new()
        .post(app.url("/api/v1/files"))
        .bearer_auth(&secret)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await;
    match sent {
        Ok(r) => {
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(
                r.json::<serde_json::Value>().await.expect("json")["error"],
                "payload_too_large"
            );
        }
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    // over the file limit but within the request limit
    let mut big = b"\xFF\xD8\xFF\xE0".to_vec();
    big.resize(11 * 1024 * 1024, 0);
    let r = upload(big, "besar.jpg").await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["fields"]["file"]["key"],
        "file_too_large"
    );
    // no file
    let r = api
        .post(app.url("/api/v1/files"))
        .bearer_auth(&secret)
        .multipart(reqwest::multipart::Form::new().text("x", "y"))
        .send()
        .await
        .expect("u");
    assert_eq!(
        r.json::<serde_json::Value>().await.expect("json")["fields"]["file"]["key"],
        "file_empty"
    );
});

db_test!(health_setup_and_metrics, async |t: &TestDb| {
    // an empty database: every page leads to setup
    let app = TestApp::spawn(t, None).await;
    let b = app.browser();
    assert_eq!(b.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(b.get("/readyz").await.status(), StatusCode::OK);
    let r = b.get("/").await;
    assert_eq!(location(&r), "/setup");
    let r = b
        .post_form(
            "/setup",
            &[
                ("city_code", "72.7"),
                ("username", "admin"),
                ("full_name", "Admin Palu"),
                ("password", "rahasia-123"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body(r).await.contains("Kode kota harus seperti 12.75"));
    let r = b
        .post_form(
            "/setup",
            &[
                ("city_code", "72.71"),
                ("username", "admin"),
                ("full_name", "Admin Palu"),
                ("password", "rahasia-123"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // setup is closed now, and Palu is served
    assert_eq!(location(&b.get("/setup").await), "/");
    assert!(body(b.get("/").await).await.contains("Kota Palu"));
    let r = b.login("", "admin", "rahasia-123").await;
    assert_eq!(location(&r), "/staf");
    let m = body(b.get("/metrics").await).await;
    assert!(m.contains("http_requests_total"), "{m}");
    // How busy SQLite's one writer is (the recorder is the process's, so a SQLite test that
    // ran before may have put it there for the PostgreSQL one too).
    if t.db.backend() == platform::db::Backend::Sqlite {
        for name in [
            "sqlite_writer_busy_microseconds_total",
            "sqlite_writer_commits_total",
            "sqlite_writer_writes_saved_total",
        ] {
            assert!(m.contains(name), "{name}: {m}");
        }
    }
    // security headers
    let r = b.get("/").await;
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("default-src 'self'")
    );
    assert!(r.headers().contains_key("x-request-id"));
    // an unknown page is a 404 page in Indonesian, in the city's frame
    let r = b.get("/tidak-ada").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let html = body(r).await;
    assert!(html.contains("Halaman tidak ditemukan"), "{html}");
    assert!(
        html.contains("<nav class=\"main\"") && html.contains("Kota Palu"),
        "the city's header and links: {html}"
    );
    // (signed in as staff here: back to the workspace)
    assert!(
        html.contains("href=\"/staf\">Kembali ke meja kerja</a>"),
        "{html}"
    );
    let anon = app.browser();
    let html = body(anon.get("/tidak-ada").await).await;
    assert!(
        html.contains("href=\"/masuk\"") && html.contains("href=\"/\">Kembali ke beranda</a>"),
        "{html}"
    );
});

db_test!(
    password_change_and_tokens_from_the_account_page,
    async |t: &TestDb| {
        let c = city(&t.db, "12.75").await;
        staff(&t.db, &c, "walikota", "leader", None).await;
        let app = TestApp::spawn(t, None).await;
        let b = app.browser();
        b.login("", "walikota", "rahasia-123").await;
        let other = app.browser();
        other.login("", "walikota", "rahasia-123").await;
        assert_eq!(other.get("/akun").await.status(), StatusCode::OK);
        // A page the mayor may not open keeps the header (workspace, account) and leads back
        // to the workspace.
        let r = b.get("/admin/pengguna").await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let html = body(r).await;
        assert!(
            html.contains("href=\"/akun\"") && html.contains("href=\"/staf\">Meja kerja</a>"),
            "{html}"
        );
        assert!(
            html.contains("href=\"/staf\">Kembali ke meja kerja</a>"),
            "{html}"
        );

        // wrong current password and a short new one: both named
        let r = b
            .post_form(
                "/akun/sandi",
                &[
                    ("current", "salah"),
                    ("new", "pendek"),
                    ("new_confirm", "pendek"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = body(r).await;
        assert!(
            html.contains("Kata sandi sekarang salah.") && html.contains("minimal 8 karakter"),
            "{html}"
        );
        let r = b
            .post_form(
                "/akun/sandi",
                &[
                    ("current", "rahasia-123"),
                    ("new", "sandi-baru-456"),
                    ("new_confirm", "sandi-baru-456"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        // this browser stays in, the other session ended, the old password is gone
        assert_eq!(b.get("/akun").await.status(), StatusCode::OK);
        assert_eq!(other.get("/akun").await.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            app.browser()
                .login("", "walikota", "rahasia-123")
                .await
                .status(),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            app.browser()
                .login("", "walikota", "sandi-baru-456")
                .await
                .status(),
            StatusCode::SEE_OTHER
        );

        // a token: shown once, works on the API, revoked from the page
        let r = b.post_form("/akun/token", &[("name", "")]).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = body(b.post_form("/akun/token", &[("name", "Dasbor DPRD")]).await).await;
        let secret = html
            .split("big-code mono\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .expect("token shown")
            .to_string();
        assert!(secret.starts_with("bk_"));
        let api = reqwest::Client::new();
        let r = api
            .get(app.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
            .await
            .expect("api");
        assert_eq!(r.status(), StatusCode::OK);
        let page = body(b.get("/akun").await).await;
        assert!(!page.contains(&secret), "a token is shown only once");
        let id = page
            .split("/akun/token/")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .expect("revoke link")
            .to_string();
        assert_eq!(
            b.post_form(&format!("/akun/token/{id}/cabut"), &[])
                .await
                .status(),
            StatusCode::SEE_OTHER
        );
        let r = api
            .get(app.url("/api/v1/me"))
            .bearer_auth(&secret)
            .send()
            .await
            .expect("api");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let acts = platform::audit::actions(&t.db, "12.75")
            .await
            .expect("actions");
        for a in ["account.password_change", "token.create", "token.revoke"] {
            assert!(acts.contains(&a.to_string()), "{a} not audited: {acts:?}");
        }
    }
);

db_test!(
    host_names_choose_the_city_and_the_audit_log_is_live,
    async |t: &TestDb| {
        let binjai = city(&t.db, "12.75").await;
        platform::city::create(
            &t.db,
            &platform::audit::Actor::cli(),
            platform::city::NewCity {
                code: "72.71".into(),
                host: Some("Layanan.PaluKota.example".into()),
                own_nik_only: true,
            },
        )
        .await
        .expect("palu");
        staff(&t.db, &binjai, "admin", "admin", None).await;
        let app = TestApp::spawn(t, Some("12.75")).await;
        let api = reqwest::Client::new();
        let by_host = |host: &str| {
            api.get(app.url("/api/v1/regions"))
                .header("host", host)
                .send()
        };
        let r: serde_json::Value = by_host("layanan.palukota.example:8080")
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(r["city_code"], "72.71");
        let r: serde_json::Value = by_host("other.example")
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        assert_eq!(
            r["city_code"], "12.75",
            "unknown hosts get the default city"
        );

        // the live audit stream of Binjai shows a change made after it was opened, and only Binjai's
        let b = app.browser();
        b.login("", "admin", "rahasia-123").await;
        let mut stream = b
            .client
            .get(app.url("/audit/langsung"))
            .send()
            .await
            .expect("sse");
        assert_eq!(stream.headers()["content-type"], "text/event-stream");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let palu = platform::city::get(&t.db, "72.71")
            .await
            .expect("g")
            .expect("palu");
        agency(&t.db, &palu, "Dinas Palu", "DP", "dinas").await;
        agency(&t.db, &binjai, "Dinas Koperasi", "Dinkop", "dinas").await;
        let mut seen = String::new();
        while !seen.contains("Dinas Koperasi") {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
                .await
                .expect("in time")
                .expect("chunk")
                .expect("open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        assert!(
            seen.contains("agency.create") && !seen.contains("Dinas Palu"),
            "{seen}"
        );
    }
);

db_test!(
    kelurahan_boundaries_are_uploaded_and_a_bad_file_is_refused_by_feature,
    async |t: &TestDb| {
        let c = city(&t.db, "12.75").await;
        staff(&t.db, &c, "admin", "admin", None).await;
        let app = TestApp::spawn(t, Some("12.75")).await;
        let b = app.browser();
        b.login("", "admin", "rahasia-123").await;
        let page = body(b.get("/admin/batas-wilayah").await).await;
        assert!(page.contains("Batas kelurahan") && page.contains("dari 37 kelurahan"));
        let square = r#"[[[98.47,3.59],[98.48,3.59],[98.48,3.60],[98.47,3.60],[98.47,3.59]]]"#;
        let bad = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"kode":"31.71.01.1001"}},"geometry":{{"type":"Polygon","coordinates":{square}}}}}]}}"#
        );
        let r = b
            .post_multipart(
                "/admin/batas-wilayah",
                &[],
                &[("geojson", "batas.geojson", bad.into_bytes())],
            )
            .await;
        assert_eq!(r.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
        let page = body(r).await;
        assert!(
            page.contains("Fitur ke-1: Kode 31.71.01.1001 bukan kelurahan kota ini."),
            "{page}"
        );
        let r = b
            .post_multipart(
                "/admin/batas-wilayah",
                &[],
                &[("geojson", "batas.geojson", b"bukan json".to_vec())],
            )
            .await;
        assert!(
            body(r)
                .await
                .contains("Berkas bukan GeoJSON FeatureCollection")
        );
        let good = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"KODE_KEL":"1275021006"}},"geometry":{{"type":"Polygon","coordinates":{square}}}}}]}}"#
        );
        let r = b
            .post_multipart(
                "/admin/batas-wilayah",
                &[],
                &[("geojson", "batas.geojson", good.into_bytes())],
            )
            .await;
        assert_eq!(r.status(), reqwest::StatusCode::SEE_OTHER);
        assert!(location(&r).contains("pesan=1"), "{}", location(&r));
        let page = body(b.get("/admin/batas-wilayah").await).await;
        assert!(
            page.contains("<strong>1</strong>"),
            "one kelurahan with a boundary"
        );
        assert!(
            !page.contains("Binjai <span class=\"mono\">(12.75.02.1006)"),
            "no longer missing"
        );
        // Not for other staff.
        staff(&t.db, &c, "operator", "operator", None).await;
        let op = app.browser();
        op.login("", "operator", "rahasia-123").await;
        assert_eq!(
            op.get("/admin/batas-wilayah").await.status(),
            reqwest::StatusCode::FORBIDDEN
        );
    }
);

db_test!(
    odd_queries_and_methods_get_readable_errors,
    async |t: &TestDb| {
        let c = city(&t.db, "12.75").await;
        let admin = staff(&t.db, &c, "admin", "admin", None).await;
        let app = TestApp::spawn(t, None).await;
        let (token, _) = platform::sessions::create_token(&t.db, &c, &admin, "uji")
            .await
            .expect("token");
        let api = reqwest::Client::new();
        let get = async |path: &str| {
            api.get(app.url(path))
                .bearer_auth(&token)
                .send()
                .await
                .expect("api")
        };
        // The largest offset SQL holds is an empty page; one past it is refused, as the document's
        // int64 says (it was a 500: the bind failed).
        let r = get("/api/v1/deadlines?offset=9223372036854775807").await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["items"].as_array().map(Vec::len), Some(0));
        assert!(v["next_offset"].is_null());
        // A malformed query parameter: the API's stable key, not axum's plain text.
        for path in [
            "/api/v1/deadlines?offset=abc",
            "/api/v1/deadlines?limit=-1",
            "/api/v1/deadlines?offset=99999999999999999999999",
            "/api/v1/deadlines?offset=9223372036854775808",
            "/api/v1/deadlines?limit=18446744073709551615",
        ] {
            let r = get(path).await;
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{path}");
            let v: serde_json::Value = r.json().await.expect(path);
            assert_eq!(v["error"], "query_invalid", "{path}");
        }
        // A method a route does not take: JSON with a key for API clients, a page for browsers.
        let r = api
            .delete(app.url("/api/v1/me"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("api");
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            r.headers()["allow"],
            "GET,HEAD",
            "RFC 9110 wants the methods it takes"
        );
        let v: serde_json::Value = r.json().await.expect("json");
        assert_eq!(v["error"], "method_not_allowed");
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));

        let b = app.browser();
        assert_eq!(
            b.login("", "admin", "rahasia-123").await.status(),
            StatusCode::SEE_OTHER
        );
        let r = b.get("/tenggat?hal=18446744073709551615").await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = b.get("/admin/kotak-keluar?hal=18446744073709551615").await;
        assert_eq!(r.status(), StatusCode::OK);
        let r = b.get("/tenggat?hal=dua").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let page = body(r).await;
        assert!(page.contains("Permintaan tidak dapat diproses"), "{page}");
    }
);
