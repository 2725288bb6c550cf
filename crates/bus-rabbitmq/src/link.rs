//! The connection to the broker and its supervisor: connect, declare the
//! exchanges, open the publisher channel and the reply queue, watch the
//! connection, reconnect with exponential backoff when it drops.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties, Consumer, Event};
use nexpay_bus::BusError;
use tokio::sync::{oneshot, watch};

use crate::config::{Backoff, RabbitConfig};
use crate::topology;
use crate::wire::{decode_reply, unavailable, Reply};

/// One live connection with what every operation needs.
pub(crate) struct Link {
    /// Counts connections made by this bus (1 for the first).
    pub generation: u64,
    pub conn: Connection,
    /// Channel in confirm mode shared by all publishes.
    pub publisher: Channel,
    /// Exclusive, auto-delete, server-named queue replies come back to.
    pub reply_queue: ShortString,
}

impl Link {
    pub(crate) fn alive(&self) -> bool {
        self.conn.status().connected() && self.publisher.status().connected()
    }
}

/// Where the bus stands, published to every task through a watch channel.
#[derive(Clone)]
pub(crate) enum LinkState {
    /// Not connected; the supervisor is (re)connecting. Why, for errors.
    Down(String),
    Up(Arc<Link>),
    /// Closed by [`crate::RabbitBus::close`] or by dropping the bus.
    Closed,
}

type Waiter = oneshot::Sender<Result<Reply, BusError>>;

/// State shared by the bus handles and all its tasks.
pub(crate) struct Shared {
    pub url: String,
    pub service: String,
    pub config: RabbitConfig,
    pub state: watch::Sender<LinkState>,
    /// Requests waiting for a reply: message id -> (link generation, waiter).
    pending: Mutex<HashMap<String, (u64, Waiter)>>,
    close: watch::Sender<bool>,
    generations: AtomicU64,
}

impl Shared {
    pub(crate) fn new(url: &str, service: &str, config: RabbitConfig) -> Self {
        Self {
            url: url.to_owned(),
            service: service.to_owned(),
            config,
            state: watch::Sender::new(LinkState::Down("connecting".to_owned())),
            pending: Mutex::new(HashMap::new()),
            close: watch::Sender::new(false),
            generations: AtomicU64::new(0),
        }
    }

    /// The live connection, or why there is none.
    pub(crate) fn link(&self) -> Result<Arc<Link>, BusError> {
        match &*self.state.borrow() {
            LinkState::Up(link) if link.alive() => Ok(Arc::clone(link)),
            LinkState::Up(_) => Err(BusError::Unavailable("connection lost".to_owned())),
            LinkState::Down(why) => Err(BusError::Unavailable(why.clone())),
            LinkState::Closed => Err(BusError::Closed),
        }
    }

    /// Ask the supervisor to close the connection for good.
    pub(crate) fn request_close(&self) {
        self.close.send_replace(true);
    }

    /// Only map bookkeeping happens under the lock, so a poisoned flag
    /// cannot mean inconsistent state.
    fn waiters(&self) -> MutexGuard<'_, HashMap<String, (u64, Waiter)>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Register a request; false if one with the same id is in flight.
    pub(crate) fn expect_reply(&self, id: &str, generation: u64, tx: Waiter) -> bool {
        let mut waiters = self.waiters();
        if waiters.contains_key(id) {
            return false;
        }
        waiters.insert(id.to_owned(), (generation, tx));
        true
    }

    pub(crate) fn forget_reply(&self, id: &str) {
        self.waiters().remove(id);
    }

    fn dispatch_reply(&self, delivery: lapin::message::Delivery) {
        let Some(id) = delivery.properties.correlation_id().as_ref() else {
            tracing::warn!("reply without correlation id dropped");
            return;
        };
        match self.waiters().remove(id.as_str()) {
            // The caller may have given up meanwhile; fine.
            Some((_, tx)) => drop(tx.send(decode_reply(&delivery.data))),
            None => tracing::debug!(id = %id, "late reply dropped"),
        }
    }

    /// Replies to requests sent over a lost connection can no longer come.
    fn fail_waiters(&self, generation: u64) {
        let lost: Vec<Waiter> = {
            let mut waiters = self.waiters();
            let ids: Vec<String> = waiters
                .iter()
                .filter(|(_, (g, _))| *g <= generation)
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter()
                .filter_map(|id| waiters.remove(id))
                .map(|(_, tx)| tx)
                .collect()
        };
        for tx in lost {
            let err = BusError::Unavailable("connection lost while awaiting the reply".to_owned());
            let _ = tx.send(Err(err));
        }
    }
}

/// Connect and set up everything a [`Link`] needs; also returns the
/// consumer of the reply queue.
pub(crate) async fn establish(shared: &Shared) -> Result<(Link, Consumer), BusError> {
    let attempt = async {
        let props = ConnectionProperties::default()
            .with_connection_name(format!("nexpay:{}", shared.service).into_bytes().into());
        let conn = Connection::connect(&shared.url, props)
            .await
            .map_err(|e| unavailable("connecting to RabbitMQ", &e))?;
        topology::declare_exchanges(&conn).await?;
        let publisher = conn
            .create_channel()
            .await
            .map_err(|e| unavailable("opening the publisher channel", &e))?;
        publisher
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| unavailable("enabling publisher confirms", &e))?;
        let replies = conn
            .create_channel()
            .await
            .map_err(|e| unavailable("opening the reply channel", &e))?;
        let opts = QueueDeclareOptions::exclusive().auto_delete();
        let queue = replies
            .queue_declare(ShortString::default(), opts, FieldTable::default())
            .await
            .map_err(|e| unavailable("declaring the reply queue", &e))?;
        let reply_queue = queue.name().clone();
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let consumer = replies
            .basic_consume(
                reply_queue.clone(),
                ShortString::default(),
                no_ack,
                FieldTable::default(),
            )
            .await
            .map_err(|e| unavailable("consuming the reply queue", &e))?;
        let generation = shared.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let link = Link {
            generation,
            conn,
            publisher,
            reply_queue,
        };
        Ok((link, consumer))
    };
    match tokio::time::timeout(shared.config.connect_timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(BusError::Unavailable(
            "connecting to RabbitMQ timed out".to_owned(),
        )),
    }
}

/// Keep the bus connected until it is closed. `first` is the connection
/// made by `RabbitBus::connect`.
pub(crate) async fn supervise(shared: Arc<Shared>, first: (Arc<Link>, Consumer)) {
    let mut close = shared.close.subscribe();
    let mut backoff = Backoff::new(shared.config.reconnect_min, shared.config.reconnect_max);
    let mut current = Some(first);
    loop {
        let (link, replies) = match current.take() {
            Some(made) => made,
            None => match establish(&shared).await {
                Ok((link, replies)) => (Arc::new(link), replies),
                Err(e) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, ?delay, "RabbitMQ reconnection failed");
                    shared.state.send_replace(LinkState::Down(e.to_string()));
                    tokio::select! {
                        () = tokio::time::sleep(delay) => continue,
                        _ = close.wait_for(|c| *c) => break,
                    }
                }
            },
        };
        backoff.reset();
        tracing::info!(generation = link.generation, "connected to RabbitMQ");
        shared.state.send_replace(LinkState::Up(Arc::clone(&link)));
        let closing = tokio::select! {
            () = watch_link(&shared, &link, replies) => false,
            _ = close.wait_for(|c| *c) => true,
        };
        let why = "connection to RabbitMQ lost; reconnecting".to_owned();
        shared.state.send_replace(if closing {
            LinkState::Closed
        } else {
            LinkState::Down(why)
        });
        shared.fail_waiters(link.generation);
        if link.conn.status().connected() {
            let bye = link.conn.close(200, "bye".into());
            let _ = tokio::time::timeout(Duration::from_secs(2), bye).await;
        }
        if closing {
            break;
        }
        tracing::warn!(generation = link.generation, "RabbitMQ connection lost");
    }
    shared.state.send_replace(LinkState::Closed);
}

/// Dispatch replies until the connection (or its publisher channel) is gone.
async fn watch_link(shared: &Shared, link: &Link, mut replies: Consumer) {
    let mut events = link.conn.events_listener();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            delivery = replies.next() => match delivery {
                Some(Ok(delivery)) => shared.dispatch_reply(delivery),
                Some(Err(e)) => tracing::warn!(error = %e, "reply consumer failed"),
                None => return,
            },
            // Errors of throwaway channels come here too: only a dead
            // connection ends the link.
            event = events.next() => match event {
                Some(Event::Error(e)) if !link.alive() => {
                    tracing::warn!(error = %e, "RabbitMQ connection error");
                    return;
                }
                Some(_) => {}
                None => return,
            },
            _ = tick.tick() => if !link.alive() {
                return;
            },
        }
    }
}
