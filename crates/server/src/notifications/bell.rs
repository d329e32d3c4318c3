//! The live unread count: a process-wide broadcast of "these recipients' bells changed",
//! fed by local commits (SQLite) or by PostgreSQL's `LISTEN accord_bell` (every instance),
//! and the server-sent-event stream each open page listens to.

use super::unread_count;
use crate::kernel::auth::Staff;
use crate::kernel::web::AppState;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use tokio::sync::broadcast;

/// Recipients whose bell changed; an empty list means "everyone, look again" (sent after
/// the PostgreSQL listener reconnects, when events may have been missed).
pub type Changed = Arc<Vec<i64>>;

static BELL: LazyLock<broadcast::Sender<Changed>> = LazyLock::new(|| broadcast::channel(1024).0);

/// A stream re-reads its count at least this often, whatever it heard.
const FALLBACK_POLL: Duration = Duration::from_secs(15);

/// Tells local bell streams that these recipients' counts changed.
pub fn publish(recipients: Vec<i64>) {
    let _ = BELL.send(Arc::new(recipients));
}

/// A receiver of bell changes (for the event streams and the benchmark).
pub fn subscribe() -> broadcast::Receiver<Changed> {
    BELL.subscribe()
}

/// Listens on PostgreSQL for every instance's bell changes, reconnecting on failure.
pub async fn listen(pool: sqlx::PgPool) {
    loop {
        match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen("accord_bell").await {
                    tracing::warn!(error = %e, "cannot LISTEN accord_bell");
                } else {
                    publish(Vec::new());
                    loop {
                        match listener.recv().await {
                            Ok(n) => publish(
                                n.payload()
                                    .split(',')
                                    .filter_map(|s| s.parse().ok())
                                    .collect(),
                            ),
                            Err(e) => {
                                tracing::warn!(error = %e, "bell listener lost its connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect the bell listener"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

struct Listening {
    state: AppState,
    me: i64,
    rx: broadcast::Receiver<Changed>,
    stop: tokio::sync::watch::Receiver<bool>,
    last: Option<i64>,
}

impl Listening {
    /// Waits until this recipient's count may have changed; false when the server stops.
    async fn wait(&mut self) -> bool {
        loop {
            tokio::select! {
                heard = self.rx.recv() => match heard {
                    Ok(ids) if ids.is_empty() || ids.contains(&self.me) => return true,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return true,
                    Err(broadcast::error::RecvError::Closed) => return false,
                },
                () = tokio::time::sleep(FALLBACK_POLL) => return true,
                _ = self.stop.changed() => return false,
            }
        }
    }
}

/// `GET /notifications/stream`: `count` events with the viewer's unread count, first at
/// once, then whenever it changes.
pub async fn stream(
    State(state): State<AppState>,
    staff: Staff,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let listening = Listening {
        rx: subscribe(),
        stop: state.stop.subscribe(),
        me: staff.user.id,
        state,
        last: None,
    };
    let events = futures_util::stream::unfold(listening, |mut l| async move {
        loop {
            if *l.stop.borrow() {
                return None;
            }
            if l.last.is_some() && !l.wait().await {
                return None;
            }
            let count = match unread_count(&l.state.db, l.me).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "bell count failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if l.last != Some(count) {
                l.last = Some(count);
                let event = Event::default().event("count").data(count.to_string());
                return Some((Ok(event), l));
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
