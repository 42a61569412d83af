//! Message wording: built-in texts in Bahasa Indonesia and English, which a city's admin may
//! override per key and language (`message_templates`). Placeholders are `{name}`; each key says
//! which it accepts, so an edit that names an unknown one is refused with that name.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use serde::{Deserialize, Serialize};

use std::sync::LazyLock;

use crate::audit::{Actor, Change, Tx};
use crate::city::City;
use crate::db::Db;
use crate::entity::message_template;
use crate::error::{AppError, AppResult};
use crate::memo::{self, Memo};
use kernel::{FieldError, FieldErrors, Lang};

/// A built-in message.
pub struct Builtin {
    pub key: &'static str,
    pub about_id: &'static str,
    pub about_en: &'static str,
    pub placeholders: &'static [&'static str],
    pub id: (&'static str, &'static str, &'static str),
    pub en: (&'static str, &'static str, &'static str),
}

const SLA_VARS: &[&str] = &[
    "title", "stage", "due", "late", "agency", "assignee", "link", "city",
];

/// Every message the platform sends. Apps add theirs with the same shape.
pub const BUILTIN: &[Builtin] = &[
    Builtin {
        key: "sla.warn",
        about_id: "Pengingat: tenggat hampir habis (ke petugas)",
        about_en: "Reminder: deadline nearly reached (to the assignee)",
        placeholders: SLA_VARS,
        id: (
            "Pengingat tenggat: {title}",
            "Tenggat \"{title}\" ({stage}) jatuh pada {due}. Mohon diselesaikan sebelum waktunya.\n\nBuka: {link}\n\n{city}",
            "{city}: tenggat {title} jatuh {due}. Mohon diselesaikan.",
        ),
        en: (
            "Deadline reminder: {title}",
            "The deadline of \"{title}\" ({stage}) is {due}. Please finish it in time.\n\nOpen: {link}\n\n{city}",
            "{city}: {title} is due {due}. Please finish it.",
        ),
    },
    Builtin {
        key: "sla.breach",
        about_id: "Lewat tenggat (ke kepala OPD dan Inspektorat)",
        about_en: "Deadline missed (to the agency head and the Inspectorate)",
        placeholders: SLA_VARS,
        id: (
            "Lewat tenggat: {title}",
            "\"{title}\" ({stage}) di {agency} belum selesai pada tenggat {due}. Petugas: {assignee}.\n\nBuka: {link}\n\n{city}",
            "{city}: {title} di {agency} lewat tenggat {due}.",
        ),
        en: (
            "Deadline missed: {title}",
            "\"{title}\" ({stage}) at {agency} was not finished by its deadline, {due}. Assignee: {assignee}.\n\nOpen: {link}\n\n{city}",
            "{city}: {title} at {agency} missed its deadline {due}.",
        ),
    },
    Builtin {
        key: "sla.after_breach",
        about_id: "Masih lewat tenggat (eskalasi ke Sekda)",
        about_en: "Still overdue (escalated to the Regional Secretary)",
        placeholders: SLA_VARS,
        id: (
            "Eskalasi: {title} terlambat {late}",
            "\"{title}\" ({stage}) di {agency} sudah terlambat {late} dari tenggat {due}. Petugas: {assignee}.\n\nBuka: {link}\n\n{city}",
            "{city}: {title} di {agency} terlambat {late}.",
        ),
        en: (
            "Escalation: {title} is {late} late",
            "\"{title}\" ({stage}) at {agency} is {late} past its deadline, {due}. Assignee: {assignee}.\n\nOpen: {link}\n\n{city}",
            "{city}: {title} at {agency} is {late} late.",
        ),
    },
    Builtin {
        key: "account.welcome",
        about_id: "Selamat datang (akun baru)",
        about_en: "Welcome (new account)",
        placeholders: &["name", "city", "link"],
        id: (
            "Selamat datang di {city}",
            "Halo {name},\n\nakun Anda di layanan {city} sudah aktif. Pemberitahuan akan datang lewat saluran yang Anda pilih di halaman akun.\n\nBuka: {link}",
            "{city}: akun Anda aktif.",
        ),
        en: (
            "Welcome to {city}",
            "Hello {name},\n\nyour account with {city}'s services is active. Notices will come through the channels you choose on your account page.\n\nOpen: {link}",
            "{city}: your account is active.",
        ),
    },
];

static APP_MESSAGES: std::sync::RwLock<Vec<&'static Builtin>> = std::sync::RwLock::new(Vec::new());

/// Adds an app's messages (called once as the app joins the binary; repeats are ignored).
pub fn register(list: &'static [Builtin]) {
    if let Ok(mut v) = APP_MESSAGES.write() {
        for b in list {
            if !v.iter().any(|x| x.key == b.key) && !BUILTIN.iter().any(|x| x.key == b.key) {
                v.push(b);
            }
        }
    }
}

/// Every message: the platform's, then the apps'.
pub fn all() -> Vec<&'static Builtin> {
    let mut out: Vec<&'static Builtin> = BUILTIN.iter().collect();
    if let Ok(v) = APP_MESSAGES.read() {
        out.extend(v.iter().copied());
    }
    out
}

pub fn builtin(key: &str) -> Option<&'static Builtin> {
    all().into_iter().find(|b| b.key == key)
}

/// The wording in force for a key and language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Template {
    pub key: String,
    pub lang: Lang,
    pub subject: String,
    pub body: String,
    pub sms: String,
    /// True when the city has its own wording.
    pub custom: bool,
}

/// A notice as its readers get it: subject and body (email, in-app, webhook), SMS text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rendered {
    pub subject: String,
    pub body: String,
    pub sms: String,
}

/// Fills a wording with a notice's values as it is sent: the city's name and the link are
/// added; without a link the body's line that would carry it goes; the SMS never carries the
/// link (the sender appends a short one). Blank lines never run more than one in a row.
pub fn fill(
    t: &Template,
    vars: &[(&'static str, String)],
    city: &str,
    link: Option<&str>,
) -> Rendered {
    let mut vars = vars.to_vec();
    vars.push(("city", city.to_string()));
    vars.push(("link", link.unwrap_or_default().to_string()));
    let body_t = if link.is_some() {
        t.body.clone()
    } else {
        t.body
            .lines()
            .filter(|l| !l.contains("{link}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let sms_vars: Vec<(&str, String)> =
        vars.iter().filter(|(k, _)| *k != "link").cloned().collect();
    // A value left empty (a step without a note) leaves no gap of blank lines behind.
    let mut body = kernel::message::render(&body_t, &vars);
    while body.contains("\n\n\n") {
        body = body.replace("\n\n\n", "\n\n");
    }
    Rendered {
        subject: kernel::message::render(&t.subject, &vars),
        body,
        sms: kernel::message::render(&t.sms, &sms_vars),
    }
}

fn from_builtin(b: &Builtin, lang: Lang) -> Template {
    let (subject, body, sms) = if lang == Lang::Id { b.id } else { b.en };
    Template {
        key: b.key.to_string(),
        lang,
        subject: subject.into(),
        body: body.into(),
        sms: sms.into(),
        custom: false,
    }
}

/// The city's own wording (its overrides), kept a minute per database and city: every notice
/// reads it. Saving or resetting here forgets it at once.
static OVERRIDES: LazyLock<Memo<Vec<message_template::Model>>> =
    LazyLock::new(|| Memo::new(std::time::Duration::from_secs(60)));

/// [`get`], from the minute's memo of the city's overrides.
pub async fn get_kept(tx: &Tx, city: &City, key: &str, lang: Lang) -> AppResult<Template> {
    let b = builtin(key).ok_or(AppError::NotFound)?;
    let rows = OVERRIDES
        .get_or_load(memo::key_of(tx.db_id(), city), async || {
            message_template::Entity::find()
                .filter(message_template::Column::CityCode.eq(&city.code))
                .all(&**tx)
                .await
        })
        .await?;
    Ok(
        match rows.iter().find(|m| m.key == key && m.lang == lang.code()) {
            Some(m) => from_row(m, lang),
            None => from_builtin(b, lang),
        },
    )
}

/// A city's own wording of a key.
fn from_row(m: &message_template::Model, lang: Lang) -> Template {
    Template {
        key: m.key.clone(),
        lang,
        subject: m.subject.clone(),
        body: m.body.clone(),
        sms: m.sms.clone(),
        custom: true,
    }
}

pub async fn get<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    key: &str,
    lang: Lang,
) -> AppResult<Template> {
    let b = builtin(key).ok_or(AppError::NotFound)?;
    let row = message_template::Entity::find_by_id((
        city.code.clone(),
        key.to_string(),
        lang.code().to_string(),
    ))
    .one(conn)
    .await?;
    Ok(match row {
        Some(m) => from_row(&m, lang),
        None => from_builtin(b, lang),
    })
}

/// Every key in both languages, with the city's overrides applied.
pub async fn list(db: &Db, city: &City) -> AppResult<Vec<Template>> {
    let rows = message_template::Entity::find()
        .filter(message_template::Column::CityCode.eq(&city.code))
        .all(db.conn())
        .await?;
    let mut out = Vec::new();
    for b in all() {
        for lang in [Lang::Id, Lang::En] {
            match rows
                .iter()
                .find(|m| m.key == b.key && m.lang == lang.code())
            {
                Some(m) => out.push(from_row(m, lang)),
                None => out.push(from_builtin(b, lang)),
            }
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TemplateInput {
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub sms: String,
}

/// Saves a city's wording, or with `reset` goes back to the built-in text.
pub async fn save(
    db: &Db,
    city: &City,
    actor: &Actor,
    key: &str,
    lang: Lang,
    input: &TemplateInput,
) -> AppResult<Template> {
    let b = builtin(key).ok_or(AppError::NotFound)?;
    let mut errs = FieldErrors::default();
    for (field, text, max) in [
        ("subject", &input.subject, 200),
        ("body", &input.body, 5000),
        ("sms", &input.sms, 160),
    ] {
        if text.trim().is_empty() {
            errs.add(field, "required");
        } else if text.chars().count() > max {
            errs.push(FieldError::new(field, "too_long").with_arg("max", max));
        } else if let Some(p) = kernel::message::unknown_placeholder(text, b.placeholders) {
            errs.push(
                FieldError::new(field, "template_placeholder")
                    .with_arg("name", format!("{{{p}}}"))
                    .with_arg(
                        "known",
                        b.placeholders
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
            );
        }
    }
    if !errs.is_empty() {
        return Err(AppError::Invalid(errs));
    }
    let before = get(db.conn(), city, key, lang).await?;
    let mut tx = db.tx().await?;
    let am = message_template::ActiveModel {
        city_code: Set(city.code.clone()),
        key: Set(key.to_string()),
        lang: Set(lang.code().to_string()),
        subject: Set(input.subject.trim().to_string()),
        body: Set(input.body.replace("\r\n", "\n").trim().to_string()),
        sms: Set(input.sms.trim().to_string()),
        updated_at: Set(Utc::now()),
    };
    if before.custom {
        am.update(&*tx).await?;
    } else {
        am.insert(&*tx).await?;
    }
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "template.save",
            subject_type: "template",
            subject_id: format!("{key}/{}", lang.code()),
            before: Some(serde_json::json!({ "subject": before.subject, "body": before.body, "sms": before.sms })),
            after: Some(serde_json::json!({ "subject": input.subject, "body": input.body, "sms": input.sms })),
        },
    )
    .await?;
    tx.commit().await?;
    OVERRIDES.forget(&memo::key(db, city));
    get(db.conn(), city, key, lang).await
}

pub async fn reset(db: &Db, city: &City, actor: &Actor, key: &str, lang: Lang) -> AppResult<()> {
    builtin(key).ok_or(AppError::NotFound)?;
    let mut tx = db.tx().await?;
    message_template::Entity::delete_by_id((
        city.code.clone(),
        key.to_string(),
        lang.code().to_string(),
    ))
    .exec(&*tx)
    .await?;
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "template.reset",
            subject_type: "template",
            subject_id: format!("{key}/{}", lang.code()),
            before: None,
            after: None,
        },
    )
    .await?;
    tx.commit().await?;
    OVERRIDES.forget(&memo::key(db, city));
    Ok(())
}
