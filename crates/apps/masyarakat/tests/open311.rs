//! Open311 GeoReport v2 as a standard client uses it, in JSON and XML, on both backends.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use platform::audit::Actor;
use platform::city::{self, NewCity};
use platform::db_test;
use platform::notify::{Notifier, NotifySettings};
use platform::testkit::{TestApp, TestDb};
use reqwest::StatusCode;

async fn setup(t: &TestDb) -> (TestApp, String) {
    t.migrate(&masyarakat::migrations()).await;
    let c = city::create(
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
    platform::agencies::create(
        &t.db,
        &c,
        &Actor::cli(),
        &platform::agencies::AgencyInput {
            name: "Dinas Pekerjaan Umum dan Penataan Ruang".into(),
            short_name: "Dinas PUPR".into(),
            kind: "dinas".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    masyarakat::seed::demo(&t.db, &c).await.unwrap();
    let (_, key) = masyarakat::open311::issue_key(&t.db, &c, &Actor::cli(), "Aplikasi uji")
        .await
        .unwrap();
    let n = Notifier::new(
        NotifySettings::default(),
        Arc::new(platform::clock::SystemClock),
    )
    .unwrap();
    (
        TestApp::spawn_with_apps(
            t,
            Some("12.75"),
            n,
            vec![Arc::new(masyarakat::Masyarakat::new())],
        )
        .await,
        key,
    )
}

db_test!(
    a_georeport_client_lists_posts_and_reads_back,
    async |t: &TestDb| {
        let (app, key) = setup(t).await;
        let http = reqwest::Client::new();
        let get = |p: &str| http.get(app.url(p)).send();

        // Discovery, both formats.
        let d: serde_json::Value = get("/open311/v2/discovery.json")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            d["endpoints"][0]["specification"],
            "http://wiki.open311.org/GeoReport_v2"
        );
        assert_eq!(
            d["endpoints"][0]["formats"],
            serde_json::json!(["text/xml", "application/json"])
        );
        let r = get("/open311/v2/discovery.xml").await.unwrap();
        assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
        assert!(
            r.text()
                .await
                .unwrap()
                .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?><discovery><changeset>")
        );

        // Services: a bare JSON array; codes are strings; metadata where questions exist.
        let s: serde_json::Value = get("/open311/v2/services.json")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let lampu = s
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["service_code"] == "lampu-jalan")
            .unwrap();
        assert_eq!(
            (lampu["metadata"].as_bool(), lampu["type"].as_str()),
            (Some(true), Some("realtime"))
        );
        let xml = get("/open311/v2/services.xml")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(xml.contains("<service><service_code>lampu-jalan</service_code><service_name>Lampu jalan mati</service_name>"));
        let def: serde_json::Value = get("/open311/v2/services/lampu-jalan.json")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(def["attributes"][0]["code"], "tiang");
        assert_eq!(def["attributes"][0]["datatype"], "string");
        assert_eq!(def["attributes"][0]["order"], 1);
        let r = get("/open311/v2/services/banjir-bandang.json")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()[0]["code"], 404);
        // A method GeoReport v2 does not have: its error shape too, in the format asked for.
        let r = http
            .delete(app.url("/open311/v2/requests.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!([{"code": 405, "description": "method_not_allowed"}])
        );
        let r = http
            .put(app.url("/open311/v2/services.xml"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()["content-type"], "text/xml; charset=utf-8");
        assert!(r.text().await.unwrap().contains("<error><code>405</code>"));

        // POST: no key, wrong key → 403; unknown service → 404; no location → 400.
        let post = |body: Vec<(&str, &str)>| {
            http.post(app.url("/open311/v2/requests.json"))
                .form(&body)
                .send()
        };
        let base = vec![
            ("service_code", "lampu-jalan"),
            ("lat", "3.6001"),
            ("long", "98.4852"),
            ("description", "Lampu mati di depan masjid."),
            ("email", "pelapor@contoh.id"),
            ("first_name", "Siti"),
            ("attribute[tiang]", "17"),
        ];
        let r = post(base.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.json::<serde_json::Value>().await.unwrap()[0]["code"], 403);
        let mut wrong = base.clone();
        wrong.push(("api_key", "o311_salah"));
        assert_eq!(post(wrong).await.unwrap().status(), StatusCode::FORBIDDEN);
        let mut unknown = vec![
            ("api_key", key.as_str()),
            ("service_code", "banjir-bandang"),
            ("lat", "3.6"),
            ("long", "98.48"),
            ("description", "x"),
        ];
        assert_eq!(
            post(unknown.clone()).await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
        unknown[1] = ("service_code", "lampu-jalan");
        unknown.retain(|(k, _)| *k != "lat" && *k != "long");
        let r = post(unknown).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.text().await.unwrap().contains("a location is required"));

        let mut ok = base.clone();
        ok.push(("api_key", key.as_str()));
        let mut with_media = ok.clone();
        with_media.push(("media_url", "https://contoh.id/lampu.jpg"));
        let r = post(with_media).await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let created: serde_json::Value = r.json().await.unwrap();
        let id = created[0]["service_request_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(id.starts_with("ADU-"), "{id}");
        assert!(created[0].get("token").is_none());
        // XML POST too.
        let r = http
            .post(app.url("/open311/v2/requests.xml"))
            .form(&ok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("<service_requests><request><service_request_id>ADU-")
        );

        let xml_id = {
            use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
            masyarakat::entity::report::Entity::find()
                .order_by_desc(masyarakat::entity::report::Column::CreatedUs)
                .filter(masyarakat::entity::report::Column::Code.ne(id.as_str()))
                .one(t.db.conn())
                .await
                .unwrap()
                .unwrap()
        };
        // The XML-posted one gets a photo and a disposition; the listing follows both.
        let file = {
            use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
            let c = city::get(&t.db, "12.75").await.unwrap().unwrap();
            let file = uuid::Uuid::now_v7();
            platform::entity::file::ActiveModel {
                city_code: Set(c.code.clone()),
                id: Set(file),
                owner_id: Set(None),
                content_type: Set("image/jpeg".into()),
                bytes: Set(10),
                width: Set(1),
                height: Set(1),
                path: Set("x.jpg".into()),
                thumb_path: Set("x_t.jpg".into()),
                sha256: Set(String::new()),
                created_at: Set(chrono::Utc::now()),
            }
            .insert(t.db.conn())
            .await
            .unwrap();
            masyarakat::entity::photo::ActiveModel {
                city_code: Set(c.code.clone()),
                report_id: Set(xml_id.id),
                file_id: Set(file),
                kind: Set("before".into()),
                sort: Set(0),
            }
            .insert(t.db.conn())
            .await
            .unwrap();
            let pupr = platform::agencies::list(&t.db, &c, &Default::default())
                .await
                .unwrap()
                .into_iter()
                .find(|a| a.short_name == "Dinas PUPR")
                .unwrap();
            let mut m = xml_id.clone().into_active_model();
            m.agency_id = Set(Some(pupr.id));
            m.update(t.db.conn()).await.unwrap();
            file
        };

        // Read it back: default window, newest first, filters, one request; never the submitter.
        let list: serde_json::Value = get("/open311/v2/requests.json")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list.as_array().unwrap().len(), 2);
        let one = &list
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["service_request_id"] == id.as_str())
            .unwrap();
        assert_eq!(one["status"], "open");
        assert_eq!(one["service_code"], "lampu-jalan");
        assert!(
            one["expected_datetime"]
                .as_str()
                .unwrap()
                .ends_with("+07:00"),
            "{}",
            one["expected_datetime"]
        );
        assert_eq!(one["lat"], 3.6001);
        assert_eq!(one["media_url"], "https://contoh.id/lampu.jpg");
        assert!(one["agency_responsible"].is_null(), "not yet dispositioned");
        let newest = &list[0];
        assert_eq!(newest["service_request_id"], xml_id.code.as_str());
        assert_eq!(
            newest["agency_responsible"],
            "Dinas Pekerjaan Umum dan Penataan Ruang"
        );
        let media = newest["media_url"].as_str().unwrap();
        assert!(
            media.ends_with(&format!("/pengaduan/{}/foto/{file}", xml_id.code)),
            "{media}"
        );
        let body = get("/open311/v2/requests.json")
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !body.contains("pelapor@contoh.id") && !body.contains("Siti"),
            "no submitter identity"
        );
        let f: serde_json::Value = get("/open311/v2/requests.json?service_code=sampah")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(f.as_array().unwrap().len(), 0);
        let f: serde_json::Value = get("/open311/v2/requests.json?status=closed")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(f.as_array().unwrap().len(), 0);
        let f: serde_json::Value =
            get("/open311/v2/requests.json?status=open&service_code=lampu-jalan,sampah")
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        assert_eq!(f.as_array().unwrap().len(), 2);
        let f: serde_json::Value = get(&format!(
            "/open311/v2/requests.json?service_request_id={id}&status=closed"
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(
            f.as_array().unwrap().len(),
            1,
            "service_request_id overrides the other filters"
        );
        let r = get("/open311/v2/requests.json?start_date=kemarin")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(
            r.json::<serde_json::Value>().await.unwrap()[0]["description"]
                .as_str()
                .unwrap()
                .contains("start_date")
        );
        let r = get("/open311/v2/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z").await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let r = get("/open311/v2/requests.json?status=pending")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let one: serde_json::Value = get(&format!("/open311/v2/requests/{id}.json"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(one[0]["service_request_id"], id.as_str());
        let x = get(&format!("/open311/v2/requests/{id}.xml"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(x.contains(&format!(
            "<service_request_id>{id}</service_request_id><status>open</status>"
        )));
        assert_eq!(
            get("/open311/v2/requests/ADU-2026-999999.json")
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            get("/open311/v2/tokens/abc.json").await.unwrap().status(),
            StatusCode::NOT_FOUND
        );
        // jurisdiction_id: the city's code selects it; an unknown one is 404.
        assert_eq!(
            get("/open311/v2/services.json?jurisdiction_id=12.75")
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            get("/open311/v2/services.json?jurisdiction_id=31.71")
                .await
                .unwrap()
                .status(),
            StatusCode::NOT_FOUND
        );
    }
);
