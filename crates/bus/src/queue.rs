//! One in-process queue: ready messages, unacked deliveries, consumers and
//! dead letters, with RabbitMQ-like bookkeeping.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{oneshot, Notify};

use crate::envelope::Envelope;
use crate::error::HandlerError;

/// The answer to a request, as produced by the serving handler.
pub(crate) type Reply = Result<serde_json::Value, HandlerError>;
pub(crate) type ReplyTx = oneshot::Sender<Reply>;

/// Counters of one queue, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages waiting to be delivered.
    pub ready: u64,
    /// Messages delivered to a consumer and not yet acked or nacked.
    pub unacked: u64,
    /// Live subscriptions (consumers) on the queue.
    pub consumers: u64,
    /// Messages in the queue's dead-letter list.
    pub dead_lettered: u64,
}

struct Pending {
    envelope: Envelope,
    /// Deliveries that count as failed attempts so far (see `Settle::Release`).
    deliveries: u32,
    redelivered: bool,
    /// Present for requests: where the serving handler's answer goes.
    reply: Option<ReplyTx>,
    /// The consumer that last gave the message back, and whether it must
    /// never get it again (see `Settle::Requeue`).
    avoid: Option<(u64, bool)>,
}

impl Pending {
    /// A request whose caller stopped waiting (timed out): RabbitMQ would
    /// expire it (per-message TTL); serving it would be wasted work.
    fn abandoned(&self) -> bool {
        self.reply.as_ref().is_some_and(|tx| tx.is_closed())
    }
}

struct InFlight {
    pending: Pending,
    owner: u64,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Pending>,
    unacked: HashMap<u64, InFlight>,
    /// Subscription id -> number of unacked deliveries it holds (prefetch).
    subs: HashMap<u64, usize>,
    dead: Vec<Envelope>,
    next_id: u64,
    closed: bool,
}

/// How a delivery is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Settle {
    Ack,
    /// Put back for redelivery. Another consumer is preferred; with `strict`
    /// the returning consumer never gets it again (used when its handler
    /// panicked on a request, which RabbitMQ would see as a dead consumer).
    Requeue {
        strict: bool,
    },
    /// Give back a message that was never handed to a handler (consumer
    /// shutdown): it is redelivered without counting as a failed attempt.
    Release,
    DeadLetter,
}

/// A message taken from the queue by a subscription.
pub(crate) struct Taken {
    pub envelope: Envelope,
    pub redelivered: bool,
    pub delivery_count: u32,
    pub tag: u64,
    pub is_request: bool,
}

enum Take {
    Got(Taken),
    Wait,
    Closed,
}

pub(crate) struct Queue {
    name: String,
    state: Mutex<State>,
    /// Woken on every change that could let a waiting subscription proceed.
    notify: Notify,
}

impl Queue {
    pub(crate) fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            state: Mutex::new(State::default()),
            notify: Notify::new(),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The lock is needed from `Drop` impls, so it is a std mutex. Nothing
    /// panics while it is held (plain collection bookkeeping), so a poisoned
    /// flag cannot mean inconsistent state; recovering beats turning one
    /// panic into a cascade of panics in destructors.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Enqueue a message. Returns false if the queue is closed.
    pub(crate) fn push(&self, envelope: Envelope, reply: Option<ReplyTx>) -> bool {
        {
            let mut state = self.lock();
            if state.closed {
                return false;
            }
            state.ready.push_back(Pending {
                envelope,
                deliveries: 0,
                redelivered: false,
                reply,
                avoid: None,
            });
        }
        self.notify.notify_waiters();
        true
    }

    pub(crate) fn add_subscriber(&self) -> u64 {
        let mut state = self.lock();
        state.next_id += 1;
        let id = state.next_id;
        state.subs.insert(id, 0);
        id
    }

    /// A consumer went away (channel closed): everything it still holds goes
    /// back to the queue, marked redelivered, in the original order.
    pub(crate) fn remove_subscriber(&self, sub: u64) {
        {
            let mut state = self.lock();
            state.subs.remove(&sub);
            let mut tags: Vec<u64> = state
                .unacked
                .iter()
                .filter(|(_, f)| f.owner == sub)
                .map(|(tag, _)| *tag)
                .collect();
            tags.sort_unstable();
            for tag in tags.into_iter().rev() {
                if let Some(mut flight) = state.unacked.remove(&tag) {
                    flight.pending.redelivered = true;
                    flight.pending.avoid = None;
                    state.ready.push_front(flight.pending);
                }
            }
        }
        // Others may now take the requeued messages, or a message that was
        // avoiding this consumer.
        self.notify.notify_waiters();
    }

    fn try_take(&self, sub: u64, prefetch: u16) -> Take {
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.closed {
            return Take::Closed;
        }
        let held = state.subs.get(&sub).copied().unwrap_or_default();
        if prefetch != 0 && held >= usize::from(prefetch) {
            return Take::Wait;
        }
        let others = state.subs.len() > 1;
        let mut i = 0;
        while let Some(p) = state.ready.get(i) {
            if p.abandoned() {
                state.ready.remove(i);
                continue;
            }
            match p.avoid {
                Some((who, strict)) if who == sub && (strict || others) => i += 1,
                _ => break,
            }
        }
        let Some(mut pending) = state.ready.remove(i) else {
            return Take::Wait;
        };
        pending.deliveries = pending.deliveries.saturating_add(1);
        state.next_id += 1;
        let tag = state.next_id;
        let taken = Taken {
            envelope: pending.envelope.clone(),
            redelivered: pending.redelivered,
            delivery_count: pending.deliveries,
            tag,
            is_request: pending.reply.is_some(),
        };
        state.unacked.insert(
            tag,
            InFlight {
                pending,
                owner: sub,
            },
        );
        *state.subs.entry(sub).or_default() += 1;
        Take::Got(taken)
    }

    /// Wait for the next message this subscription may take. `None` once the
    /// queue is closed. Cancel-safe: a message is only taken in the same poll
    /// that returns it.
    pub(crate) async fn take(&self, sub: u64, prefetch: u16) -> Option<Taken> {
        loop {
            // Register for wake-ups *before* looking, so a change between the
            // look and the await is not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_take(sub, prefetch) {
                Take::Got(taken) => return Some(taken),
                Take::Closed => return None,
                Take::Wait => notified.await,
            }
        }
    }

    /// Settle a delivery; `reply` is sent to a waiting requester, if any.
    /// Returns false if the delivery was no longer outstanding (its consumer
    /// already went away and the message was requeued).
    pub(crate) fn settle(&self, tag: u64, how: Settle, reply: Option<Reply>) -> bool {
        {
            let mut state = self.lock();
            let Some(InFlight { mut pending, owner }) = state.unacked.remove(&tag) else {
                return false;
            };
            if let Some(held) = state.subs.get_mut(&owner) {
                *held = held.saturating_sub(1);
            }
            if let Some(reply) = reply {
                if let Some(tx) = pending.reply.take() {
                    // The requester may have timed out meanwhile; fine.
                    let _ = tx.send(reply);
                }
            }
            match how {
                Settle::Ack => {}
                Settle::DeadLetter => {
                    tracing::warn!(
                        queue = %self.name,
                        id = %pending.envelope.id,
                        kind = %pending.envelope.kind,
                        deliveries = pending.deliveries,
                        "message dead-lettered"
                    );
                    state.dead.push(pending.envelope);
                }
                Settle::Requeue { strict } => {
                    pending.redelivered = true;
                    pending.avoid = Some((owner, strict));
                    state.ready.push_front(pending);
                }
                Settle::Release => {
                    pending.redelivered = true;
                    pending.deliveries = pending.deliveries.saturating_sub(1);
                    pending.avoid = None;
                    state.ready.push_front(pending);
                }
            }
        }
        // Frees prefetch capacity and possibly makes a message ready.
        self.notify.notify_waiters();
        true
    }

    pub(crate) fn stats(&self) -> QueueStats {
        let state = self.lock();
        let ready = state.ready.iter().filter(|p| !p.abandoned()).count();
        QueueStats {
            ready: ready as u64,
            unacked: state.unacked.len() as u64,
            consumers: state.subs.len() as u64,
            dead_lettered: state.dead.len() as u64,
        }
    }

    pub(crate) fn dead_letters(&self) -> Vec<Envelope> {
        self.lock().dead.clone()
    }

    /// Stop delivering: waiting subscriptions return `None`, pushes fail.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }
}
