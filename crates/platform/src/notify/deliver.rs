//! Delivery: claim due outbox rows (one conditional UPDATE each, so two workers never take the
//! same row), send them, and record sent / failed (with the next try, doubling) / dead.

use std::time::Duration;

use hmac::{Hmac, Mac};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::Notifier;
use crate::clock::to_us;
use crate::db::Db;
use crate::entity::{notification, outbox, webhook};
use crate::error::AppResult;

/// An email transport.
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>, String),
    File(AsyncFileTransport<Tokio1Executor>, std::path::PathBuf),
}

impl Mailer {
    pub(super) fn from_url(url: &str) -> anyhow::Result<Option<Mailer>> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(None);
        }
        if let Some(path) = url.strip_prefix("file://") {
            let dir = std::path::PathBuf::from(path);
            std::fs::create_dir_all(&dir)
                .map_err(|e| anyhow::anyhow!("email folder {}: {e}", dir.display()))?;
            return Ok(Some(Mailer::File(AsyncFileTransport::new(&dir), dir)));
        }
        let parsed = url::Url::parse(url).map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            anyhow::bail!("smtp_url must start with smtp://, smtps:// or file://");
        }
        let shown = format!(
            "{}://{}:{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or(""),
            parsed
                .port()
                .unwrap_or(if parsed.scheme() == "smtps" { 465 } else { 25 })
        );
        let t = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("smtp_url: {e}"))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        Ok(Some(Mailer::Smtp(t, shown)))
    }

    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(_, s) => s.clone(),
            Mailer::File(_, d) => format!("file://{}", d.display()),
        }
    }

    async fn send(&self, msg: Message) -> Result<(), String> {
        match self {
            Mailer::Smtp(t, _) => t.send(msg).await.map(|_| ()).map_err(|e| e.to_string()),
            Mailer::File(t, _) => t.send(msg).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

/// An HTTP SMS gateway, described as data so any provider fits. Placeholders `{to}` (+62…),
/// `{to_msisdn}` (62…), `{to_local}` (08…), `{text}` and `{key}` (the idempotency key) are
/// filled in the URL (URL-encoded) and the body (JSON-escaped when the content type is JSON,
/// form-encoded when it is a form, as is otherwise).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmsGateway {
    pub url: String,
    #[serde(default = "default_method")]
    pub method: String,
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// Besides a 2xx status, the answer must contain this text to count as accepted.
    #[serde(default)]
    pub success_contains: Option<String>,
}

fn default_method() -> String {
    "POST".into()
}

impl SmsGateway {
    pub(super) fn check(&self) -> anyhow::Result<()> {
        let probe = self.url.replace(['{', '}'], "");
        let u = url::Url::parse(&probe).map_err(|e| anyhow::anyhow!("sms.url: {e}"))?;
        if !matches!(u.scheme(), "http" | "https") {
            anyhow::bail!("sms.url must be http:// or https://");
        }
        reqwest::Method::from_bytes(self.method.to_uppercase().as_bytes())
            .map_err(|_| anyhow::anyhow!("sms.method `{}` is not an HTTP method", self.method))?;
        Ok(())
    }

    fn fill(&self, template: &str, vars: &[(&str, String)], enc: Enc) -> String {
        let encoded: Vec<(&str, String)> = vars
            .iter()
            .map(|(k, v)| {
                let v = match enc {
                    Enc::Url => {
                        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                            .to_string()
                    }
                    Enc::Json => {
                        let s = serde_json::to_string(v).unwrap_or_default();
                        s[1..s.len().saturating_sub(1).max(1)].to_string()
                    }
                    Enc::Raw => v.clone(),
                };
                (*k, v)
            })
            .collect();
        kernel::message::render(template, &encoded)
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        to: &str,
        text: &str,
        key: &str,
    ) -> Result<(), String> {
        let msisdn = to.trim_start_matches('+').to_string();
        let local = msisdn
            .strip_prefix("62")
            .map(|n| format!("0{n}"))
            .unwrap_or_else(|| msisdn.clone());
        let vars = [
            ("to", to.to_string()),
            ("to_msisdn", msisdn),
            ("to_local", local),
            ("text", text.to_string()),
            ("key", key.to_string()),
        ];
        let url = self.fill(&self.url, &vars, Enc::Url);
        let method = reqwest::Method::from_bytes(self.method.to_uppercase().as_bytes())
            .map_err(|e| e.to_string())?;
        let mut req = http.request(method, &url);
        for (k, v) in &self.headers {
            req = req.header(k, self.fill(v, &vars, Enc::Raw));
        }
        if let Some(body) = &self.body {
            let ct = self.content_type.clone().unwrap_or_default();
            let enc = if ct.contains("json") {
                Enc::Json
            } else if ct.contains("form") {
                Enc::Url
            } else {
                Enc::Raw
            };
            if !ct.is_empty() {
                req = req.header("content-type", ct);
            }
            req = req.body(self.fill(body, &vars, enc));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| format!("gateway unreachable: {e}"))?;
        let status = resp.status();
        let answer = resp.text().await.unwrap_or_default();
        let short: String = answer.chars().take(200).collect();
        if !status.is_success() {
            return Err(format!("gateway answered {status}: {short}"));
        }
        if let Some(want) = &self.success_contains
            && !answer.contains(want.as_str())
        {
            return Err(format!("gateway answer lacks \"{want}\": {short}"));
        }
        Ok(())
    }
}

/// Why a message was not delivered: worth another try, or not (a malformed address).
enum Fail {
    Retry(String),
    Permanent(String),
}

#[derive(Clone, Copy)]
enum Enc {
    Url,
    Json,
    Raw,
}

/// What one delivery run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryReport {
    pub sent: usize,
    pub failed: usize,
    pub dead: usize,
}

/// Claims are held this long; a worker that dies mid-send frees its rows after it.
const LEASE_US: i64 = 120_000_000;
const MAX_BACKOFF_SECS: i64 = 6 * 3600;

fn text_to_html(text: &str, link: Option<&str>) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut html = String::from(
        "<!doctype html><html><body style=\"font-family:sans-serif;font-size:16px;line-height:1.5;color:#1a1a1a\">",
    );
    for para in text.split("\n\n") {
        html.push_str("<p>");
        html.push_str(&esc(para).replace('\n', "<br>"));
        html.push_str("</p>");
    }
    if let Some(l) = link {
        let l = esc(l);
        html = html.replace(&l, &format!("<a href=\"{l}\">{l}</a>"));
    }
    html.push_str("</body></html>");
    html
}

impl Notifier {
    /// Sends every message that is due, a batch at a time, until none is left (or `max` were
    /// tried). Safe to run in several instances at once.
    pub async fn deliver_due(&self, db: &Db, max: usize) -> AppResult<DeliveryReport> {
        let mut report = DeliveryReport::default();
        let mut tried = 0;
        loop {
            let now_us = to_us(self.now());
            let due = outbox::Entity::find()
                .filter(outbox::Column::Status.is_in(["pending", "failed"]))
                .filter(outbox::Column::NextAttemptUs.lte(now_us))
                .filter(outbox::Column::LockedUntilUs.lte(now_us))
                .order_by_asc(outbox::Column::NextAttemptUs)
                .limit(50)
                .all(db.conn())
                .await?;
            if due.is_empty() {
                break;
            }
            let mut claimed_any = false;
            for m in due {
                if tried >= max {
                    return Ok(report);
                }
                let claim = outbox::Entity::update_many()
                    .col_expr(
                        outbox::Column::LockedUntilUs,
                        Expr::value(now_us + LEASE_US),
                    )
                    .col_expr(
                        outbox::Column::Attempts,
                        sea_orm::sea_query::ExprTrait::add(
                            Expr::col(outbox::Column::Attempts),
                            Expr::value(1),
                        ),
                    )
                    .filter(outbox::Column::Id.eq(m.id))
                    .filter(outbox::Column::Status.is_in(["pending", "failed"]))
                    .filter(outbox::Column::NextAttemptUs.lte(now_us))
                    .filter(outbox::Column::LockedUntilUs.lte(now_us));
                let claim = db.write(async |tx| claim.exec(tx).await).await?;
                if claim.rows_affected != 1 {
                    continue;
                }
                claimed_any = true;
                tried += 1;
                let attempts = m.attempts + 1;
                let result = self.send_one(db, &m).await;
                let now_us = to_us(self.now());
                let mut upd = outbox::Entity::update_many()
                    .col_expr(outbox::Column::LockedUntilUs, Expr::value(0i64))
                    .filter(outbox::Column::Id.eq(m.id));
                match result {
                    Ok(()) => {
                        report.sent += 1;
                        upd = upd
                            .col_expr(outbox::Column::Status, Expr::value("sent"))
                            .col_expr(outbox::Column::SentUs, Expr::value(now_us))
                            .col_expr(
                                outbox::Column::LastError,
                                Expr::value(Option::<String>::None),
                            );
                        metrics::counter!("notify_sent_total", "channel" => m.channel.clone())
                            .increment(1);
                    }
                    Err(fail) => {
                        let (err, permanent) = match fail {
                            Fail::Retry(e) => (e, false),
                            Fail::Permanent(e) => (e, true),
                        };
                        let dead = permanent || attempts >= self.settings().max_attempts;
                        tracing::warn!(
                            id = %m.id, channel = %m.channel, attempts, dead, error = %err,
                            "notification not delivered"
                        );
                        let wait = self
                            .settings()
                            .backoff_secs
                            .max(1)
                            .saturating_mul(1i64 << (attempts - 1).clamp(0, 20))
                            .min(MAX_BACKOFF_SECS);
                        upd = upd
                            .col_expr(
                                outbox::Column::Status,
                                Expr::value(if dead { "dead" } else { "failed" }),
                            )
                            .col_expr(outbox::Column::LastError, Expr::value(Some(err)))
                            .col_expr(
                                outbox::Column::NextAttemptUs,
                                Expr::value(now_us + wait * 1_000_000),
                            );
                        if dead {
                            report.dead += 1;
                        } else {
                            report.failed += 1;
                        }
                        metrics::counter!("notify_failed_total", "channel" => m.channel.clone())
                            .increment(1);
                    }
                }
                db.write(async |tx| upd.exec(tx).await).await?;
            }
            if !claimed_any {
                break;
            }
        }
        Ok(report)
    }

    async fn send_one(&self, db: &Db, m: &outbox::Model) -> Result<(), Fail> {
        match m.channel.as_str() {
            "email" => {
                let mailer = self
                    .inner
                    .mailer
                    .as_ref()
                    .ok_or(Fail::Retry("email is not configured".into()))?;
                let address: lettre::Address = m
                    .address
                    .clone()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|e| Fail::Permanent(format!("bad address: {e}")))?;
                let to = Mailbox::new(Some(m.recipient.clone()), address);
                let from: Mailbox = self
                    .settings()
                    .mail_from
                    .parse()
                    .map_err(|e| Fail::Retry(format!("mail_from: {e}")))?;
                let msg = Message::builder()
                    .from(from)
                    .to(to)
                    .subject(m.subject.clone())
                    .message_id(Some(format!("<{}@balaikota>", m.id)))
                    .multipart(MultiPart::alternative_plain_html(
                        m.body.clone(),
                        text_to_html(&m.body, m.link.as_deref()),
                    ))
                    .map_err(|e| Fail::Permanent(e.to_string()))?;
                mailer.send(msg).await.map_err(Fail::Retry)
            }
            "sms" => {
                let gw = self
                    .settings()
                    .sms
                    .as_ref()
                    .ok_or(Fail::Retry("SMS is not configured".into()))?;
                let to = m
                    .address
                    .as_deref()
                    .ok_or(Fail::Permanent("no phone number".into()))?;
                gw.send(&self.inner.http, to, &m.body, &m.idempotency_key)
                    .await
                    .map_err(Fail::Retry)
            }
            "in_app" => {
                let account = m.account_id.ok_or(Fail::Permanent("no account".into()))?;
                let row = notification::Entity::insert(notification::ActiveModel {
                    city_code: Set(m.city_code.clone()),
                    id: Set(m.id),
                    account_id: Set(account),
                    title: Set(m.subject.clone()),
                    body: Set(m.body.clone()),
                    link: Set(m.link.clone()),
                    created_us: Set(m.created_us),
                    read_us: Set(None),
                })
                .on_conflict(
                    OnConflict::columns([notification::Column::CityCode, notification::Column::Id])
                        .do_nothing()
                        .to_owned(),
                );
                db.write(async |tx| row.exec_without_returning(tx).await)
                    .await
                    .map(|_| ())
                    .map_err(|e| Fail::Retry(e.to_string()))
            }
            "webhook" => {
                let hook = webhook::Entity::find_by_id(m.city_code.clone())
                    .one(db.conn())
                    .await
                    .map_err(|e| Fail::Retry(e.to_string()))?
                    .filter(|w| w.active)
                    .ok_or(Fail::Permanent("webhook turned off".into()))?;
                let body = serde_json::json!({
                    "id": m.id,
                    "city": m.city_code,
                    "subject": m.subject,
                    "body": m.body,
                    "link": m.link,
                    "source_type": m.source_type,
                    "source_id": m.source_id,
                    "created_at": crate::clock::from_us(m.created_us),
                })
                .to_string();
                let ts = self.now().timestamp().to_string();
                let sig = sign(&hook.secret, &ts, &body);
                let resp = self
                    .inner
                    .http
                    .post(&hook.url)
                    .header("content-type", "application/json")
                    .header("x-balaikota-timestamp", &ts)
                    .header("x-balaikota-signature", format!("sha256={sig}"))
                    .header("idempotency-key", &m.idempotency_key)
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| Fail::Retry(format!("webhook unreachable: {e}")))?;
                if resp.status().is_success() {
                    Ok(())
                } else {
                    Err(Fail::Retry(format!("webhook answered {}", resp.status())))
                }
            }
            other => Err(Fail::Permanent(format!("unknown channel {other}"))),
        }
    }
}

/// The webhook signature: HMAC-SHA256 of `timestamp.body` with the city's secret, hex.
pub fn sign(secret: &str, ts: &str, body: &str) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_links() {
        let h = text_to_html("a <b>\n\nBuka: http://x/l", Some("http://x/l"));
        assert!(h.contains("<p>a &lt;b&gt;</p>"));
        assert!(h.contains("<a href=\"http://x/l\">http://x/l</a>"));
    }

    #[test]
    fn gateway_placeholders_are_encoded_for_where_they_go() {
        let g = SmsGateway {
            url: "http://gw/send?to={to_msisdn}&msg={text}".into(),
            method: "GET".into(),
            headers: Default::default(),
            body: None,
            content_type: None,
            success_contains: None,
        };
        let vars = [
            ("to_msisdn", "628123".to_string()),
            ("text", "a b&\"c".to_string()),
        ];
        assert_eq!(
            g.fill(&g.url, &vars, Enc::Url),
            "http://gw/send?to=628123&msg=a%20b%26%22c"
        );
        assert_eq!(
            g.fill("{\"t\":\"{text}\"}", &vars, Enc::Json),
            "{\"t\":\"a b&\\\"c\"}"
        );
    }
}
