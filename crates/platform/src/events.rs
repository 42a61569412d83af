//! Live fan-out of what happens (audit entries today; app events later). In-process it is a
//! broadcast channel. On PostgreSQL every entry is also sent with `NOTIFY` inside the writing
//! transaction, and each instance's listener re-broadcasts it, so live pages on every instance
//! see every change once it is committed.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

pub const PG_CHANNEL: &str = "balaikota_events";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: String,
    pub city_code: String,
    pub seq: i64,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    /// What people read: `agency Dinas Sosial (01a2…)`.
    pub subject: String,
    pub actor: String,
    pub at_us: i64,
}

#[derive(Clone, Debug)]
pub struct EventBus {
    tx: broadcast::Sender<Event>,
}

impl Default for EventBus {
    fn default() -> Self {
        let (tx, _) = broadcast::channel(1024);
        EventBus { tx }
    }
}

impl EventBus {
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    pub fn publish(&self, e: Event) {
        // No subscriber is fine.
        let _ = self.tx.send(e);
    }

    /// Listens for `NOTIFY` on PostgreSQL and re-broadcasts; reconnects with a pause on errors.
    pub fn spawn_pg_listener(
        &self,
        pool: sqlx::PgPool,
        channel: String,
    ) -> tokio::task::JoinHandle<()> {
        let bus = self.clone();
        tokio::spawn(async move {
            loop {
                match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(mut listener) => {
                        if let Err(e) = listener.listen(&channel).await {
                            tracing::warn!(error = %e, "LISTEN failed");
                        } else {
                            loop {
                                match listener.recv().await {
                                    Ok(n) => match serde_json::from_str::<Event>(n.payload()) {
                                        Ok(ev) => bus.publish(ev),
                                        Err(e) => tracing::warn!(error = %e, "bad event payload"),
                                    },
                                    Err(e) => {
                                        tracing::warn!(error = %e, "event listener lost its connection");
                                        break;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot start the event listener"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            }
        })
    }
}
