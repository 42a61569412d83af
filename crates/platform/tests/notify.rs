//! The deadline and notification engine against real servers on loopback (an SMTP listener and
//! an HTTP server standing in for the SMS gateway), with a fake clock, on both backends.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::*;
use platform::accounts::{self, StaffInput};
use platform::audit::Actor;
use platform::city::{City, CityCache};
use platform::clock::FakeClock;
use platform::db::Db;
use platform::db_test;
use platform::deadlines::{self, Bucket, NewDeadline};
use platform::notify::{self, Notice, Notifier, NotifySettings, Person, Prefs, SmsGateway};
use platform::testkit::{HttpSink, SmtpSink, TestApp, TestDb};
use reqwest::StatusCode;

fn wib(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Jakarta
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("time")
        .with_timezone(&Utc)
}

fn gateway(sms: &HttpSink) -> SmsGateway {
    SmsGateway {
        url: sms.url("/send"),
        method: "POST".into(),
        headers: [("Authorization".to_string(), "Bearer uji".to_string())].into(),
        body: Some(r#"{"to":"{to_msisdn}","text":"{text}","ref":"{key}"}"#.into()),
        content_type: Some("application/json".into()),
        success_contains: Some("OK".into()),
    }
}

fn notifier(clock: &FakeClock, smtp: Option<&SmtpSink>, sms: Option<&HttpSink>) -> Notifier {
    Notifier::new(
        NotifySettings {
            public_url: "https://binjaikota.example.id".into(),
            smtp_url: smtp.map(|s| s.url()).unwrap_or_default(),
            mail_from: "Balaikota Binjai <noreply@binjaikota.example.id>".into(),
            sms: sms.map(gateway),
            max_attempts: 3,
            backoff_secs: 30,
        },
        Arc::new(clock.clone()),
    )
    .expect("notifier")
}

struct World {
    city: City,
    agency: uuid::Uuid,
    officer: accounts::Account,
    head: accounts::Account,
    inspector: accounts::Account,
}

async fn person(
    db: &Db,
    c: &City,
    username: &str,
    role: &str,
    agency: Option<uuid::Uuid>,
    n: u32,
) -> accounts::Account {
    accounts::create_staff(
        db,
        &pw(),
        c,
        &Actor::cli(),
        &StaffInput {
            username: username.into(),
            full_name: format!("Staf {username}"),
            role: role.into(),
            agency_id: agency.map(|a| a.to_string()).unwrap_or_default(),
            password: "rahasia-123".into(),
            email: format!("{username}@binjai.example.id"),
            phone: format!("0812-7777-{n:04}"),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{username}: {e:?}"))
}

async fn world(db: &Db) -> World {
    let city = city(db, "12.75").await;
    let a = agency(
        db,
        &city,
        "Dinas Penanaman Modal dan PTSP",
        "DPMPTSP",
        "dinas",
    )
    .await;
    let officer = person(db, &city, "petugas", "officer", Some(a.id), 1).await;
    let head = person(db, &city, "kepala", "head", Some(a.id), 2).await;
    let inspector = person(db, &city, "inspektur", "inspectorate", None, 3).await;
    World {
        city,
        agency: a.id,
        officer,
        head,
        inspector,
    }
}

async fn start_siup(db: &Db, w: &World, at: DateTime<Utc>, n: u32) -> uuid::Uuid {
    let tx = db.tx().await.unwrap();
    let id = deadlines::start(
        &tx,
        &w.city,
        at,
        NewDeadline {
            app: "perizinan".into(),
            kind: "perizinan.siup".into(),
            subject_type: "permohonan".into(),
            subject_id: format!("IZN-2026-{n:06}"),
            stage: "Verifikasi".into(),
            title: format!("SIUP CV Maju {n}"),
            link: format!("/perizinan/IZN-2026-{n:06}"),
            agency_id: Some(w.agency),
            assignee_id: Some(w.officer.id),
            requester_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn run(
    db: &Db,
    cities: &CityCache,
    n: &Notifier,
) -> (deadlines::TickReport, notify::DeliveryReport) {
    let t = deadlines::tick(db, cities, n).await.unwrap();
    let d = n.deliver_due(db, 1000).await.unwrap();
    (t, d)
}

fn mails_to(smtp: &SmtpSink, addr: &str) -> Vec<platform::testkit::ReceivedMail> {
    smtp.received()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == addr))
        .collect()
}

fn sms_to(sms: &HttpSink, msisdn: &str) -> Vec<serde_json::Value> {
    sms.received()
        .into_iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.body).ok())
        .filter(|v| v["to"] == msisdn)
        .collect()
}

db_test!(
    siup_deadline_from_friday_before_independence_day_warns_and_breaches_on_time,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        let smtp = SmtpSink::start_new().await;
        let sms = HttpSink::start().await;
        // Friday 14 August 2026, 10.00 WIB; Monday 17 August is a holiday.
        let clock = FakeClock::at(wib(2026, 8, 14, 10, 0));
        let n = notifier(&clock, Some(&smtp), Some(&sms));
        let cities = CityCache::default();
        let id = start_siup(&t.db, &w, clock.now_utc(), 1).await;

        let d = deadlines::get(&t.db, &w.city, id, clock.now_utc())
            .await
            .unwrap()
            .unwrap();
        // 24 working hours: Fri 6 h, (Mon holiday), Tue 8 h, Wed 8 h, Thu 2 h.
        assert_eq!(d.due_at, Some(wib(2026, 8, 20, 10, 0)));
        // 75 %: 18 h, Wednesday 12.00.
        assert_eq!(d.warn_at, Some(wib(2026, 8, 19, 12, 0)));
        assert_eq!(d.state, "on_track");

        clock.set(wib(2026, 8, 19, 11, 59));
        let (tr, _) = run(&t.db, &cities, &n).await;
        assert_eq!(tr.fired, 0, "nothing before the warn point");
        assert!(smtp.received().is_empty());

        clock.set(wib(2026, 8, 19, 12, 0));
        let (tr, dr) = run(&t.db, &cities, &n).await;
        assert_eq!(tr.fired, 1, "the warning fires at 12.00");
        assert_eq!(dr.sent, 2, "email and in-app to the officer");
        let warn = mails_to(&smtp, "petugas@binjai.example.id");
        assert_eq!(warn.len(), 1);
        assert_eq!(warn[0].subject(), "Pengingat tenggat: SIUP CV Maju 1");
        assert!(
            warn[0].text().contains("20 Agu 2026 10.00 WIB"),
            "{}",
            warn[0].text()
        );
        assert!(
            warn[0]
                .text()
                .contains("https://binjaikota.example.id/perizinan/IZN-2026-000001")
        );
        assert_eq!(
            notify::unread_count(&t.db, "12.75", w.officer.id)
                .await
                .unwrap(),
            1
        );
        assert!(
            sms.received().is_empty(),
            "the warning rung does not use SMS"
        );
        let d = deadlines::get(&t.db, &w.city, id, clock.now_utc())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.state, "at_risk");

        clock.set(wib(2026, 8, 20, 9, 59));
        assert_eq!(run(&t.db, &cities, &n).await.0.fired, 0);

        clock.set(wib(2026, 8, 20, 10, 0));
        let (tr, _) = run(&t.db, &cities, &n).await;
        assert_eq!(tr.fired, 1, "the breach fires at 10.00 on Thursday");
        // The same instant ticked again, and later: nothing new.
        run(&t.db, &cities, &n).await;
        clock.set(wib(2026, 8, 20, 10, 30));
        assert_eq!(run(&t.db, &cities, &n).await.0.fired, 0);

        let insp = mails_to(&smtp, "inspektur@binjai.example.id");
        assert_eq!(insp.len(), 1, "the Inspektorat gets one email");
        assert_eq!(insp[0].subject(), "Lewat tenggat: SIUP CV Maju 1");
        assert!(insp[0].text().contains("Dinas Penanaman Modal dan PTSP"));
        assert!(insp[0].text().contains("Staf petugas"));
        let texts = sms_to(&sms, "6281277770003");
        assert_eq!(texts.len(), 1, "the Inspektorat gets one SMS");
        let text = texts[0]["text"].as_str().unwrap();
        assert!(text.len() <= 160, "{text}");
        assert!(
            text.contains("SIUP CV Maju 1") && text.contains("https://binjaikota.example.id/l/"),
            "{text}"
        );
        assert_eq!(mails_to(&smtp, "kepala@binjai.example.id").len(), 1);
        assert_eq!(sms_to(&sms, "6281277770002").len(), 1);
        let req = &sms.received()[0];
        assert_eq!(req.header("authorization"), Some("Bearer uji"));
        assert_eq!(req.header("content-type"), Some("application/json"));

        // The short link in the SMS leads to the permit.
        let code = text.rsplit("/l/").next().unwrap().to_string();
        assert_eq!(
            notify::short_target(&t.db, &w.city, &code)
                .await
                .unwrap()
                .as_deref(),
            Some("/perizinan/IZN-2026-000001")
        );

        // Overview: the deadline is breached; stopping it records how late.
        let over = deadlines::overview(
            &t.db,
            &w.city,
            Bucket::Breached,
            None,
            clock.now_utc(),
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].late_by_secs, Some(30 * 60));
        let tx = t.db.tx().await.unwrap();
        let done = deadlines::stop(&tx, &w.city, id, clock.now_utc())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(done.state, "late");
        assert_eq!(done.late_by_secs, Some(30 * 60));
        clock.set(wib(2026, 8, 27, 10, 0));
        assert_eq!(
            run(&t.db, &cities, &n).await.0.fired,
            0,
            "a stopped deadline escalates no more"
        );
    }
);

db_test!(
    pausing_holds_the_deadline_and_the_ladder,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        let clock = FakeClock::at(wib(2026, 11, 23, 8, 0)); // Monday
        let n = notifier(&clock, None, None);
        let cities = CityCache::default();
        let id = start_siup(&t.db, &w, clock.now_utc(), 2).await;
        // Waiting on the applicant from Monday 12.00 to Wednesday 12.00.
        clock.set(wib(2026, 11, 23, 12, 0));
        let tx = t.db.tx().await.unwrap();
        let d = deadlines::pause(&tx, &w.city, id, clock.now_utc())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(d.state, "paused");
        assert_eq!(d.due_at, None);
        clock.set(wib(2026, 11, 26, 8, 0));
        assert_eq!(
            run(&t.db, &cities, &n).await.0.fired,
            0,
            "a paused deadline does not escalate"
        );
        let paused =
            deadlines::overview(&t.db, &w.city, Bucket::Paused, None, clock.now_utc(), 10, 0)
                .await
                .unwrap();
        assert_eq!(paused.len(), 1);
        clock.set(wib(2026, 11, 25, 12, 0));
        let tx = t.db.tx().await.unwrap();
        let d = deadlines::resume(&tx, &w.city, id, clock.now_utc())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // 4 h used before the pause, 20 h left from Wednesday 12.00: Wed 4, Thu 8, Fri 8.
        assert_eq!(d.due_at, Some(wib(2026, 11, 27, 16, 0)));
        assert_eq!(d.state, "on_track");
    }
);

db_test!(
    smtp_outage_then_each_message_delivered_exactly_once,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        let smtp = SmtpSink::start_new().await;
        let clock = FakeClock::at(wib(2026, 11, 23, 9, 0));
        let n = notifier(&clock, Some(&smtp), None);
        smtp.stop();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let inspector = Person::from_account_view(&w.inspector, Prefs::default());
        for i in 1..=5 {
            let tx = t.db.tx().await.unwrap();
            let vars = |_: kernel::Lang| vec![("name", format!("Pesan {i}"))];
            let added = n
                .enqueue(
                    &tx,
                    &w.city,
                    std::slice::from_ref(&inspector),
                    &[kernel::sla::Channel::Email],
                    &Notice {
                        template: "account.welcome",
                        vars: &vars,
                        link: Some("/akun".into()),
                        source_type: "test",
                        source_id: i.to_string(),
                        key: format!("outage:{i}"),
                    },
                )
                .await
                .unwrap();
            assert_eq!(added, 1);
            tx.commit().await.unwrap();
        }
        // The same notice again is not queued twice.
        let tx = t.db.tx().await.unwrap();
        let vars = |_: kernel::Lang| vec![("name", "Pesan 1".to_string())];
        let again = n
            .enqueue(
                &tx,
                &w.city,
                std::slice::from_ref(&inspector),
                &[kernel::sla::Channel::Email],
                &Notice {
                    template: "account.welcome",
                    vars: &vars,
                    link: None,
                    source_type: "test",
                    source_id: "1".into(),
                    key: "outage:1".into(),
                },
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(again, 0);

        let r = n.deliver_due(&t.db, 100).await.unwrap();
        assert_eq!((r.sent, r.failed), (0, 5), "the listener is down");
        let failed = notify::outbox_list(&t.db, &w.city, Some("failed"), 10, 0)
            .await
            .unwrap();
        assert_eq!(failed.len(), 5);
        assert!(
            failed
                .iter()
                .all(|m| m.last_error.as_deref().is_some_and(|e| !e.is_empty()))
        );
        // Not before the backoff has passed.
        assert_eq!(n.deliver_due(&t.db, 100).await.unwrap().failed, 0);

        smtp.start().await;
        clock.advance(Duration::seconds(31));
        let r = n.deliver_due(&t.db, 100).await.unwrap();
        assert_eq!(r.sent, 5);
        clock.advance(Duration::hours(1));
        assert_eq!(n.deliver_due(&t.db, 100).await.unwrap().sent, 0);
        let got = smtp.received();
        assert_eq!(got.len(), 5, "each delivered once");
        let mut names: Vec<String> = got.iter().map(|m| m.text()).collect();
        names.sort();
        for (i, text) in names.iter().enumerate() {
            assert!(text.contains(&format!("Pesan {}", i + 1)), "{text}");
        }
        assert!(
            got.iter()
                .all(|m| m.to == vec!["inspektur@binjai.example.id".to_string()])
        );
        assert!(
            got.iter()
                .all(|m| m.subject() == "Selamat datang di Kota Binjai")
        );
    }
);

db_test!(
    sms_gateway_errors_are_retried_then_dead_and_never_sent_twice,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        let sms = HttpSink::start().await;
        sms.answer_with(500, "ERR quota");
        let clock = FakeClock::at(wib(2026, 11, 23, 9, 0));
        let n = notifier(&clock, None, Some(&sms));
        let mut no_phone = Person::from_account_view(&w.head, Prefs::default());
        no_phone.phone = None;
        let mut sms_off = Person::from_account_view(&w.officer, Prefs::default());
        sms_off.prefs.sms = false;
        let people = [
            Person::from_account_view(&w.inspector, Prefs::default()),
            no_phone,
            sms_off,
        ];
        let tx = t.db.tx().await.unwrap();
        let vars = |_: kernel::Lang| vec![("name", "Ibu Inspektur".to_string())];
        n.enqueue(
            &tx,
            &w.city,
            &people,
            &[kernel::sla::Channel::Sms, kernel::sla::Channel::Email],
            &Notice {
                template: "account.welcome",
                vars: &vars,
                link: Some("/akun".into()),
                source_type: "test",
                source_id: "1".into(),
                key: "gw:1".into(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let skipped = notify::outbox_list(&t.db, &w.city, Some("skipped"), 10, 0)
            .await
            .unwrap();
        let mut reasons: Vec<_> = skipped
            .iter()
            .map(|m| {
                (
                    m.recipient.clone(),
                    m.channel.clone(),
                    m.last_error.clone().unwrap(),
                )
            })
            .collect();
        reasons.sort();
        assert_eq!(
            reasons,
            vec![
                (
                    "Staf inspektur".into(),
                    "email".into(),
                    "email_not_configured".into()
                ),
                (
                    "Staf kepala".into(),
                    "email".into(),
                    "email_not_configured".into()
                ),
                ("Staf kepala".into(), "sms".into(), "no_phone".into()),
                (
                    "Staf petugas".into(),
                    "email".into(),
                    "email_not_configured".into()
                ),
                ("Staf petugas".into(), "sms".into(), "pref_off".into()),
            ]
        );

        for attempt in 1..=3 {
            let r = n.deliver_due(&t.db, 100).await.unwrap();
            if attempt < 3 {
                assert_eq!(r.failed, 1, "attempt {attempt}");
            } else {
                assert_eq!(r.dead, 1, "dead after 3 tries");
            }
            clock.advance(Duration::hours(1));
        }
        let dead = notify::outbox_list(&t.db, &w.city, Some("dead"), 10, 0)
            .await
            .unwrap();
        assert_eq!(dead.len(), 1);
        assert!(
            dead[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("gateway answered 500"),
            "{:?}",
            dead[0].last_error
        );
        assert_eq!(
            n.deliver_due(&t.db, 100).await.unwrap(),
            notify::DeliveryReport::default(),
            "dead stays dead"
        );
        assert_eq!(sms.received().len(), 3);

        // The admin sends it again once the gateway is fixed; it goes once.
        sms.answer_with(200, "OK id=77");
        notify::retry(
            &t.db,
            &w.city,
            &Actor::cli(),
            dead[0].id,
            platform::clock::to_us(clock.now_utc()),
        )
        .await
        .unwrap();
        assert_eq!(n.deliver_due(&t.db, 100).await.unwrap().sent, 1);
        assert_eq!(n.deliver_due(&t.db, 100).await.unwrap().sent, 0);
        assert_eq!(sms.received().len(), 4);
        let last = serde_json::from_str::<serde_json::Value>(&sms.received()[3].body).unwrap();
        assert_eq!(last["to"], "6281277770003");
        assert_eq!(
            last["text"].as_str().unwrap().split(" https://").next(),
            Some("Kota Binjai: akun Anda aktif.")
        );
        // A 200 answer without the success text is a failure too.
        sms.answer_with(200, "FAILED");
        let tx = t.db.tx().await.unwrap();
        n.enqueue(
            &tx,
            &w.city,
            &people[..1],
            &[kernel::sla::Channel::Sms],
            &Notice {
                template: "account.welcome",
                vars: &vars,
                link: None,
                source_type: "test",
                source_id: "2".into(),
                key: "gw:2".into(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let r = n.deliver_due(&t.db, 100).await.unwrap();
        assert_eq!(r.failed, 1);
        let failed = notify::outbox_list(&t.db, &w.city, Some("failed"), 10, 0)
            .await
            .unwrap();
        assert!(
            failed[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("lacks \"OK\"")
        );
    }
);

db_test!(
    two_instances_on_one_database_notify_once,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        let smtp = SmtpSink::start_new().await;
        let sms = HttpSink::start().await;
        let clock = FakeClock::at(wib(2026, 11, 23, 8, 0));
        for i in 0..6 {
            start_siup(&t.db, &w, clock.now_utc(), 10 + i).await;
        }
        // Long after every rung of the ladder is due.
        clock.set(wib(2026, 12, 10, 9, 0));
        let other = t.reconnect().await;
        let (a, b) = (
            notifier(&clock, Some(&smtp), Some(&sms)),
            notifier(&clock, Some(&smtp), Some(&sms)),
        );
        let (ca, cb) = (CityCache::default(), CityCache::default());
        let mut fired = 0;
        for _ in 0..3 {
            let (ra, rb) = tokio::join!(run(&t.db, &ca, &a), run(&other, &cb, &b));
            fired += ra.0.fired + rb.0.fired;
        }
        // Per deadline: warn, breach, after-breach ×3 (8 h, then twice more), Sekda = 6 rungs.
        assert_eq!(fired, 6 * 6);
        // Inspektorat: breach + 3 after-breach reminders, by email and SMS, per deadline.
        assert_eq!(mails_to(&smtp, "inspektur@binjai.example.id").len(), 6 * 4);
        assert_eq!(sms_to(&sms, "6281277770003").len(), 6 * 4);
        assert_eq!(mails_to(&smtp, "petugas@binjai.example.id").len(), 6);
        let mut ids: Vec<String> = smtp
            .received()
            .iter()
            .filter_map(|m| {
                m.data
                    .lines()
                    .find(|l| l.starts_with("Message-ID"))
                    .map(str::to_string)
            })
            .collect();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "no message delivered twice");
        other.close().await;
    }
);

db_test!(
    admin_pages_show_calendar_ladders_outbox_and_refuse_bad_input,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        person(&t.db, &w.city, "admin", "admin", None, 9).await;
        let clock = FakeClock::at(wib(2026, 8, 14, 10, 0));
        let n = notifier(&clock, None, None);
        let app = TestApp::spawn_with(t, Some("12.75"), n.clone()).await;
        let b = app.browser();
        b.login("", "admin", "rahasia-123").await;

        // The calendar holds Indonesia's 2026 holidays from the start.
        let page = b.get("/admin/kalender").await.text().await.unwrap();
        assert!(
            page.contains("Proklamasi Kemerdekaan") && page.contains("Cuti bersama"),
            "calendar page"
        );
        let csv = b.get("/admin/kalender.csv").await.text().await.unwrap();
        assert!(
            csv.starts_with("date,kind,name\n")
                && csv.contains("2026-08-17,libur_nasional,Proklamasi Kemerdekaan")
        );

        // Bad rows: each named by line, nothing saved.
        let r = b
            .post_form("/admin/kalender/impor", &[("csv", "date,kind,name\n2027-01-01,libur_nasional,Tahun Baru\n2027-13-01,libur_nasional,Salah\n2027-02-02,libur,Salah juga\n")])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Baris 3: Tanggal harus seperti 2026-08-17."),
            "{page}"
        );
        assert!(
            page.contains("Baris 4: Jenis harus libur_nasional"),
            "line 4"
        );
        assert!(!page.contains("Tahun Baru</td>"), "nothing imported");
        let r = b
            .post_form(
                "/admin/kalender/impor",
                &[(
                    "csv",
                    "date,kind,name\n2027-01-01,libur_nasional,Tahun Baru 2027\n",
                )],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            b.get("/admin/kalender")
                .await
                .text()
                .await
                .unwrap()
                .contains("Tahun Baru 2027")
        );
        let r = b
            .post_form("/admin/kalender", &[("open", "16:00"), ("close", "08:00")])
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Jam tutup harus sesudah jam buka.")
        );

        // Ladders: the SIUP rule is there; an unknown recipient is named and nothing changes.
        let page = b.get("/admin/tenggat").await.text().await.unwrap();
        assert!(
            page.contains("Penerbitan SIUP") && page.contains("Inspektorat (Email, SMS"),
            "ladders page"
        );
        let bad = r#"[{"trigger":"breach","notify":["walikota"],"channels":["email"]}]"#;
        let r = b
            .post_form(
                "/admin/tenggat/perizinan.siup",
                &[
                    ("label_id", "SIUP"),
                    ("label_en", "SIUP"),
                    ("budget_unit", "working_hours"),
                    ("budget", "24"),
                    ("warn_pct", "75"),
                    ("ladder", bad),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Anak tangga 1: penerima &#34;walikota&#34; tidak dikenal")
                || page.contains("Anak tangga 1: penerima &quot;walikota&quot; tidak dikenal"),
            "{page}"
        );
        let p = deadlines::policy(t.db.conn(), &w.city, "perizinan.siup")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.ladder.len(), 4, "unchanged");
        let r = b
            .post_form("/admin/tenggat/baru", &[("kind", "perizinan.imb"), ("label_id", "IMB"), ("label_en", "Building permit"), ("budget_unit", "working_days"), ("budget", "14"), ("warn_pct", "80"), ("ladder", r#"[{"trigger":"breach","notify":["agency_head"],"channels":["email","in_app"]}]"#)])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(
            deadlines::policy(t.db.conn(), &w.city, "perizinan.imb")
                .await
                .unwrap()
                .is_some()
        );

        // Templates: an unknown placeholder is refused by name.
        let r = b
            .post_form(
                "/admin/templat/sla.breach/id",
                &[
                    ("subject", "Terlambat: {judul}"),
                    ("body", "x"),
                    ("sms", "y"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("Isian {judul} tidak dikenal")
        );
        let r = b
            .post_form(
                "/admin/templat/sla.breach/id",
                &[
                    ("subject", "TERLAMBAT: {title}"),
                    ("body", "{title} lewat {due}"),
                    ("sms", "{title} lewat"),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);

        // A breached SIUP shows in the overview (page and API), the outbox and the bell.
        let id = start_siup(&t.db, &w, clock.now_utc(), 3).await;
        clock.set(wib(2026, 8, 20, 10, 5));
        run(&t.db, &app.state.cities, &n).await;
        let page = b.get("/tenggat").await.text().await.unwrap();
        assert!(
            page.contains("SIUP CV Maju 3") && page.contains("Lewat tenggat"),
            "overview page"
        );
        let api: serde_json::Value = b
            .client
            .get(app.url("/api/v1/deadlines?status=breached"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(api["counts"]["breached"], 1);
        assert_eq!(api["items"][0]["id"], id.to_string());
        assert_eq!(api["items"][0]["late_by_secs"], 300);
        let r = b
            .client
            .get(app.url("/api/v1/deadlines?status=late"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            r.json::<serde_json::Value>().await.unwrap()["error"],
            "status_invalid"
        );

        let page = b.get("/admin/kotak-keluar").await.text().await.unwrap();
        assert!(
            page.contains("TERLAMBAT: SIUP CV Maju 3"),
            "the city's own wording is used"
        );
        assert!(
            page.contains("Email belum diatur di server."),
            "skipped with its reason"
        );
        let skipped = notify::outbox_list(&t.db, &w.city, Some("skipped"), 50, 0)
            .await
            .unwrap();
        let one = skipped.iter().find(|m| m.channel == "email").unwrap();
        let r = b
            .post_form(&format!("/admin/kotak-keluar/{}/ulang", one.id), &[])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let after = notify::outbox_list(&t.db, &w.city, Some("pending"), 50, 0)
            .await
            .unwrap();
        assert!(after.iter().any(|m| m.id == one.id));

        // The officer's bell counts the warning.
        let officer = app.browser();
        officer.login("", "petugas", "rahasia-123").await;
        let page = officer.get("/staf").await.text().await.unwrap();
        assert!(
            page.contains("class=\"count\">1<span class=\"visually-hidden\"> belum dibaca</span>"),
            "bell count"
        );
        let page = officer.get("/notifikasi").await.text().await.unwrap();
        assert!(page.contains("Pengingat tenggat: SIUP CV Maju 3"));
        officer.post_form("/notifikasi/baca", &[]).await;
        assert!(
            !officer
                .get("/staf")
                .await
                .text()
                .await
                .unwrap()
                .contains("class=\"count\"")
        );
        // Choices on the account page.
        let r = officer
            .post_form("/akun/notifikasi", &[("email", "1"), ("in_app", "1")])
            .await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            notify::prefs_of(t.db.conn(), "12.75", w.officer.id)
                .await
                .unwrap(),
            Prefs {
                email: true,
                sms: false,
                in_app: true
            }
        );
        // The overview is not for officers.
        assert_eq!(
            officer.get("/tenggat").await.status(),
            StatusCode::FORBIDDEN
        );
    }
);

db_test!(webhook_gets_a_signed_copy, async |t: &TestDb| {
    use hmac::{Hmac, Mac};
    let w = world(&t.db).await;
    let hook = HttpSink::start().await;
    let clock = FakeClock::at(wib(2026, 11, 23, 9, 0));
    let n = notifier(&clock, None, None);
    // A bad URL or a short secret is refused, field by field.
    let e = notify::save_webhook(
        &t.db,
        &w.city,
        &Actor::cli(),
        &notify::WebhookInput {
            url: "ftp://x".into(),
            secret: "pendek".into(),
            active: Some("1".into()),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        keys(e),
        vec![
            ("url".to_string(), "url_invalid"),
            ("secret".to_string(), "too_short")
        ]
    );
    let secret = "rahasia-webhook-binjai-2026";
    notify::save_webhook(
        &t.db,
        &w.city,
        &Actor::cli(),
        &notify::WebhookInput {
            url: hook.url("/hook"),
            secret: secret.into(),
            active: Some("1".into()),
        },
    )
    .await
    .unwrap();
    let tx = t.db.tx().await.unwrap();
    let vars = |_: kernel::Lang| vec![("name", "Tim".to_string())];
    let people = [Person::from_account_view(&w.inspector, Prefs::default())];
    let added = n
        .enqueue(
            &tx,
            &w.city,
            &people,
            &[kernel::sla::Channel::Webhook, kernel::sla::Channel::InApp],
            &Notice {
                template: "account.welcome",
                vars: &vars,
                link: Some("/akun".into()),
                source_type: "test",
                source_id: "w1".into(),
                key: "hook:1".into(),
            },
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        added, 2,
        "one webhook call per notice, one in-app row per person"
    );
    assert_eq!(n.deliver_due(&t.db, 10).await.unwrap().sent, 2);
    let got = hook.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    let ts = r.header("x-balaikota-timestamp").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{}", r.body).as_bytes());
    let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(r.header("x-balaikota-signature"), Some(want.as_str()));
    assert!(
        r.header("idempotency-key")
            .unwrap()
            .starts_with("hook:1:webhook")
    );
    let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["subject"], "Selamat datang di Kota Binjai");
    assert_eq!(body["link"], "https://binjaikota.example.id/akun");
    assert_eq!(body["city"], "12.75");
    let inbox = notify::inbox(&t.db, "12.75", w.inspector.id, 10)
        .await
        .unwrap();
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].title, "Selamat datang di Kota Binjai");
});

db_test!(
    an_unreachable_gateway_is_recorded_and_retried_not_lost,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        // A port nobody listens on.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let clock = FakeClock::at(wib(2026, 11, 23, 9, 0));
        let n = Notifier::new(
            NotifySettings {
                smtp_url: format!("smtp://127.0.0.1:{port}"),
                sms: Some(SmsGateway {
                    url: format!("http://127.0.0.1:{port}/send"),
                    method: "POST".into(),
                    headers: Default::default(),
                    body: Some("to={to}&text={text}".into()),
                    content_type: Some("application/x-www-form-urlencoded".into()),
                    success_contains: None,
                }),
                max_attempts: 5,
                ..Default::default()
            },
            Arc::new(clock.clone()),
        )
        .unwrap();
        let tx = t.db.tx().await.unwrap();
        let vars = |_: kernel::Lang| vec![("name", "Tim".to_string())];
        n.enqueue(
            &tx,
            &w.city,
            &[Person::from_account_view(&w.inspector, Prefs::default())],
            &[kernel::sla::Channel::Email, kernel::sla::Channel::Sms],
            &Notice {
                template: "account.welcome",
                vars: &vars,
                link: None,
                source_type: "test",
                source_id: "u1".into(),
                key: "unreachable:1".into(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let r = n.deliver_due(&t.db, 10).await.unwrap();
        assert_eq!(r.failed, 2);
        let failed = notify::outbox_list(&t.db, &w.city, Some("failed"), 10, 0)
            .await
            .unwrap();
        let sms = failed.iter().find(|m| m.channel == "sms").unwrap();
        assert!(
            sms.last_error
                .as_deref()
                .unwrap()
                .starts_with("gateway unreachable"),
            "{:?}",
            sms.last_error
        );
        let mail = failed.iter().find(|m| m.channel == "email").unwrap();
        assert!(!mail.last_error.as_deref().unwrap().is_empty());
        // Waiting 30 s, then 60 s: the next try comes after the backoff, not before.
        assert!(sms.next_attempt_at > clock.now_utc());
        assert_eq!(sms.next_attempt_at - clock.now_utc(), Duration::seconds(30));
    }
);

db_test!(
    kept_calendar_and_wording_follow_a_change_at_once,
    async |t: &TestDb| {
        let w = world(&t.db).await;
        let clock = FakeClock::at(wib(2026, 8, 14, 10, 0));
        let n = notifier(&clock, None, None);
        // Read (and kept): Monday 17 August is a holiday, so 24 working hours end on Thursday.
        let a = start_siup(&t.db, &w, clock.now_utc(), 1).await;
        let due = async |id| {
            deadlines::get(&t.db, &w.city, id, clock.now_utc())
                .await
                .unwrap()
                .unwrap()
                .due_at
        };
        assert_eq!(due(a).await, Some(wib(2026, 8, 20, 10, 0)));
        // Without the holiday, the next deadline ends a working day earlier: the change is not
        // hidden behind the kept calendar.
        platform::calendar::delete_holiday(&t.db, &w.city, &Actor::cli(), "2026-08-17")
            .await
            .unwrap();
        let b = start_siup(&t.db, &w, clock.now_utc(), 2).await;
        assert_eq!(due(b).await, Some(wib(2026, 8, 19, 10, 0)));

        // The city's own wording is used by the very next notice.
        let inspector = Person::from_account_view(&w.inspector, Prefs::default());
        let send = async |i: u32| {
            let tx = t.db.tx().await.unwrap();
            let vars = |_: kernel::Lang| vec![("name", format!("Pesan {i}"))];
            n.enqueue(
                &tx,
                &w.city,
                std::slice::from_ref(&inspector),
                &[kernel::sla::Channel::InApp],
                &Notice {
                    template: "account.welcome",
                    vars: &vars,
                    link: None,
                    source_type: "test",
                    source_id: i.to_string(),
                    key: format!("kept:{i}"),
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        };
        send(1).await;
        platform::notify::templates::save(
            &t.db,
            &w.city,
            &Actor::cli(),
            "account.welcome",
            kernel::Lang::Id,
            &platform::notify::templates::TemplateInput {
                subject: "Selamat datang di Binjai, {name}".into(),
                body: "Halo {name}.".into(),
                sms: "Halo {name}.".into(),
            },
        )
        .await
        .unwrap();
        send(2).await;
        let subjects: Vec<String> = notify::outbox_list(&t.db, &w.city, None, 10, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.subject)
            .collect();
        assert!(
            subjects.contains(&"Selamat datang di Binjai, Pesan 2".to_string()),
            "{subjects:?}"
        );
        assert!(
            !subjects.contains(&"Selamat datang di Binjai, Pesan 1".to_string()),
            "{subjects:?}"
        );
    }
);
