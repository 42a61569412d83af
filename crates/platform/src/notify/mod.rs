//! Notifications through a durable outbox. A change that must tell someone calls `enqueue`
//! inside its own transaction: one outbox row per person and channel, rendered in the person's
//! language from the city's templates, with an idempotency key so the same notice is never
//! queued twice. `deliver_due` (run by a worker, or drained by tests) sends them by email
//! (SMTP through lettre), SMS (a configurable HTTP gateway), in-app (the bell) or a signed
//! webhook, retrying with exponential backoff until `dead`. A person with no address for a
//! channel, or who turned it off, gets a `skipped` row that says why, never a retry.

mod deliver;
pub mod templates;

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::accounts::Account;
use crate::audit::{Actor, Change, Tx};
use crate::city::City;
use crate::clock::{SharedClock, from_us, to_us};
use crate::db::Db;
use crate::entity::{account, agency, notification, notify_pref, outbox, short_link, webhook};
use crate::error::{AppError, AppResult};
use kernel::roles::Role;
use kernel::sla::{Channel, Recipient};
use kernel::{FieldErrors, Lang};

pub use deliver::{DeliveryReport, Mailer, SmsGateway};

/// How notifications leave the building. From `balaikota.toml` / environment.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// Links in messages start with this (a city with its own host name uses that instead).
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// `smtp://user:pass@host:587?tls=required`, `smtps://…`, `smtp://host:25` (no TLS, for a
    /// local relay), or `file:///path` (write .eml files: the demo's default). Empty: email is
    /// not configured and email notices are recorded as skipped.
    #[serde(default)]
    pub smtp_url: String,
    #[serde(default = "default_mail_from")]
    pub mail_from: String,
    #[serde(default)]
    pub sms: Option<SmsGateway>,
    /// Tries before a message is `dead`.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: i32,
    /// First retry after this many seconds, doubling each time (capped at six hours).
    #[serde(default = "default_backoff")]
    pub backoff_secs: i64,
}

fn default_public_url() -> String {
    "http://127.0.0.1:8080".into()
}
fn default_mail_from() -> String {
    "Balaikota <noreply@balaikota.local>".into()
}
fn default_max_attempts() -> i32 {
    8
}
fn default_backoff() -> i64 {
    30
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            public_url: default_public_url(),
            smtp_url: String::new(),
            mail_from: default_mail_from(),
            sms: None,
            max_attempts: default_max_attempts(),
            backoff_secs: default_backoff(),
        }
    }
}

/// The notification service: settings, transports and the clock. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    settings: NotifySettings,
    clock: SharedClock,
    mailer: Option<Mailer>,
    http: reqwest::Client,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("public_url", &self.inner.settings.public_url)
            .field("email", &self.inner.mailer.is_some())
            .field("sms", &self.inner.settings.sms.is_some())
            .finish()
    }
}

impl Notifier {
    /// Builds the transports; a malformed SMTP URL or SMS gateway setting is an error here, at
    /// start, not at the first message.
    pub fn new(settings: NotifySettings, clock: SharedClock) -> anyhow::Result<Notifier> {
        crate::install_tls();
        let mailer = Mailer::from_url(&settings.smtp_url)?;
        if let Some(sms) = &settings.sms {
            sms.check()?;
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()?;
        Ok(Notifier {
            inner: Arc::new(Inner {
                settings,
                clock,
                mailer,
                http,
            }),
        })
    }

    pub fn settings(&self) -> &NotifySettings {
        &self.inner.settings
    }

    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.clock.now()
    }

    pub fn email_configured(&self) -> bool {
        self.inner.mailer.is_some()
    }

    pub fn email_transport(&self) -> String {
        self.inner
            .mailer
            .as_ref()
            .map(|m| m.describe())
            .unwrap_or_default()
    }

    pub fn sms_configured(&self) -> bool {
        self.inner.settings.sms.is_some()
    }

    /// The start of links for a city.
    pub fn base_url(&self, city: &City) -> String {
        match &city.host {
            Some(h) => format!("https://{h}"),
            None => self
                .inner
                .settings
                .public_url
                .trim_end_matches('/')
                .to_string(),
        }
    }
}

/// Someone to tell: an account, or an office's contact when no account holds the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub account_id: Option<Uuid>,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub lang: Lang,
    pub prefs: Prefs,
}

/// A person's channel choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Prefs {
    pub email: bool,
    pub sms: bool,
    pub in_app: bool,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            email: true,
            sms: true,
            in_app: true,
        }
    }
}

impl Person {
    fn from_account(m: account::Model, prefs: Prefs) -> Person {
        Person {
            account_id: Some(m.id),
            name: m.full_name,
            email: m.email,
            phone: m.phone,
            lang: Lang::parse(&m.lang).unwrap_or_default(),
            prefs,
        }
    }

    fn from_agency(a: agency::Model) -> Person {
        Person {
            account_id: None,
            name: a.name,
            email: a.email,
            phone: a.phone,
            lang: Lang::Id,
            prefs: Prefs::default(),
        }
    }

    pub fn from_account_view(a: &Account, prefs: Prefs) -> Person {
        Person {
            account_id: Some(a.id),
            name: a.full_name.clone(),
            email: a.email.clone(),
            phone: a.phone.clone(),
            lang: a.lang,
            prefs,
        }
    }
}

/// What a deadline (or any tracked thing) knows about the people around it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Around {
    pub agency_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
    pub requester_id: Option<Uuid>,
}

pub async fn prefs_of<C: ConnectionTrait>(conn: &C, city: &str, id: Uuid) -> AppResult<Prefs> {
    Ok(notify_pref::Entity::find_by_id((city.to_string(), id))
        .one(conn)
        .await?
        .map(|p| Prefs {
            email: p.email,
            sms: p.sms,
            in_app: p.in_app,
        })
        .unwrap_or_default())
}

async fn people_of_accounts<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    rows: Vec<account::Model>,
) -> AppResult<Vec<Person>> {
    let mut out = Vec::new();
    for m in rows.into_iter().filter(|m| m.active) {
        let prefs = prefs_of(conn, &city.code, m.id).await?;
        out.push(Person::from_account(m, prefs));
    }
    Ok(out)
}

async fn accounts_where<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    role: Role,
    agency_ids: Option<Vec<Uuid>>,
) -> AppResult<Vec<account::Model>> {
    let mut q = account::Entity::find()
        .filter(account::Column::CityCode.eq(&city.code))
        .filter(account::Column::Role.eq(role.code()))
        .filter(account::Column::Active.eq(true));
    if let Some(ids) = agency_ids {
        q = q.filter(account::Column::AgencyId.is_in(ids));
    }
    Ok(q.order_by_asc(account::Column::CreatedAt)
        .limit(50)
        .all(conn)
        .await?)
}

async fn agencies_of_kind<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    kind: &str,
) -> AppResult<Vec<agency::Model>> {
    Ok(agency::Entity::find()
        .filter(agency::Column::CityCode.eq(&city.code))
        .filter(agency::Column::Kind.eq(kind))
        .filter(agency::Column::Active.eq(true))
        .all(conn)
        .await?)
}

/// The people a ladder's recipient names. An office without an account for the role is told
/// through the office's own email and phone.
pub async fn resolve<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    who: &Recipient,
    around: Around,
) -> AppResult<Vec<Person>> {
    let by_id = |id: Uuid| async move {
        account::Entity::find_by_id((city.code.clone(), id))
            .one(conn)
            .await
    };
    match who {
        Recipient::Assignee => match around.assignee_id {
            Some(id) => {
                people_of_accounts(conn, city, by_id(id).await?.into_iter().collect()).await
            }
            None => match around.agency_id {
                Some(a) => {
                    let rows = accounts_where(conn, city, Role::Officer, Some(vec![a])).await?;
                    people_of_accounts(conn, city, rows).await
                }
                None => Ok(vec![]),
            },
        },
        Recipient::Requester => match around.requester_id {
            Some(id) => {
                people_of_accounts(conn, city, by_id(id).await?.into_iter().collect()).await
            }
            None => Ok(vec![]),
        },
        Recipient::AgencyHead => {
            let Some(a) = around.agency_id else {
                return Ok(vec![]);
            };
            let rows = accounts_where(conn, city, Role::Head, Some(vec![a])).await?;
            if !rows.is_empty() {
                return people_of_accounts(conn, city, rows).await;
            }
            Ok(agency::Entity::find_by_id((city.code.clone(), a))
                .one(conn)
                .await?
                .map(Person::from_agency)
                .into_iter()
                .collect())
        }
        Recipient::Inspectorate => {
            let rows = accounts_where(conn, city, Role::Inspectorate, None).await?;
            if !rows.is_empty() {
                return people_of_accounts(conn, city, rows).await;
            }
            Ok(agencies_of_kind(conn, city, "inspektorat")
                .await?
                .into_iter()
                .map(Person::from_agency)
                .collect())
        }
        Recipient::Sekda => {
            let offices = agencies_of_kind(conn, city, "setda").await?;
            let ids: Vec<Uuid> = offices.iter().map(|a| a.id).collect();
            if ids.is_empty() {
                return Ok(vec![]);
            }
            let rows = accounts_where(conn, city, Role::Head, Some(ids)).await?;
            if !rows.is_empty() {
                return people_of_accounts(conn, city, rows).await;
            }
            Ok(offices.into_iter().map(Person::from_agency).collect())
        }
    }
}

/// One notice to queue.
pub struct Notice<'a> {
    /// A template key (`sla.breach`).
    pub template: &'a str,
    /// The placeholders' values in a language (dates and spans read differently).
    pub vars: &'a (dyn Fn(Lang) -> Vec<(&'static str, String)> + Sync),
    /// A path inside the city (`/perizinan/123`), made absolute for each channel.
    pub link: Option<String>,
    pub source_type: &'a str,
    pub source_id: String,
    /// The idempotency base: the same base, person and channel is queued once, ever.
    pub key: String,
}

/// What the outbox holds, for the admin page and the API.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxItem {
    pub id: Uuid,
    pub channel: String,
    pub account_id: Option<Uuid>,
    pub recipient: String,
    pub address: Option<String>,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub source_type: String,
    pub source_id: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<outbox::Model> for OutboxItem {
    fn from(m: outbox::Model) -> Self {
        OutboxItem {
            id: m.id,
            channel: m.channel,
            account_id: m.account_id,
            recipient: m.recipient,
            address: m.address,
            subject: m.subject,
            body: m.body,
            status: m.status,
            attempts: m.attempts,
            last_error: m.last_error,
            source_type: m.source_type,
            source_id: m.source_id,
            created_at: from_us(m.created_us),
            next_attempt_at: from_us(m.next_attempt_us),
            sent_at: m.sent_us.map(from_us),
        }
    }
}

pub const STATUSES: [&str; 5] = ["pending", "failed", "sent", "dead", "skipped"];

fn channel_code(c: Channel) -> &'static str {
    match c {
        Channel::Email => "email",
        Channel::Sms => "sms",
        Channel::InApp => "in_app",
        Channel::Webhook => "webhook",
    }
}

/// A short code for a path in a city (the same path keeps its code).
pub async fn short_code<C: ConnectionTrait>(
    conn: &C,
    city: &City,
    path: &str,
    now_us: i64,
) -> AppResult<String> {
    if let Some(m) = short_link::Entity::find()
        .filter(short_link::Column::CityCode.eq(&city.code))
        .filter(short_link::Column::Path.eq(path))
        .one(conn)
        .await?
    {
        return Ok(m.code);
    }
    for _ in 0..5 {
        let code = kernel::ids::random_code(6);
        let res = short_link::Entity::insert(short_link::ActiveModel {
            code: Set(code.clone()),
            city_code: Set(city.code.clone()),
            path: Set(path.to_string()),
            created_us: Set(now_us),
        })
        .on_conflict(
            OnConflict::column(short_link::Column::Code)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
        if res == 1 {
            return Ok(code);
        }
    }
    Err(AppError::Internal(anyhow::anyhow!("no free short code")))
}

/// Where a short code leads (within its city).
pub async fn short_target(db: &Db, city: &City, code: &str) -> AppResult<Option<String>> {
    Ok(short_link::Entity::find_by_id(code.to_ascii_uppercase())
        .one(db.conn())
        .await?
        .filter(|m| m.city_code == city.code)
        .map(|m| m.path))
}

impl Notifier {
    /// Queues a notice for people on channels, inside the caller's transaction. Returns how
    /// many rows were new (a repeated key adds none).
    pub async fn enqueue(
        &self,
        tx: &Tx,
        city: &City,
        people: &[Person],
        channels: &[Channel],
        notice: &Notice<'_>,
    ) -> AppResult<usize> {
        let Some(insert) = self.outbox_rows(tx, city, people, channels, notice).await? else {
            return Ok(0);
        };
        let added = insert.exec_without_returning(&**tx).await?;
        Ok(usize::try_from(added).unwrap_or(0))
    }

    /// As [`Notifier::enqueue`], but the rows go with the transaction's other queued writes
    /// ([`Tx::later`]), for a caller that does not need the count.
    pub async fn enqueue_later(
        &self,
        tx: &Tx,
        city: &City,
        people: &[Person],
        channels: &[Channel],
        notice: &Notice<'_>,
    ) -> AppResult<()> {
        if let Some(insert) = self.outbox_rows(tx, city, people, channels, notice).await? {
            tx.later(sea_orm::QueryTrait::build(
                &insert,
                tx.get_database_backend(),
            ));
        }
        Ok(())
    }

    /// The outbox rows of a notice (none when nobody is to hear it), a repeated key skipped.
    async fn outbox_rows(
        &self,
        tx: &Tx,
        city: &City,
        people: &[Person],
        channels: &[Channel],
        notice: &Notice<'_>,
    ) -> AppResult<Option<sea_orm::InsertMany<outbox::ActiveModel>>> {
        let now_us = to_us(self.now());
        let base = self.base_url(city);
        let link = notice.link.as_ref().map(|p| format!("{base}{p}"));
        let short = match &notice.link {
            Some(p) if channels.contains(&Channel::Sms) && self.inner.settings.sms.is_some() => {
                Some(format!(
                    "{base}/l/{}",
                    short_code(&**tx, city, p, now_us).await?
                ))
            }
            _ => None,
        };
        let mut rendered: BTreeMap<&'static str, (String, String, String)> = BTreeMap::new();
        let mut render = async |lang: Lang| -> AppResult<(String, String, String)> {
            if let Some(r) = rendered.get(lang.code()) {
                return Ok(r.clone());
            }
            let t = templates::get_kept(tx, city, notice.template, lang).await?;
            let f = templates::fill(&t, &(notice.vars)(lang), &city.name, link.as_deref());
            let r = (f.subject, f.body, f.sms);
            rendered.insert(lang.code(), r.clone());
            Ok(r)
        };
        let mut rows = Vec::new();
        for ch in channels {
            if *ch == Channel::Webhook {
                let hook = webhook::Entity::find_by_id(city.code.clone())
                    .one(&**tx)
                    .await?
                    .filter(|w| w.active && !w.url.is_empty());
                let (subject, body, _) = render(Lang::Id).await?;
                let (address, status, err) = match hook {
                    Some(w) => (Some(w.url), "pending", None),
                    None => (None, "skipped", Some("no_webhook")),
                };
                rows.push((
                    None,
                    "webhook".to_string(),
                    *ch,
                    address,
                    subject,
                    body,
                    status,
                    err,
                ));
                continue;
            }
            for p in people {
                let (subject, body, sms) = render(p.lang).await?;
                let (address, reason) = match ch {
                    Channel::Email if !p.prefs.email => (None, Some("pref_off")),
                    Channel::Email if self.inner.mailer.is_none() => {
                        (p.email.clone(), Some("email_not_configured"))
                    }
                    Channel::Email => (p.email.clone(), p.email.is_none().then_some("no_email")),
                    Channel::Sms if !p.prefs.sms => (None, Some("pref_off")),
                    Channel::Sms if self.inner.settings.sms.is_none() => {
                        (p.phone.clone(), Some("sms_not_configured"))
                    }
                    Channel::Sms => (p.phone.clone(), p.phone.is_none().then_some("no_phone")),
                    Channel::InApp if p.account_id.is_none() => (None, Some("no_account")),
                    Channel::InApp if !p.prefs.in_app => (None, Some("pref_off")),
                    Channel::InApp => (None, None),
                    Channel::Webhook => (None, None),
                };
                let body = if *ch == Channel::Sms {
                    kernel::message::fit_sms(&sms, short.as_deref())
                } else {
                    body
                };
                rows.push((
                    p.account_id,
                    p.name.clone(),
                    *ch,
                    address,
                    subject,
                    body,
                    if reason.is_some() {
                        "skipped"
                    } else {
                        "pending"
                    },
                    reason,
                ));
            }
        }
        // One statement for all rows (a repeated idempotency key is skipped, not an error).
        let models: Vec<outbox::ActiveModel> = rows
            .into_iter()
            .map(
                |(account_id, recipient, ch, address, subject, body, status, reason)| {
                    let who = account_id
                        .map(|i| i.to_string())
                        .or_else(|| address.clone())
                        .unwrap_or_else(|| recipient.clone());
                    outbox::ActiveModel {
                        id: Set(kernel::ids::new_id()),
                        city_code: Set(city.code.clone()),
                        idempotency_key: Set(outbox_key(&notice.key, ch, &who)),
                        channel: Set(channel_code(ch).into()),
                        account_id: Set(account_id),
                        recipient: Set(recipient),
                        address: Set(address),
                        subject: Set(subject),
                        body: Set(body),
                        link: Set(link.clone()),
                        status: Set(status.into()),
                        attempts: Set(0),
                        next_attempt_us: Set(now_us),
                        locked_until_us: Set(0),
                        last_error: Set(reason.map(str::to_string)),
                        source_type: Set(notice.source_type.to_string()),
                        source_id: Set(notice.source_id.clone()),
                        created_us: Set(now_us),
                        sent_us: Set(None),
                    }
                },
            )
            .collect();
        if models.is_empty() {
            return Ok(None);
        }
        Ok(Some(
            outbox::Entity::insert_many(models).on_conflict(
                OnConflict::column(outbox::Column::IdempotencyKey)
                    .do_nothing()
                    .to_owned(),
            ),
        ))
    }
}

impl Notifier {
    /// A notice as a reader in `lang` would get it, without queueing anything: for pages that
    /// say what someone will be told before an action is taken.
    pub async fn preview<C: ConnectionTrait>(
        &self,
        conn: &C,
        city: &City,
        template: &str,
        vars: &[(&'static str, String)],
        link: Option<&str>,
        lang: Lang,
    ) -> AppResult<templates::Rendered> {
        let t = templates::get(conn, city, template, lang).await?;
        let link = link.map(|p| format!("{}{p}", self.base_url(city)));
        Ok(templates::fill(&t, vars, &city.name, link.as_deref()))
    }
}

/// An outbox row's idempotency key: the notice's key, the channel, and who hears it.
fn outbox_key(notice_key: &str, ch: Channel, who: &str) -> String {
    format!("{notice_key}:{}:{who}", channel_code(ch))
}

/// The channels on which an account hears a notice (waiting, sent, or being retried; skipped
/// and given-up ones left out), by the notice's key: what a confirmation page may promise.
pub async fn channels_reaching(
    db: &Db,
    city: &City,
    notice_key: &str,
    account_id: Uuid,
) -> AppResult<Vec<&'static str>> {
    let who = account_id.to_string();
    let order = [Channel::InApp, Channel::Email, Channel::Sms];
    let keys: Vec<String> = order
        .iter()
        .map(|c| outbox_key(notice_key, *c, &who))
        .collect();
    let found: Vec<String> = outbox::Entity::find()
        .select_only()
        .column(outbox::Column::Channel)
        .filter(outbox::Column::CityCode.eq(&city.code))
        .filter(outbox::Column::IdempotencyKey.is_in(keys))
        .filter(outbox::Column::Status.is_not_in(["skipped", "dead"]))
        .into_tuple()
        .all(db.conn())
        .await?;
    Ok(order
        .into_iter()
        .map(channel_code)
        .filter(|c| found.iter().any(|f| f == c))
        .collect())
}

/// The outbox of a city, newest first, optionally one status.
pub async fn outbox_list(
    db: &Db,
    city: &City,
    status: Option<&str>,
    limit: u64,
    offset: u64,
) -> AppResult<Vec<OutboxItem>> {
    let mut q = outbox::Entity::find().filter(outbox::Column::CityCode.eq(&city.code));
    if let Some(s) = status {
        q = q.filter(outbox::Column::Status.eq(s));
    }
    Ok(q.order_by_desc(outbox::Column::CreatedUs)
        .order_by_desc(outbox::Column::Id)
        .limit(limit)
        .offset(crate::db::offset(offset))
        .all(db.conn())
        .await?
        .into_iter()
        .map(OutboxItem::from)
        .collect())
}

/// How many messages are in each status.
pub async fn outbox_counts(db: &Db, city: &City) -> AppResult<Vec<(&'static str, u64)>> {
    let mut out = Vec::new();
    for s in STATUSES {
        let n = outbox::Entity::find()
            .filter(outbox::Column::CityCode.eq(&city.code))
            .filter(outbox::Column::Status.eq(s))
            .count(db.conn())
            .await?;
        out.push((s, n));
    }
    Ok(out)
}

/// Sends a failed, dead or skipped message again at the next delivery run.
pub async fn retry(db: &Db, city: &City, actor: &Actor, id: Uuid, now_us: i64) -> AppResult<()> {
    let mut tx = db.tx().await?;
    let Some(m) = outbox::Entity::find_by_id(id).one(&*tx).await? else {
        return Err(AppError::NotFound);
    };
    if m.city_code != city.code {
        return Err(AppError::NotFound);
    }
    if !matches!(m.status.as_str(), "failed" | "dead" | "skipped") {
        let mut errs = FieldErrors::default();
        errs.add("status", "outbox_not_retryable");
        return Err(AppError::Invalid(errs));
    }
    let before = m.status.clone();
    let mut am: outbox::ActiveModel = m.into();
    am.status = Set("pending".into());
    am.attempts = Set(0);
    am.next_attempt_us = Set(now_us);
    am.locked_until_us = Set(0);
    am.update(&*tx).await?;
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "outbox.retry",
            subject_type: "outbox",
            subject_id: id.to_string(),
            before: Some(serde_json::json!({ "status": before })),
            after: Some(serde_json::json!({ "status": "pending" })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The bell: unread count.
pub async fn unread_count(db: &Db, city_code: &str, account_id: Uuid) -> AppResult<u64> {
    Ok(notification::Entity::find()
        .filter(notification::Column::CityCode.eq(city_code))
        .filter(notification::Column::AccountId.eq(account_id))
        .filter(notification::Column::ReadUs.is_null())
        .count(db.conn())
        .await?)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InApp {
    pub id: Uuid,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub read: bool,
}

pub async fn inbox(
    db: &Db,
    city_code: &str,
    account_id: Uuid,
    limit: u64,
) -> AppResult<Vec<InApp>> {
    Ok(notification::Entity::find()
        .filter(notification::Column::CityCode.eq(city_code))
        .filter(notification::Column::AccountId.eq(account_id))
        .order_by_desc(notification::Column::CreatedUs)
        .limit(limit)
        .all(db.conn())
        .await?
        .into_iter()
        .map(|m| InApp {
            id: m.id,
            title: m.title,
            body: m.body,
            link: m.link,
            created_at: from_us(m.created_us),
            read: m.read_us.is_some(),
        })
        .collect())
}

pub async fn mark_all_read(
    db: &Db,
    city_code: &str,
    account_id: Uuid,
    now_us: i64,
) -> AppResult<u64> {
    use sea_orm::sea_query::Expr;
    let read = notification::Entity::update_many()
        .col_expr(notification::Column::ReadUs, Expr::value(now_us))
        .filter(notification::Column::CityCode.eq(city_code))
        .filter(notification::Column::AccountId.eq(account_id))
        .filter(notification::Column::ReadUs.is_null());
    let res = db.write(async |tx| read.exec(tx).await).await?;
    Ok(res.rows_affected)
}

/// Saves a person's channel choices.
pub async fn save_prefs(db: &Db, acc: &Account, prefs: Prefs) -> AppResult<()> {
    let mut tx = db.tx().await?;
    let before = prefs_of(&*tx, &acc.city_code, acc.id).await?;
    let exists = notify_pref::Entity::find_by_id((acc.city_code.clone(), acc.id))
        .one(&*tx)
        .await?
        .is_some();
    let am = notify_pref::ActiveModel {
        city_code: Set(acc.city_code.clone()),
        account_id: Set(acc.id),
        email: Set(prefs.email),
        sms: Set(prefs.sms),
        in_app: Set(prefs.in_app),
    };
    if exists {
        am.update(&*tx).await?;
    } else {
        am.insert(&*tx).await?;
    }
    tx.audit(
        &acc.city_code,
        &acc.actor(),
        Change {
            action: "account.notify_prefs",
            subject_type: "account",
            subject_id: acc.id.to_string(),
            before: serde_json::to_value(before).ok(),
            after: serde_json::to_value(prefs).ok(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A city's webhook (URL and whether it is on; the secret is never shown again).
#[derive(Debug, Clone, Serialize)]
pub struct WebhookView {
    pub url: String,
    pub active: bool,
    pub has_secret: bool,
}

pub async fn webhook_of(db: &Db, city: &City) -> AppResult<Option<WebhookView>> {
    Ok(webhook::Entity::find_by_id(city.code.clone())
        .one(db.conn())
        .await?
        .map(|w| WebhookView {
            url: w.url,
            active: w.active,
            has_secret: !w.secret.is_empty(),
        }))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct WebhookInput {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub secret: String,
    #[serde(default)]
    pub active: Option<String>,
}

/// Sets the city's webhook. A blank secret keeps the one stored.
pub async fn save_webhook(
    db: &Db,
    city: &City,
    actor: &Actor,
    input: &WebhookInput,
) -> AppResult<()> {
    let mut errs = FieldErrors::default();
    let url = input.url.trim();
    match url::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
        _ => errs.add("url", "url_invalid"),
    }
    let existing = webhook::Entity::find_by_id(city.code.clone())
        .one(db.conn())
        .await?;
    let secret = match (input.secret.trim(), &existing) {
        ("", Some(w)) => w.secret.clone(),
        ("", None) => {
            errs.add("secret", "required");
            String::new()
        }
        (s, _) if s.len() < 16 => {
            errs.push(kernel::FieldError::new("secret", "too_short").with_arg("min", 16));
            String::new()
        }
        (s, _) => s.to_string(),
    };
    if !errs.is_empty() {
        return Err(AppError::Invalid(errs));
    }
    let mut tx = db.tx().await?;
    let am = webhook::ActiveModel {
        city_code: Set(city.code.clone()),
        url: Set(url.to_string()),
        secret: Set(secret),
        active: Set(input.active.is_some()),
        updated_at: Set(chrono::Utc::now()),
    };
    if existing.is_some() {
        am.update(&*tx).await?;
    } else {
        am.insert(&*tx).await?;
    }
    tx.audit(
        &city.code,
        actor,
        Change {
            action: "webhook.save",
            subject_type: "webhook",
            subject_id: city.code.clone(),
            before: existing.map(|w| serde_json::json!({ "url": w.url, "active": w.active })),
            after: Some(serde_json::json!({ "url": url, "active": input.active.is_some() })),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
