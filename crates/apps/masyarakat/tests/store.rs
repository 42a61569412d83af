//! e-Masyarakat's rules through its store, on both backends, with a fake clock: the happy path
//! from report to confirmed fix, needs-budget, bad input that saves nothing, duplicates, support,
//! privacy, and the deadlines and notices each step causes.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use masyarakat::domain::State;
use masyarakat::store::{self, ActionInput, CategoryInput, Question, ReportInput};
use platform::accounts::{self, Account, Passwords, RegisterInput, StaffInput};
use platform::agencies::{self, AgencyInput};
use platform::audit::Actor;
use platform::city::{self, City, CityCache, NewCity};
use platform::clock::FakeClock;
use platform::db_test;
use platform::deadlines::{self, Bucket};
use platform::files::FileStore;
use platform::notify::{self, Notifier, NotifySettings};
use platform::testkit::TestDb;

fn wib(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Jakarta
        .with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn jpeg() -> bytes::Bytes {
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    bytes::Bytes::from(out.into_inner())
}

struct W {
    city: City,
    clock: FakeClock,
    n: Notifier,
    files: FileStore,
    pupr: uuid::Uuid,
    bappeda: uuid::Uuid,
    citizen: Account,
    neighbour: Account,
    verifier: Account,
    officer: Account,
    other_officer: Account,
}

async fn staff(t: &TestDb, c: &City, u: &str, role: &str, agency: Option<uuid::Uuid>) -> Account {
    accounts::create_staff(
        &t.db,
        &Passwords::fast_for_tests(),
        c,
        &Actor::cli(),
        &StaffInput {
            username: u.into(),
            full_name: format!("Staf {u}"),
            role: role.into(),
            agency_id: agency.map(|a| a.to_string()).unwrap_or_default(),
            password: "rahasia-123".into(),
            email: format!("{u}@binjai.example.id"),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

async fn world(t: &TestDb) -> W {
    t.migrate(&masyarakat::migrations()).await;
    store::register_messages();
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
    let ag = |name: &str, short: &str| AgencyInput {
        name: name.into(),
        short_name: short.into(),
        kind: "dinas".into(),
        ..Default::default()
    };
    let pupr = agencies::create(&t.db, &city, &Actor::cli(), &ag("Dinas PUPR", "PUPR"))
        .await
        .unwrap()
        .id;
    let dlh = agencies::create(
        &t.db,
        &city,
        &Actor::cli(),
        &ag("Dinas Lingkungan Hidup", "DLH"),
    )
    .await
    .unwrap()
    .id;
    let bappeda = agencies::create(
        &t.db,
        &city,
        &Actor::cli(),
        &AgencyInput {
            kind: "badan".into(),
            ..ag("Bappeda", "Bappeda")
        },
    )
    .await
    .unwrap()
    .id;
    let pw = Passwords::fast_for_tests();
    let reg = |nik: &str, phone: &str, email: &str| RegisterInput {
        nik: nik.into(),
        full_name: "Budi Santoso".into(),
        phone: phone.into(),
        email: email.into(),
        password: "rahasia-123".into(),
        password_confirm: None,
    };
    let citizen = accounts::register_citizen(
        &t.db,
        &pw,
        &city,
        &reg(
            "1275021508900001",
            "0812-3456-7890",
            "budi@warga.example.id",
        ),
    )
    .await
    .unwrap();
    let neighbour = accounts::register_citizen(
        &t.db,
        &pw,
        &city,
        &reg("1275025508900002", "0812-3456-7891", ""),
    )
    .await
    .unwrap();
    let verifier = staff(t, &city, "operator", "operator", None).await;
    let officer = staff(t, &city, "petugas.pupr", "officer", Some(pupr)).await;
    let other_officer = staff(t, &city, "petugas.dlh", "officer", Some(dlh)).await;
    store::create_category(
        &t.db,
        &city,
        &Actor::cli(),
        &CategoryInput {
            code: "lampu-jalan".into(),
            name_id: "Lampu jalan mati".into(),
            name_en: "Streetlight out".into(),
            agency_id: Some(pupr),
            questions: vec![Question {
                code: "tiang".into(),
                label_id: "Nomor tiang".into(),
                label_en: "Pole number".into(),
                kind: "text".into(),
                required: false,
                options: vec![],
            }],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let clock = FakeClock::at(wib(2026, 11, 23, 9, 0)); // Monday
    let n = Notifier::new(
        NotifySettings {
            public_url: "https://binjaikota.example.id".into(),
            ..Default::default()
        },
        Arc::new(clock.clone()),
    )
    .unwrap();
    let files = FileStore::local(&t.dir.path().join("files")).unwrap();
    W {
        city,
        clock,
        n,
        files,
        pupr,
        bappeda,
        citizen,
        neighbour,
        verifier,
        officer,
        other_officer,
    }
}

async fn photo(w: &W, t: &TestDb, by: &Account) -> uuid::Uuid {
    w.files
        .save_image(&t.db, &w.city, &by.actor(), jpeg())
        .await
        .unwrap()
        .id
}

fn report_input(photo: uuid::Uuid) -> ReportInput {
    ReportInput {
        category: "lampu-jalan".into(),
        description: "Lampu jalan di depan SD Negeri 3 mati sejak seminggu.".into(),
        privacy: "public".into(),
        lat: "3.6001".into(),
        lon: "98.4852".into(),
        address: "Jl. Sudirman depan SD Negeri 3".into(),
        photos: vec![photo],
        ..Default::default()
    }
}

fn act(action: &str) -> ActionInput {
    ActionInput {
        action: action.into(),
        ..Default::default()
    }
}

/// The citizen files the usual report (with a photo of their own); its code.
async fn filed(t: &TestDb, w: &W) -> String {
    let p = photo(w, t, &w.citizen).await;
    store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &report_input(p))
        .await
        .unwrap()
        .code
}

/// The report's current stage, as its tracking page shows it now.
async fn step(t: &TestDb, w: &W, code: &str) -> Option<store::Step> {
    store::current_step(&t.db, &w.city, code, w.clock.now_utc())
        .await
        .unwrap()
}

fn keys(e: platform::AppError) -> Vec<(String, &'static str)> {
    match e {
        platform::AppError::Invalid(errs) => errs.0.into_iter().map(|e| (e.field, e.key)).collect(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

db_test!(
    a_streetlight_goes_from_report_to_confirmed_fix,
    async |t: &TestDb| {
        let w = world(t).await;
        let p = photo(&w, t, &w.citizen).await;
        let r = store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &report_input(p))
            .await
            .unwrap();
        assert_eq!(r.code, "ADU-2026-000001");
        assert_eq!(r.state, State::Diterima);
        assert_eq!(r.photos, vec![p]);
        // The verification deadline runs: 3 working days, due Thursday 09.00.
        let d = deadlines::of_subject(&t.db, &w.city, store::SUBJECT, &r.code, w.clock.now_utc())
            .await
            .unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].kind.as_str(), d[0].due_at),
            ("masyarakat.verifikasi", Some(wib(2026, 11, 26, 9, 0)))
        );
        // The tracking page and the API show the stage and when it is due.
        assert_eq!(
            step(t, &w, &r.code).await,
            Some(store::Step {
                stage: "verifikasi".into(),
                due_at: Some(wib(2026, 11, 26, 9, 0)),
                state: "on_track".into(),
            })
        );
        // The reporter got a receipt (in-app now; email and SMS are not configured here).
        let out = notify::outbox_list(&t.db, &w.city, None, 50, 0)
            .await
            .unwrap();
        assert!(out.iter().any(|m| m.channel == "in_app" && m.subject == "Pengaduan ADU-2026-000001 diterima"));

        // The agency cannot act before it has the report; the reporter cannot dispose.
        let e = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &r.code,
            &act("start"),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, platform::AppError::Forbidden), "{e:?}");
        let e = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &r.code,
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("action".to_string(), "transition_not_allowed")]
        );

        w.clock.set(wib(2026, 11, 24, 10, 0));
        let r = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &r.code,
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();
        assert_eq!((r.state, r.agency_id), (State::Didisposisi, Some(w.pupr)));
        assert_eq!(r.verified_at, Some(wib(2026, 11, 24, 10, 0)));
        let d = deadlines::of_subject(&t.db, &w.city, store::SUBJECT, &r.code, w.clock.now_utc())
            .await
            .unwrap();
        assert_eq!(d[0].state, "met", "verified on time");
        assert_eq!(
            (d[1].kind.as_str(), d[1].due_at),
            ("masyarakat.tindak_lanjut", Some(wib(2026, 12, 1, 10, 0)))
        );
        assert_eq!(
            step(t, &w, &r.code).await,
            Some(store::Step {
                stage: "tindak_lanjut".into(),
                due_at: Some(wib(2026, 12, 1, 10, 0)),
                state: "on_track".into(),
            })
        );
        // The officers of PUPR heard of it; those of DLH did not.
        let inbox = notify::outbox_list(&t.db, &w.city, None, 50, 0)
            .await
            .unwrap();
        assert!(inbox.iter().any(|m| m.account_id == Some(w.officer.id)
            && m.subject == "Pengaduan baru untuk OPD Anda: ADU-2026-000001"));
        assert!(
            !inbox
                .iter()
                .any(|m| m.account_id == Some(w.other_officer.id))
        );
        assert!(
            store::act(
                &t.db,
                &w.n,
                &w.files,
                &w.city,
                &w.other_officer,
                &r.code,
                &act("start")
            )
            .await
            .is_err()
        );

        let r = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &r.code,
            &act("start"),
        )
        .await
        .unwrap();
        assert_eq!(r.state, State::Diproses);
        // Fixing needs an after photo; nothing changes without one.
        let close = ActionInput {
            closure: "fixed_directly".into(),
            note: "Lampu sudah diganti.".into(),
            ..act("close")
        };
        let e = store::act(&t.db, &w.n, &w.files, &w.city, &w.officer, &r.code, &close)
            .await
            .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("after_photo".to_string(), "after_photo_required")]
        );
        let e = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &r.code,
            &ActionInput {
                closure: String::new(),
                ..close.clone()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(keys(e), vec![("closure".to_string(), "closure_required")]);
        assert_eq!(
            store::get_by_code(t.db.conn(), &w.city, &r.code)
                .await
                .unwrap()
                .unwrap()
                .state,
            State::Diproses
        );
        // Someone else's photo is not evidence.
        let e = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &r.code,
            &ActionInput {
                after_photo: p.to_string(),
                ..close.clone()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(keys(e), vec![("after_photo".to_string(), "photo_invalid")]);

        w.clock.set(wib(2026, 11, 26, 14, 0));
        let after = photo(&w, t, &w.officer).await;
        let r = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &r.code,
            &ActionInput {
                after_photo: after.to_string(),
                ..close
            },
        )
        .await
        .unwrap();
        assert_eq!(r.state, State::SelesaiLangsung);
        assert!(r.awaiting_confirmation);
        assert_eq!(
            r.confirm_due_at,
            Some(wib(2026, 12, 10, 14, 0)),
            "10 working days to confirm"
        );
        assert_eq!(r.status_note, "Lampu sudah diganti.");
        let d = deadlines::of_subject(&t.db, &w.city, store::SUBJECT, &r.code, w.clock.now_utc())
            .await
            .unwrap();
        assert_eq!(d[1].state, "met", "followed up on time");
        assert_eq!(
            step(t, &w, &r.code).await,
            None,
            "no clock runs once closed"
        );

        let r = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &r.code,
            &act("confirm"),
        )
        .await
        .unwrap();
        assert_eq!(
            (r.awaiting_confirmation, r.confirmation.as_deref()),
            (false, Some("confirmed"))
        );
        let tl = store::timeline(&t.db, &w.city, r.id, false).await.unwrap();
        let kinds: Vec<&str> = tl.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec!["submit", "dispose", "start", "close", "confirm"]
        );
        // Having answered, the reporter is not reminded.
        w.clock.set(wib(2027, 1, 4, 9, 0));
        assert_eq!(
            store::remind_to_confirm(&t.db, &CityCache::default(), &w.n)
                .await
                .unwrap(),
            0
        );
        let updates = notify::outbox_list(&t.db, &w.city, None, 100, 0)
            .await
            .unwrap();
        assert!(
            updates.iter().any(|m| m.account_id == Some(w.citizen.id)
                && m.subject == "Pengaduan ADU-2026-000001: Selesai diperbaiki"),
            "{:?}",
            updates.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }
);

db_test!(
    staff_see_beforehand_the_very_message_the_reporter_gets,
    async |t: &TestDb| {
        use masyarakat::domain::{Action, Actor as Role, Closure, ClosureKind};
        let w = &world(t).await;
        let code = filed(t, w).await;
        store::support(&t.db, &w.n, &w.city, &w.neighbour, &code)
            .await
            .unwrap();
        let report = |code: String| async move {
            store::get_by_code(t.db.conn(), &w.city, &code)
                .await
                .unwrap()
                .unwrap()
        };
        let told = |r: store::Report, role: Role, a: Action| async move {
            store::told(&t.db, &w.n, &w.city, &r, role, &a)
                .await
                .unwrap()
        };
        // What the reporter and supporter got in the app for a step, in order of sending.
        let sent = |subject_start: String| async move {
            notify::outbox_list(&t.db, &w.city, None, 100, 0)
                .await
                .unwrap()
                .into_iter()
                .filter(|m| m.channel == "in_app" && m.subject.starts_with(&subject_start))
                .map(|m| (m.account_id, m.subject, m.body))
                .collect::<Vec<_>>()
        };

        // Asking the reporter: the question goes in, and both who follow it hear.
        let q = "Di tiang nomor berapa lampunya?";
        let preview = told(
            report(code.clone()).await,
            Role::Verifier,
            Action::Hold { question: q.into() },
        )
        .await
        .expect("a question is sent");
        assert_eq!(preview.people, 2, "the reporter and one supporter");
        assert_eq!(
            preview.message.subject,
            format!("Pengaduan {code}: mohon keterangan Anda")
        );
        assert!(preview.message.body.contains(q), "{}", preview.message.body);
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &code,
            &ActionInput {
                note: q.into(),
                ..act("hold")
            },
        )
        .await
        .unwrap();
        let got = sent(format!("Pengaduan {code}: mohon")).await;
        assert_eq!(got.len(), 2, "{got:?}");
        for (who, subject, body) in &got {
            assert!([Some(w.citizen.id), Some(w.neighbour.id)].contains(who));
            assert_eq!(
                (subject, body),
                (&preview.message.subject, &preview.message.body)
            );
        }
        // A reporter who reads English is shown, and sent, the English wording.
        accounts::set_lang(&t.db, &w.citizen, kernel::Lang::En)
            .await
            .unwrap();
        let english = told(
            report(code.clone()).await,
            Role::Verifier,
            Action::Schedule { note: "x".into() },
        )
        .await;
        assert_eq!(english, None, "not the verifier's step");
        let english = told(
            report(code.clone()).await,
            Role::Verifier,
            Action::Close(Closure {
                kind: Some(ClosureKind::Rejected),
                note: "Bukan lampu kota.".into(),
                ..Default::default()
            }),
        )
        .await
        .expect("a rejection is told");
        assert_eq!(
            (english.lang, english.message.subject.as_str()),
            (
                kernel::Lang::En,
                format!("Complaint {code}: Rejected").as_str()
            )
        );
        accounts::set_lang(&t.db, &w.citizen, kernel::Lang::Id)
            .await
            .unwrap();
        // Staff writing down the reporter's answer tell nobody; nor may an officer act yet.
        let r = report(code.clone()).await;
        assert_eq!(
            told(
                r.clone(),
                Role::Verifier,
                Action::Answer {
                    text: "Tiang 12".into()
                }
            )
            .await,
            None
        );
        assert_eq!(told(r, Role::Agency, Action::Start).await, None);
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &code,
            &ActionInput {
                note: "Tiang 12".into(),
                ..act("answer")
            },
        )
        .await
        .unwrap();
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &code,
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();

        // A fix asks the reporter to confirm, and says by when.
        w.clock.set(wib(2026, 11, 26, 14, 0));
        let after = photo(w, t, &w.officer).await;
        let note = "Lampu sudah diganti.";
        let preview = told(
            report(code.clone()).await,
            Role::Agency,
            Action::Close(Closure {
                kind: Some(ClosureKind::FixedDirectly),
                note: note.into(),
                after_photo: Some(after),
                ..Default::default()
            }),
        )
        .await
        .expect("a fix is told");
        assert!(
            preview
                .message
                .body
                .contains("paling lambat Kamis, 10 Desember 2026"),
            "{}",
            preview.message.body
        );
        assert!(preview.message.body.contains(note));
        assert!(!preview.message.body.contains("\n\n\n"), "no gaps");
        let closed = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &code,
            &ActionInput {
                closure: "fixed_directly".into(),
                note: note.into(),
                after_photo: after.to_string(),
                ..act("close")
            },
        )
        .await
        .unwrap();
        assert_eq!(closed.confirm_due_at, Some(wib(2026, 12, 10, 14, 0)));
        let got = sent(format!("Pengaduan {code}: Selesai")).await;
        assert_eq!(got.len(), 2, "{got:?}");
        for (_, subject, body) in &got {
            assert_eq!(
                (subject, body),
                (&preview.message.subject, &preview.message.body)
            );
        }
    }
);

db_test!(
    needs_budget_keeps_its_estimate_and_a_dispute_reopens,
    async |t: &TestDb| {
        let w = world(t).await;
        let p = photo(&w, t, &w.citizen).await;
        let r = store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &report_input(p))
            .await
            .unwrap();
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &r.code,
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();
        let budget = ActionInput {
            closure: "needs_budget".into(),
            note: "Jaringan kabel harus diganti; diusulkan ke Musrenbang.".into(),
            estimate: "Rp 150.000.000".into(),
            programme: "Rehabilitasi penerangan jalan umum".into(),
            ..act("close")
        };
        let e = store::act(&t.db, &w.n, &w.files, &w.city, &w.officer, &r.code, &budget)
            .await
            .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("budget_agency".to_string(), "agency_required")]
        );
        let r = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &r.code,
            &ActionInput {
                budget_agency: w.bappeda.to_string(),
                ..budget
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (r.state, r.estimate_rupiah, r.budget_agency_id),
            (State::ButuhAnggaran, Some(150_000_000), Some(w.bappeda))
        );
        let e = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &r.code,
            &act("dispute"),
        )
        .await
        .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("reason".to_string(), "dispute_reason_required")]
        );
        let r = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &r.code,
            &ActionInput {
                note: "Belum ada perbaikan sementara.".into(),
                ..act("dispute")
            },
        )
        .await
        .unwrap();
        assert_eq!((r.state, r.closure), (State::DibukaKembali, None));
        let d = deadlines::overview(
            &t.db,
            &w.city,
            Bucket::Upcoming,
            Some("masyarakat"),
            w.clock.now_utc(),
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(d.len(), 1, "a new follow-up deadline runs");
        // Silence confirms: another closure, then 10 working days pass.
        let after = photo(&w, t, &w.officer).await;
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &r.code,
            &ActionInput {
                closure: "fixed_directly".into(),
                note: "Diperbaiki sementara.".into(),
                after_photo: after.to_string(),
                ..act("close")
            },
        )
        .await
        .unwrap();
        // Closed on Monday 23 November at 09.00: due Monday 7 December; two working days
        // before, the reporter is reminded, once.
        let cities = CityCache::default();
        let remind = async |at: DateTime<Utc>| {
            w.clock.set(at);
            store::remind_to_confirm(&t.db, &cities, &w.n)
                .await
                .unwrap()
        };
        assert_eq!(remind(wib(2026, 12, 3, 8, 59)).await, 0);
        assert_eq!(remind(wib(2026, 12, 3, 9, 0)).await, 1);
        assert_eq!(remind(wib(2026, 12, 4, 9, 0)).await, 0, "only once");
        let reminders: Vec<_> = notify::outbox_list(&t.db, &w.city, None, 100, 0)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.subject == format!("Pengaduan {}: sudah beres?", r.code))
            .collect();
        assert!(
            !reminders.is_empty()
                && reminders.iter().all(|m| m.account_id == Some(w.citizen.id)
                    && m.body.contains("paling lambat Senin, 7 Desember 2026")),
            "{reminders:?}"
        );
        assert_eq!(
            store::confirm_by_silence(&t.db, wib(2026, 12, 4, 9, 0))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store::confirm_by_silence(&t.db, wib(2026, 12, 8, 9, 1))
                .await
                .unwrap(),
            1
        );
        let r = store::get_by_code(t.db.conn(), &w.city, &r.code)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.confirmation.as_deref(), Some("silence"));
        // The timeline and the audit log say so, once.
        let tl = store::timeline(&t.db, &w.city, r.id, false).await.unwrap();
        assert_eq!(tl.last().map(|e| e.kind.as_str()), Some("confirm_silence"));
        assert_eq!(
            store::confirm_by_silence(&t.db, wib(2026, 12, 9, 9, 0))
                .await
                .unwrap(),
            0
        );
        let tl2 = store::timeline(&t.db, &w.city, r.id, false).await.unwrap();
        assert_eq!(tl2.len(), tl.len());
        let log = platform::audit::list(&t.db, &w.city.code, &Default::default(), 50)
            .await
            .unwrap();
        assert!(
            log.iter()
                .any(|e| e.action == "masyarakat.confirm_silence" && e.subject_id == r.code)
        );
    }
);

db_test!(
    bad_reports_are_refused_field_by_field_and_nothing_is_saved,
    async |t: &TestDb| {
        let w = world(t).await;
        let p = photo(&w, t, &w.citizen).await;
        let theirs = photo(&w, t, &w.neighbour).await;
        let cases: Vec<(ReportInput, Vec<(&str, &str)>)> = vec![
            (
                ReportInput {
                    lat: String::new(),
                    lon: String::new(),
                    ..report_input(p)
                },
                vec![("location", "location_required")],
            ),
            (
                ReportInput {
                    lat: "48.85".into(),
                    lon: "2.35".into(),
                    ..report_input(p)
                },
                vec![("location", "location_outside_city")],
            ),
            (
                ReportInput {
                    lat: "utara".into(),
                    ..report_input(p)
                },
                vec![("location", "location_invalid")],
            ),
            (
                ReportInput {
                    description: "  ".into(),
                    ..report_input(p)
                },
                vec![("description", "description_required")],
            ),
            (
                ReportInput {
                    category: "banjir".into(),
                    ..report_input(p)
                },
                vec![("category", "category_unknown")],
            ),
            (
                ReportInput {
                    photos: vec![],
                    ..report_input(p)
                },
                vec![("photos", "photo_required")],
            ),
            (
                ReportInput {
                    photos: vec![theirs],
                    ..report_input(p)
                },
                vec![("photos", "photo_invalid")],
            ),
            (
                ReportInput {
                    lat: String::new(),
                    lon: String::new(),
                    kelurahan: "31.71.01.1001".into(),
                    ..report_input(p)
                },
                vec![("kelurahan", "region_not_in_city")],
            ),
            (
                ReportInput {
                    privacy: "rahasia".into(),
                    ..report_input(p)
                },
                vec![("privacy", "choose_one")],
            ),
        ];
        for (input, want) in cases {
            let e = store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &input)
                .await
                .unwrap_err();
            let got = keys(e);
            let want: Vec<(String, &str)> =
                want.into_iter().map(|(f, k)| (f.to_string(), k)).collect();
            assert_eq!(got, want);
        }
        // Binjai's city box (set by the admin) refuses a point in Medan.
        store::save_settings(
            &t.db,
            &w.city,
            &Actor::cli(),
            store::Settings {
                min_lat: 3.55,
                min_lon: 98.44,
                max_lat: 3.67,
                max_lon: 98.54,
                duplicate_radius_m: 150,
                duplicate_days: 30,
            },
        )
        .await
        .unwrap();
        let e = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &ReportInput {
                lat: "3.5952".into(),
                lon: "98.6722".into(),
                ..report_input(p)
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("location".to_string(), "location_outside_city")]
        );
        assert_eq!(
            store::count(&t.db, &w.city).await.unwrap(),
            0,
            "nothing half-saved"
        );
        // Without GPS, a kelurahan of Binjai does.
        let r = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &ReportInput {
                lat: String::new(),
                lon: String::new(),
                kelurahan: "12.75.02.1001".into(),
                ..report_input(p)
            },
        )
        .await
        .unwrap();
        assert_eq!(r.kelurahan_code.as_deref(), Some("12.75.02.1001"));
    }
);

db_test!(
    supporters_follow_and_duplicates_merge_into_the_master,
    async |t: &TestDb| {
        let w = world(t).await;
        let p = photo(&w, t, &w.citizen).await;
        let a = store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &report_input(p))
            .await
            .unwrap();
        let q = photo(&w, t, &w.neighbour).await;
        let b = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.neighbour,
            &report_input(q),
        )
        .await
        .unwrap();
        assert_eq!(b.code, "ADU-2026-000002");
        let e = store::support(&t.db, &w.n, &w.city, &w.citizen, &a.code)
            .await
            .unwrap_err();
        assert_eq!(keys(e), vec![("support".to_string(), "support_own_report")]);
        let a2 = store::support(&t.db, &w.n, &w.city, &w.neighbour, &a.code)
            .await
            .unwrap();
        assert_eq!(a2.supporters, 1);
        assert_eq!(
            store::support(&t.db, &w.n, &w.city, &w.neighbour, &a.code)
                .await
                .unwrap()
                .supporters,
            1,
            "once per person"
        );
        // The verifier merges b into a: b's reporter now follows a (already did), b is closed.
        let r = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &b.code,
            &ActionInput {
                closure: "duplicate".into(),
                duplicate_of: "adu-2026-000001".into(),
                note: "Sudah dilaporkan.".into(),
                ..act("close")
            },
        )
        .await
        .unwrap();
        assert_eq!((r.state, r.duplicate_of), (State::Duplikat, Some(a.id)));
        let e = store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &a.code,
            &ActionInput {
                closure: "duplicate".into(),
                duplicate_of: "ADU-2026-000009".into(),
                note: "x".into(),
                ..act("close")
            },
        )
        .await
        .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("duplicate_of".to_string(), "duplicate_of_unknown")]
        );
        // When a is dispositioned, the neighbour hears too.
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &a.code,
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();
        let out = notify::outbox_list(&t.db, &w.city, None, 100, 0)
            .await
            .unwrap();
        assert!(out.iter().any(|m| m.account_id == Some(w.neighbour.id)
            && m.subject.starts_with("Pengaduan ADU-2026-000001:")));
        // Internal notes stay internal.
        store::add_internal_note(
            &t.db,
            &w.n,
            &w.city,
            &w.officer,
            &a.code,
            "Cek stok lampu di gudang.",
        )
        .await
        .unwrap();
        let public = store::timeline(&t.db, &w.city, a.id, false).await.unwrap();
        assert!(public.iter().all(|e| !e.note.contains("gudang")));
        let staff = store::timeline(&t.db, &w.city, a.id, true).await.unwrap();
        assert!(
            staff
                .iter()
                .any(|e| e.internal && e.note.contains("gudang"))
        );
        assert!(matches!(
            store::add_internal_note(&t.db, &w.n, &w.city, &w.citizen, &a.code, "x").await,
            Err(platform::AppError::Forbidden)
        ));
    }
);

db_test!(
    the_verification_deadline_escalates_when_missed,
    async |t: &TestDb| {
        let w = world(t).await;
        let p = photo(&w, t, &w.citizen).await;
        let r = store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &report_input(p))
            .await
            .unwrap();
        // On hold: the clock stops while the reporter answers.
        w.clock.set(wib(2026, 11, 23, 13, 0));
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &r.code,
            &ActionInput {
                note: "Nomor tiang berapa?".into(),
                ..act("hold")
            },
        )
        .await
        .unwrap();
        assert_eq!(
            step(t, &w, &r.code).await,
            Some(store::Step {
                stage: "verifikasi".into(),
                due_at: None,
                state: "paused".into(),
            }),
            "on hold: no date while the clock waits for the reporter"
        );
        w.clock.set(wib(2026, 11, 30, 9, 0));
        let cities = CityCache::default();
        assert_eq!(
            deadlines::tick(&t.db, &cities, &w.n).await.unwrap().fired,
            0,
            "paused: no escalation"
        );
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &r.code,
            &ActionInput {
                note: "Tiang nomor 17.".into(),
                ..act("answer")
            },
        )
        .await
        .unwrap();
        let d = deadlines::of_subject(&t.db, &w.city, store::SUBJECT, &r.code, w.clock.now_utc())
            .await
            .unwrap();
        // 4 h used Monday; 20 h left from Monday 30 Nov 09.00: Mon 7, Tue 8, Wed 5 → Wed 13.00.
        assert_eq!(d[0].due_at, Some(wib(2026, 12, 2, 13, 0)));
        w.clock.set(wib(2026, 12, 2, 13, 0));
        let rep = deadlines::tick(&t.db, &cities, &w.n).await.unwrap();
        assert!(rep.fired >= 1, "the breach fires");
        assert_eq!(
            step(t, &w, &r.code).await.map(|s| (s.state, s.due_at)),
            Some(("breached".to_string(), Some(wib(2026, 12, 2, 13, 0))))
        );
        let overdue = store::inbox(
            &t.db,
            &w.city,
            &store::InboxFilter {
                overdue: true,
                ..Default::default()
            },
            w.clock.now_utc(),
            10,
            None,
        )
        .await
        .unwrap();
        assert_eq!(overdue.len(), 1);
        let late = async |at: DateTime<Utc>| {
            let f = store::InboxFilter {
                overdue: true,
                ..Default::default()
            };
            store::count_filtered(&t.db, &w.city, &f, at).await.unwrap()
        };
        assert_eq!(late(wib(2026, 12, 2, 12, 59)).await, 0, "not yet late");
        assert_eq!(late(wib(2026, 12, 2, 13, 0)).await, 1);
    }
);

db_test!(
    the_monthly_evaluation_counts_fixes_budgets_and_timeliness,
    async |t: &TestDb| {
        let w = world(t).await;
        // One fixed directly on time, one needs budget, one still waiting (and overdue later).
        let p1 = photo(&w, t, &w.citizen).await;
        let a = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &report_input(p1),
        )
        .await
        .unwrap();
        let p2 = photo(&w, t, &w.citizen).await;
        let b = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &ReportInput {
                lat: String::new(),
                lon: String::new(),
                kelurahan: "12.75.02.1001".into(),
                ..report_input(p2)
            },
        )
        .await
        .unwrap();
        let p3 = photo(&w, t, &w.neighbour).await;
        store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.neighbour,
            &report_input(p3),
        )
        .await
        .unwrap();
        for code in [&a.code, &b.code] {
            store::act(
                &t.db,
                &w.n,
                &w.files,
                &w.city,
                &w.verifier,
                code,
                &ActionInput {
                    agency: w.pupr.to_string(),
                    ..act("dispose")
                },
            )
            .await
            .unwrap();
        }
        w.clock.set(wib(2026, 11, 25, 10, 0));
        let after = photo(&w, t, &w.officer).await;
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &a.code,
            &ActionInput {
                closure: "fixed_directly".into(),
                note: "Diganti.".into(),
                after_photo: after.to_string(),
                ..act("close")
            },
        )
        .await
        .unwrap();
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &b.code,
            &ActionInput {
                closure: "needs_budget".into(),
                note: "Perlu kabel baru.".into(),
                estimate: "150000000".into(),
                programme: "PJU".into(),
                budget_agency: w.bappeda.to_string(),
                ..act("close")
            },
        )
        .await
        .unwrap();
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &a.code,
            &act("confirm"),
        )
        .await
        .unwrap();
        let now = wib(2026, 11, 30, 9, 0);
        let rows = masyarakat::evaluation::monthly(
            &t.db,
            &w.city,
            2026,
            11,
            masyarakat::evaluation::By::Agency,
            kernel::Lang::Id,
            now,
        )
        .await
        .unwrap();
        let total = rows.last().unwrap();
        assert_eq!(total.group, "Jumlah");
        assert_eq!(
            (total.received, total.fixed_directly, total.needs_budget),
            (3, 1, 1)
        );
        assert_eq!(total.needs_budget_rupiah, 150_000_000);
        assert_eq!((total.verified_on_time, total.verified), (2, 2));
        assert_eq!((total.followed_up_on_time, total.followed_up), (2, 2));
        assert_eq!(total.median_days_to_fix, Some(2.0));
        assert_eq!(total.overdue_now, 1, "the third is past its 3 working days");
        assert_eq!(total.satisfaction_pct(), Some(100));
        let pupr = rows.iter().find(|r| r.group == "PUPR").unwrap();
        assert_eq!(
            (pupr.received, pupr.fixed_directly, pupr.needs_budget),
            (2, 1, 1)
        );
        let by_kec = masyarakat::evaluation::monthly(
            &t.db,
            &w.city,
            2026,
            11,
            masyarakat::evaluation::By::Kecamatan,
            kernel::Lang::Id,
            now,
        )
        .await
        .unwrap();
        assert!(
            by_kec
                .iter()
                .any(|r| r.group == "Binjai Kota" && r.received == 1),
            "{by_kec:?}"
        );
        let csv = masyarakat::evaluation::to_csv(&rows);
        assert!(
            csv.lines()
                .last()
                .unwrap()
                .starts_with("\"Jumlah\",3,2,2,2,2,1,1,150000000,2.0,1,0,100"),
            "{csv}"
        );
        // Another month is empty but for the total.
        let oct = masyarakat::evaluation::monthly(
            &t.db,
            &w.city,
            2026,
            10,
            masyarakat::evaluation::By::Category,
            kernel::Lang::Id,
            now,
        )
        .await
        .unwrap();
        assert_eq!(oct.len(), 1);
        assert_eq!(oct[0].received, 0);
    }
);

db_test!(
    reports_are_assigned_to_an_officer_of_the_agency,
    async |t: &TestDb| {
        let w = world(t).await;
        let p = photo(&w, t, &w.citizen).await;
        let r = store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &report_input(p))
            .await
            .unwrap();
        // Not before it has an agency.
        let e = store::assign(&t.db, &w.n, &w.city, &w.verifier, &r.code, w.officer.id)
            .await
            .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("action".to_string(), "transition_not_allowed")]
        );
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &r.code,
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();
        // An officer of another agency cannot be assigned; a citizen cannot assign.
        let e = store::assign(
            &t.db,
            &w.n,
            &w.city,
            &w.verifier,
            &r.code,
            w.other_officer.id,
        )
        .await
        .unwrap_err();
        assert_eq!(keys(e), vec![("assignee".to_string(), "assignee_invalid")]);
        assert!(matches!(
            store::assign(&t.db, &w.n, &w.city, &w.citizen, &r.code, w.officer.id).await,
            Err(platform::AppError::Forbidden)
        ));
        // The officer takes it; the running deadline now names them.
        let r = store::assign(&t.db, &w.n, &w.city, &w.officer, &r.code, w.officer.id)
            .await
            .unwrap();
        assert_eq!(r.assignee_id, Some(w.officer.id));
        let d = deadlines::of_subject(&t.db, &w.city, store::SUBJECT, &r.code, w.clock.now_utc())
            .await
            .unwrap();
        assert_eq!(d.last().unwrap().assignee_id, Some(w.officer.id));
        let tl = store::timeline(&t.db, &w.city, r.id, true).await.unwrap();
        assert!(tl.iter().any(|e| e.kind == "assign" && e.internal));
    }
);

db_test!(
    bulk_disposition_moves_received_reports_and_names_the_rest,
    async |t: &TestDb| {
        let w = world(t).await;
        let mut codes = Vec::new();
        for _ in 0..3 {
            codes.push(filed(t, &w).await);
        }
        // The first one already went to PUPR and is being handled.
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &codes[0],
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &codes[0],
            &act("start"),
        )
        .await
        .unwrap();
        // An officer cannot dispose in bulk: every one is refused and none moves.
        let dispose = |agency: uuid::Uuid, note: &str| ActionInput {
            agency: agency.to_string(),
            note: note.into(),
            ..act("dispose")
        };
        let out = store::act_many(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &codes[1..],
            &dispose(w.pupr, ""),
        )
        .await
        .unwrap();
        assert!(
            out.iter().all(|(_, o)| *o != store::BulkOutcome::Done),
            "{out:?}"
        );
        let mut ticked = codes.clone();
        ticked.push("ADU-2026-999999".into());
        ticked.push(codes[1].to_lowercase()); // ticked twice: counted once
        let out = store::act_many(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &ticked,
            &dispose(w.bappeda, "Mohon ditindaklanjuti."),
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            vec![
                (
                    codes[0].clone(),
                    store::BulkOutcome::Refused("transition_not_allowed".into())
                ),
                (codes[1].clone(), store::BulkOutcome::Done),
                (codes[2].clone(), store::BulkOutcome::Done),
                (
                    "ADU-2026-999999".into(),
                    store::BulkOutcome::Refused("not_found".into())
                ),
            ]
        );
        for (i, want) in [
            (0, (State::Diproses, Some(w.pupr))),
            (1, (State::Didisposisi, Some(w.bappeda))),
            (2, (State::Didisposisi, Some(w.bappeda))),
        ] {
            let r = store::get_by_code(t.db.conn(), &w.city, &codes[i])
                .await
                .unwrap()
                .unwrap();
            assert_eq!((r.state, r.agency_id), want, "{}", codes[i]);
        }
        // Each moved report runs its own follow-up deadline and its reporter heard.
        let d = deadlines::of_subject(&t.db, &w.city, store::SUBJECT, &codes[2], w.clock.now_utc())
            .await
            .unwrap();
        assert_eq!(d.last().unwrap().kind, "masyarakat.tindak_lanjut");
        let out = notify::outbox_list(&t.db, &w.city, None, 200, 0)
            .await
            .unwrap();
        for c in &codes[1..] {
            assert!(
                out.iter().any(|m| m.account_id == Some(w.citizen.id)
                    && m.subject.starts_with(&format!("Pengaduan {c}:"))
                    && m.body.contains("Mohon ditindaklanjuti.")),
                "{c}: the note reaches the reporter"
            );
            // And stays in the report's history.
            let r = store::get_by_code(t.db.conn(), &w.city, c)
                .await
                .unwrap()
                .unwrap();
            let tl = store::timeline(&t.db, &w.city, r.id, false).await.unwrap();
            assert_eq!(
                tl.last().map(|e| (e.kind.as_str(), e.note.as_str())),
                Some(("dispose", "Mohon ditindaklanjuti.")),
                "{c}"
            );
        }
    }
);

db_test!(
    public_map_hides_confidential_reports_and_statistics_count_them,
    async |t: &TestDb| {
        let w = world(t).await;
        // One report from September, named by its kelurahan, still open.
        w.clock.set(wib(2026, 9, 10, 9, 0));
        let p = photo(&w, t, &w.citizen).await;
        store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &ReportInput {
                lat: String::new(),
                lon: String::new(),
                kelurahan: "12.75.02.1001".into(),
                ..report_input(p)
            },
        )
        .await
        .unwrap();
        w.clock.set(wib(2026, 11, 23, 9, 0));
        let mut codes = Vec::new();
        for privacy in ["public", "anonymous", "confidential"] {
            let p = photo(&w, t, &w.citizen).await;
            let r = store::submit(
                &t.db,
                &w.n,
                &w.files,
                &w.city,
                &w.citizen,
                &ReportInput {
                    privacy: privacy.into(),
                    ..report_input(p)
                },
            )
            .await
            .unwrap();
            codes.push(r.code);
        }
        // The public one is fixed two days later; the anonymous one needs budget.
        for c in &codes[..2] {
            store::act(
                &t.db,
                &w.n,
                &w.files,
                &w.city,
                &w.verifier,
                c,
                &ActionInput {
                    agency: w.pupr.to_string(),
                    ..act("dispose")
                },
            )
            .await
            .unwrap();
            store::act(&t.db, &w.n, &w.files, &w.city, &w.officer, c, &act("start"))
                .await
                .unwrap();
        }
        w.clock.set(wib(2026, 11, 25, 9, 0));
        let after = photo(&w, t, &w.officer).await;
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &codes[0],
            &ActionInput {
                closure: "fixed_directly".into(),
                note: "Sudah diganti.".into(),
                after_photo: after.to_string(),
                ..act("close")
            },
        )
        .await
        .unwrap();
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.officer,
            &codes[1],
            &ActionInput {
                closure: "needs_budget".into(),
                note: "Perlu tiang baru.".into(),
                estimate: "Rp 25.000.000".into(),
                programme: "Penerangan jalan umum".into(),
                budget_agency: w.pupr.to_string(),
                ..act("close")
            },
        )
        .await
        .unwrap();

        let since = platform::clock::to_us(wib(2026, 11, 1, 0, 0));
        let all = store::public_reports(
            &t.db,
            &w.city,
            &store::PublicFilter {
                since_us: since,
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap();
        let mut shown: Vec<&str> = all.iter().map(|r| r.code.as_str()).collect();
        shown.sort();
        assert_eq!(shown, vec![codes[0].as_str(), codes[1].as_str()]);
        let open = store::public_reports(
            &t.db,
            &w.city,
            &store::PublicFilter {
                since_us: since,
                open: Some(true),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap();
        assert!(open.is_empty(), "both public ones are closed");
        let later = store::public_reports(
            &t.db,
            &w.city,
            &store::PublicFilter {
                since_us: platform::clock::to_us(wib(2026, 12, 1, 0, 0)),
                ..Default::default()
            },
            100,
        )
        .await
        .unwrap();
        assert!(later.is_empty(), "the window excludes older reports");

        let s = masyarakat::evaluation::public_stats(&t.db, &w.city, w.clock.now_utc())
            .await
            .unwrap();
        assert_eq!((s.received, s.closed, s.open_now), (4, 2, 2));
        assert_eq!((s.fixed_directly, s.needs_budget), (1, 1));
        assert_eq!(s.needs_budget_rupiah, 25_000_000);
        assert_eq!(s.median_days_to_fix, Some(2.0));
        assert_eq!(s.months.len(), 12);
        assert_eq!(s.months.last().unwrap(), &(2026, 11, 3, 2));
        assert_eq!(
            s.months[9],
            (2026, 9, 1, 0),
            "September's report in its month"
        );
        assert_eq!(s.months[10], (2026, 10, 0, 0));
        assert_eq!(
            s.months.first().unwrap().0 * 12 + s.months.first().unwrap().1 as i32,
            2025 * 12 + 12
        );
        assert_eq!(s.by_category.len(), 1);
        assert_eq!((s.by_category[0].1, s.by_category[0].2), (4, 2));
        assert_eq!(s.followed_up_on_time, (2, 2));
        assert_eq!(s.closures.len(), 2);
        // Only September's report named a kelurahan: its kecamatan counts one, the rest zero.
        let kec = w
            .city
            .districts()
            .into_iter()
            .find(|d| d.code == "12.75.02")
            .unwrap()
            .name
            .to_string();
        assert_eq!(
            s.by_kecamatan
                .iter()
                .filter(|(_, n)| *n > 0)
                .collect::<Vec<_>>(),
            vec![&(kec, 1)]
        );
        assert_eq!(s.by_kecamatan.len(), 5);
    }
);

db_test!(
    reply_templates_refuse_unknown_placeholders_and_fill_in_the_report,
    async |t: &TestDb| {
        let w = world(t).await;
        let now = w.clock.now_utc();
        let e = store::add_reply(
            &t.db,
            &w.city,
            &w.verifier.actor(),
            "Salah",
            "Laporan {nomor} diterima",
            now,
        )
        .await
        .unwrap_err();
        assert_eq!(keys(e), vec![("body".to_string(), "template_placeholder")]);
        let e = store::add_reply(&t.db, &w.city, &w.verifier.actor(), " ", "", now)
            .await
            .unwrap_err();
        assert_eq!(
            keys(e),
            vec![
                ("title".to_string(), "required"),
                ("body".to_string(), "required")
            ]
        );
        assert!(
            store::replies(t.db.conn(), &w.city)
                .await
                .unwrap()
                .is_empty()
        );
        let r = store::add_reply(
            &t.db,
            &w.city,
            &w.verifier.actor(),
            "Dijadwalkan",
            "Laporan {kode} ({kategori}) dijadwalkan oleh {opd}.",
            now,
        )
        .await
        .unwrap();
        assert_eq!(
            store::fill_reply(&r.body, "ADU-2026-000007", "Lampu jalan mati", "Dinas PUPR"),
            "Laporan ADU-2026-000007 (Lampu jalan mati) dijadwalkan oleh Dinas PUPR."
        );
        assert_eq!(
            store::fill_reply(&r.body, "ADU-2026-000007", "Lampu jalan mati", ""),
            "Laporan ADU-2026-000007 (Lampu jalan mati) dijadwalkan oleh OPD terkait."
        );
        assert_eq!(
            store::replies(t.db.conn(), &w.city).await.unwrap(),
            vec![r.clone()]
        );
        store::delete_reply(&t.db, &w.city, &w.verifier.actor(), r.id)
            .await
            .unwrap();
        assert!(
            store::replies(t.db.conn(), &w.city)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(matches!(
            store::delete_reply(&t.db, &w.city, &w.verifier.actor(), r.id).await,
            Err(platform::AppError::NotFound)
        ));
    }
);

db_test!(
    an_admin_changes_a_category_but_not_its_code,
    async |t: &TestDb| {
        let w = world(t).await;
        let input = CategoryInput {
            code: "ignored".into(),
            name_id: "Lampu penerangan jalan".into(),
            name_en: "Street lighting".into(),
            agency_id: Some(w.bappeda),
            ..Default::default()
        };
        let c = store::update_category(&t.db, &w.city, &Actor::cli(), "lampu-jalan", &input, false)
            .await
            .unwrap();
        assert_eq!(
            (c.code.as_str(), c.name_id.as_str(), c.agency_id, c.active),
            (
                "lampu-jalan",
                "Lampu penerangan jalan",
                Some(w.bappeda),
                false
            )
        );
        // An inactive category is not offered to citizens.
        assert!(
            store::categories(t.db.conn(), &w.city, true)
                .await
                .unwrap()
                .is_empty()
        );
        let e = store::update_category(
            &t.db,
            &w.city,
            &Actor::cli(),
            "lampu-jalan",
            &CategoryInput {
                name_id: String::new(),
                questions: vec![Question {
                    code: "jenis".into(),
                    label_id: "Jenis".into(),
                    label_en: "Kind".into(),
                    kind: "choice".into(),
                    required: true,
                    options: vec![],
                }],
                ..input.clone()
            },
            true,
        )
        .await
        .unwrap_err();
        assert_eq!(
            keys(e),
            vec![
                ("name_id".to_string(), "required"),
                ("questions".to_string(), "question_invalid")
            ]
        );
        let still = store::category_by_code(t.db.conn(), &w.city, "lampu-jalan")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(still.name_id, "Lampu penerangan jalan");
        assert!(matches!(
            store::update_category(&t.db, &w.city, &Actor::cli(), "tidak-ada", &input, true).await,
            Err(platform::AppError::NotFound)
        ));
    }
);

db_test!(
    the_kelurahan_comes_from_boundaries_or_the_nearest_named_report,
    async |t: &TestDb| {
        let w = world(t).await;
        // Without boundaries and without earlier reports nothing can be said.
        let p = photo(&w, t, &w.citizen).await;
        let r = store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &report_input(p))
            .await
            .unwrap();
        assert_eq!((r.kelurahan_code, r.kelurahan_source.as_str()), (None, ""));
        // A report that names its kelurahan teaches the place around it (an estimate).
        let p = photo(&w, t, &w.citizen).await;
        let named = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &ReportInput {
                kelurahan: "12.75.02.1006".into(),
                lat: "3.6010".into(),
                lon: "98.4790".into(),
                ..report_input(p)
            },
        )
        .await
        .unwrap();
        assert_eq!(named.kelurahan_source, "reporter");
        let p = photo(&w, t, &w.citizen).await;
        let near = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &ReportInput {
                lat: "3.6020".into(),
                lon: "98.4795".into(),
                ..report_input(p)
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (
                near.kelurahan_code.as_deref(),
                near.kelurahan_source.as_str()
            ),
            (Some("12.75.02.1006"), "nearest")
        );
        // An imported boundary is exact and wins; a bad file changes nothing.
        let square = |lat: f64, lon: f64| {
            serde_json::json!([[
                [lon, lat],
                [lon + 0.01, lat],
                [lon + 0.01, lat + 0.01],
                [lon, lat + 0.01],
                [lon, lat]
            ]])
        };
        let bad = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"kode": "12.75.02.1006"}, "geometry": {"type": "Polygon", "coordinates": square(3.595, 98.475)}},
            {"type": "Feature", "properties": {"kode": "31.71.01.1001"}, "geometry": {"type": "Polygon", "coordinates": square(3.6, 98.4)}},
            {"type": "Feature", "properties": {"nama": "Tanpa kode"}, "geometry": {"type": "Point", "coordinates": [98.4, 3.6]}},
            {"type": "Feature", "properties": {"kode": "1275011001"}, "geometry": {"type": "LineString", "coordinates": [[98.4, 3.6], [98.5, 3.6]]}}
        ]});
        match platform::places::import(&t.db, &w.city, &Actor::cli(), &bad.to_string()).await {
            Err(platform::places::ImportError::Features(e)) => assert_eq!(
                e.iter().map(|x| (x.feature, x.key)).collect::<Vec<_>>(),
                vec![
                    (2, "feature_code_unknown"),
                    (3, "feature_code"),
                    (4, "geometry_type")
                ]
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            platform::places::coverage(&t.db, &w.city).await.unwrap().0,
            0
        );
        let good = serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"kode": "1275021007"}, "geometry": {"type": "Polygon", "coordinates": square(3.595, 98.475)}}
        ]});
        assert_eq!(
            platform::places::import(&t.db, &w.city, &Actor::cli(), &good.to_string())
                .await
                .unwrap(),
            1
        );
        let p = photo(&w, t, &w.citizen).await;
        let inside = store::submit(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.citizen,
            &ReportInput {
                lat: "3.6020".into(),
                lon: "98.4795".into(),
                ..report_input(p)
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (
                inside.kelurahan_code.as_deref(),
                inside.kelurahan_source.as_str()
            ),
            (Some("12.75.02.1007"), "boundary")
        );
        // Staff correct an estimate; the reporter and an unknown code are refused.
        assert!(matches!(
            store::set_kelurahan(
                &t.db,
                &w.n,
                &w.city,
                &w.citizen,
                &near.code,
                "12.75.02.1005"
            )
            .await,
            Err(platform::AppError::Forbidden)
        ));
        let e = store::set_kelurahan(
            &t.db,
            &w.n,
            &w.city,
            &w.verifier,
            &near.code,
            "31.71.01.1001",
        )
        .await
        .unwrap_err();
        assert_eq!(
            keys(e),
            vec![("kelurahan".to_string(), "region_not_in_city")]
        );
        let fixed = store::set_kelurahan(
            &t.db,
            &w.n,
            &w.city,
            &w.verifier,
            &near.code,
            "12.75.02.1005",
        )
        .await
        .unwrap();
        assert_eq!(
            (
                fixed.kelurahan_code.as_deref(),
                fixed.kelurahan_source.as_str()
            ),
            (Some("12.75.02.1005"), "staff")
        );
        let internal = store::timeline(&t.db, &w.city, fixed.id, true)
            .await
            .unwrap();
        assert!(
            internal
                .iter()
                .any(|e| e.kind == "kelurahan" && e.note == "Kel. Tangsi")
        );
        let public = store::timeline(&t.db, &w.city, fixed.id, false)
            .await
            .unwrap();
        assert!(
            public.iter().all(|e| e.kind != "kelurahan"),
            "internal only"
        );
    }
);

db_test!(
    where_labelled_reports_are_dense_the_nearest_still_names_the_kelurahan,
    async |t: &TestDb| {
        let w = world(t).await;
        let p = photo(&w, t, &w.citizen).await;
        let file = async |lat: &str, kelurahan: &str| {
            let input = ReportInput {
                lat: lat.into(),
                lon: "98.4852".into(),
                kelurahan: kelurahan.into(),
                ..report_input(p)
            };
            store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &input)
                .await
                .unwrap()
        };
        // Fifty reports named one kelurahan 290 m south (read first, in index order), then one
        // named another 22 m north of the point.
        for _ in 0..50 {
            file("3.5975", "12.75.02.1006").await;
        }
        file("3.6003", "12.75.02.1007").await;
        let r = file("3.6001", "").await;
        assert_eq!(
            (r.kelurahan_code.as_deref(), r.kelurahan_source.as_str()),
            (Some("12.75.02.1007"), "nearest")
        );
        // Beside the fifty, one of them is the nearest.
        let r = file("3.5977", "").await;
        assert_eq!(r.kelurahan_code.as_deref(), Some("12.75.02.1006"));
    }
);

db_test!(
    reports_near_a_place_are_found_across_grid_cells_and_old_rows_get_their_cell,
    async |t: &TestDb| {
        let w = world(t).await;
        let file = async |lat: &str, lon: &str, privacy: &str| {
            let p = photo(&w, t, &w.citizen).await;
            let input = ReportInput {
                lat: lat.into(),
                lon: lon.into(),
                privacy: privacy.into(),
                ..report_input(p)
            };
            store::submit(&t.db, &w.n, &w.files, &w.city, &w.citizen, &input)
                .await
                .unwrap()
        };
        // Just south-west of a cell corner (3.6, 98.5); asked from just north-east of it, ~80 m.
        let sw = file("3.5999", "98.4999", "public").await;
        file("3.5999", "98.4999", "confidential").await;
        file("3.6045", "98.5004", "public").await;
        let ne = (3.6004, 98.5004);
        assert_ne!(
            kernel::geo::cell_of(ne),
            kernel::geo::cell_of((3.5999, 98.4999))
        );
        let offered = |not_by: Option<uuid::Uuid>, category: &'static str| {
            let (db, city, now) = (&t.db, &w.city, w.n.now());
            async move {
                store::nearby(db, city, category, ne, not_by, now)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|n| (n.code, n.distance_m))
                    .collect::<Vec<_>>()
            }
        };
        // Only the public one in the radius (150 m): not the confidential one, not the one 460 m
        // north, not another category's, not to its own reporter.
        let found = offered(Some(w.neighbour.id), "lampu-jalan").await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, sw.code);
        assert!((70..=90).contains(&found[0].1), "{found:?}");
        store::create_category(
            &t.db,
            &w.city,
            &Actor::cli(),
            &CategoryInput {
                code: "sampah".into(),
                name_id: "Sampah".into(),
                name_en: "Rubbish".into(),
                agency_id: Some(w.pupr),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(offered(Some(w.neighbour.id), "sampah").await.is_empty());
        assert!(offered(Some(w.citizen.id), "lampu-jalan").await.is_empty());
        // A database from before the grid: the migration gives every located report its cell
        // (flooring alike on both backends), and the lookups find them again.
        use masyarakat::entity::report;
        use sea_orm::{ConnectionTrait, EntityTrait};
        t.db.conn()
            .execute_unprepared("UPDATE mas_reports SET cell = NULL")
            .await
            .unwrap();
        assert!(
            offered(Some(w.neighbour.id), "lampu-jalan")
                .await
                .is_empty()
        );
        let schema = sea_orm::Schema::new(t.db.db_backend());
        let migration = masyarakat::migrations()
            .into_iter()
            .find(|m| m.id == "masyarakat.0005_report_cell")
            .unwrap();
        for step in (migration.steps)(&schema) {
            if let platform::db::migrate::Step::Sql(sql) = step {
                t.db.conn().execute_unprepared(&sql).await.unwrap();
            }
        }
        let rows = report::Entity::find().all(t.db.conn()).await.unwrap();
        assert_eq!(rows.len(), 3);
        for r in rows {
            assert_eq!(
                r.cell,
                r.lat.zip(r.lon).map(kernel::geo::cell_of),
                "{}",
                r.code
            );
        }
        assert_eq!(offered(Some(w.neighbour.id), "lampu-jalan").await.len(), 1);
    }
);

db_test!(
    the_inbox_lists_the_next_things_to_do_first,
    async |t: &TestDb| {
        let w = world(t).await;
        let mut codes = Vec::new();
        // Four reports over two days; the second waits for its reporter, the fourth is with
        // the agency.
        for at in [
            wib(2026, 11, 23, 9, 0),
            wib(2026, 11, 23, 13, 0),
            wib(2026, 11, 24, 9, 0),
            wib(2026, 11, 24, 10, 0),
        ] {
            w.clock.set(at);
            codes.push(filed(t, &w).await);
        }
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &codes[1],
            &ActionInput {
                note: "Di tiang nomor berapa?".into(),
                ..act("hold")
            },
        )
        .await
        .unwrap();
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &codes[3],
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();
        let now = w.clock.now_utc();
        let page_by_due = async |f: &store::InboxFilter, limit: u64, after| {
            store::inbox_by_due(&t.db, &w.city, f, now, limit, after)
                .await
                .unwrap()
        };
        let by_due = async |f: &store::InboxFilter, limit: u64, after| {
            page_by_due(f, limit, after)
                .await
                .into_iter()
                .map(|(r, due, _)| (r.code, Some(due)))
                .collect::<Vec<_>>()
        };
        let all = store::InboxFilter::default();
        // Nearest due first; the one on hold waits for its reporter, not for staff.
        assert_eq!(
            by_due(&all, 50, None).await,
            vec![
                (codes[0].clone(), Some(wib(2026, 11, 26, 9, 0))),
                (codes[2].clone(), Some(wib(2026, 11, 27, 9, 0))),
                (codes[3].clone(), Some(wib(2026, 12, 1, 10, 0))),
            ]
        );
        // With the filters, and paged.
        let received = store::InboxFilter {
            state: Some(State::Diterima),
            ..Default::default()
        };
        assert_eq!(
            by_due(&received, 50, None)
                .await
                .into_iter()
                .map(|x| x.0)
                .collect::<Vec<_>>(),
            vec![codes[0].clone(), codes[2].clone()]
        );
        let first = page_by_due(&all, 2, None).await;
        let cursor = first.last().map(|x| x.2);
        assert_eq!(
            first.iter().map(|x| x.0.code.clone()).collect::<Vec<_>>(),
            vec![codes[0].clone(), codes[2].clone()]
        );
        assert_eq!(
            store::DueCursor::parse(&cursor.unwrap().to_param()),
            cursor,
            "the cursor survives the URL"
        );
        assert_eq!(
            by_due(&all, 2, cursor)
                .await
                .into_iter()
                .map(|x| x.0)
                .collect::<Vec<_>>(),
            vec![codes[3].clone()]
        );

        // Newest first lists them all.
        let newest: Vec<String> = store::inbox(&t.db, &w.city, &all, now, 50, None)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.code)
            .collect();
        assert_eq!(newest, codes.iter().rev().cloned().collect::<Vec<_>>());
        // Any list learns its own reports' due times (none while waiting for the reporter),
        // and so which are late, however many are late elsewhere in the city.
        let dues = store::running_dues(&t.db, &w.city, &newest).await.unwrap();
        let mut got: Vec<_> = dues.into_iter().collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (codes[0].clone(), wib(2026, 11, 26, 9, 0)),
                (codes[2].clone(), wib(2026, 11, 27, 9, 0)),
                (codes[3].clone(), wib(2026, 12, 1, 10, 0)),
            ]
        );
        assert!(
            store::running_dues(&t.db, &w.city, &[codes[1].clone()])
                .await
                .unwrap()
                .is_empty()
        );
        // The first report on the first page is sent on while someone reads that page: its
        // verification stops and its follow-up runs, due later. The next page still starts
        // after the page that was read (by position it would have skipped the third report).
        store::act(
            &t.db,
            &w.n,
            &w.files,
            &w.city,
            &w.verifier,
            &codes[0],
            &ActionInput {
                agency: w.pupr.to_string(),
                ..act("dispose")
            },
        )
        .await
        .unwrap();
        let mut next: Vec<String> = by_due(&all, 50, cursor)
            .await
            .into_iter()
            .map(|x| x.0)
            .collect();
        next.sort();
        let mut want = vec![codes[0].clone(), codes[3].clone()];
        want.sort();
        assert_eq!(next, want);
    }
);
