//! Prometheus metrics of a service: HTTP requests and latencies, bus traffic and
//! handler outcomes, and, read at scrape time, queue depths, dead letters and the
//! outbox backlog.

use std::collections::HashMap;
use std::future::{ready, Ready};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use futures::future::LocalBoxFuture;
use nexpay_bus::Bus;
use nexpay_store::Store;
use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Seconds; from a fast cache hit to a slow provider call.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A service's metrics registry. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    registry: Registry,
    http_requests: IntCounterVec,
    http_latency: HistogramVec,
    pub(crate) handled: IntCounterVec,
    pub(crate) handle_latency: HistogramVec,
    pub(crate) requests: IntCounterVec,
    pub(crate) request_latency: HistogramVec,
    pub(crate) published: IntCounterVec,
    queue_depth: IntGaugeVec,
    dead_letters: IntGaugeVec,
    outbox_pending: IntGauge,
    outbox_lag: Gauge,
    webhook_attempts: IntCounterVec,
    webhook_latency: HistogramVec,
    watch: Mutex<Watch>,
}

#[derive(Default)]
struct Watch {
    bus: Option<Arc<dyn Bus>>,
    queues: Vec<String>,
    outbox: Option<Store>,
}

fn must<T>(r: prometheus::Result<T>) -> T {
    // Metric definitions are static: a failure here is a programming error caught by
    // the crate's tests, never a runtime condition.
    r.unwrap_or_else(|e| panic!("invalid metric definition: {e}"))
}

impl Metrics {
    /// Metrics named `nexpay_*`, each with the constant label `service`.
    pub fn new(service: &str) -> Metrics {
        let labels = HashMap::from([("service".to_owned(), service.to_owned())]);
        let registry = must(Registry::new_custom(Some("nexpay".into()), Some(labels)));
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = must(IntCounterVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(c.clone())));
            c
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let h = must(HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                labels,
            ));
            must(registry.register(Box::new(h.clone())));
            h
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = must(IntGaugeVec::new(Opts::new(name, help), labels));
            must(registry.register(Box::new(g.clone())));
            g
        };
        let inner = Inner {
            http_requests: counter(
                "http_requests_total",
                "HTTP requests answered, by method, route pattern and status",
                &["method", "route", "status"],
            ),
            http_latency: histogram(
                "http_request_duration_seconds",
                "HTTP request latency",
                &["method", "route"],
            ),
            handled: counter(
                "bus_messages_handled_total",
                "Messages handled, by queue and outcome (ok, rejected, retryable, permanent)",
                &["queue", "outcome"],
            ),
            handle_latency: histogram(
                "bus_handle_duration_seconds",
                "Time spent handling one message",
                &["queue"],
            ),
            requests: counter(
                "bus_requests_total",
                "Requests sent over the bus, by queue and outcome (ok, rejected, timeout, unavailable, error)",
                &["queue", "outcome"],
            ),
            request_latency: histogram(
                "bus_request_duration_seconds",
                "Round trip of a request over the bus",
                &["queue"],
            ),
            published: counter(
                "bus_events_published_total",
                "Events published, by kind and outcome",
                &["kind", "outcome"],
            ),
            queue_depth: gauge_vec(
                "queue_depth",
                "Messages waiting in a queue (and its retry queue)",
                &["queue"],
            ),
            dead_letters: gauge_vec(
                "queue_dead_letters",
                "Messages in a queue's dead-letter queue (counted up to the peek limit)",
                &["queue"],
            ),
            outbox_pending: {
                let g = must(IntGauge::new(
                    "outbox_pending",
                    "Outbox rows not yet published",
                ));
                must(registry.register(Box::new(g.clone())));
                g
            },
            outbox_lag: {
                let g = must(Gauge::new(
                    "outbox_lag_seconds",
                    "Age of the oldest unpublished outbox row (0 when none)",
                ));
                must(registry.register(Box::new(g.clone())));
                g
            },
            webhook_attempts: counter(
                "webhook_attempts_total",
                "Merchant webhook attempts, by outcome (delivered, retry, gave_up)",
                &["outcome"],
            ),
            webhook_latency: histogram(
                "webhook_attempt_duration_seconds",
                "One merchant webhook attempt, from request to answer (or timeout)",
                &["outcome"],
            ),
            registry,
            watch: Mutex::new(Watch::default()),
        };
        Metrics {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Counts one merchant webhook attempt and its duration.
    pub fn webhook_attempt(&self, outcome: &str, seconds: f64) {
        self.inner
            .webhook_attempts
            .with_label_values(&[outcome])
            .inc();
        self.inner
            .webhook_latency
            .with_label_values(&[outcome])
            .observe(seconds);
    }

    /// Report the depth and dead letters of `queues` at each scrape.
    pub fn watch_queues(&self, bus: Arc<dyn Bus>, queues: &[&str]) {
        let mut w = self.watch();
        w.bus = Some(bus);
        w.queues.extend(queues.iter().map(|q| (*q).to_owned()));
    }

    /// Report the outbox backlog at each scrape.
    pub fn watch_outbox(&self, store: Store) {
        self.watch().outbox = Some(store);
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, Watch> {
        self.inner
            .watch
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Refreshes the scrape-time gauges and renders the text exposition format.
    pub async fn render(&self) -> String {
        let (bus, queues, outbox) = {
            let w = self.watch();
            (w.bus.clone(), w.queues.clone(), w.outbox.clone())
        };
        if let Some(bus) = bus {
            for q in &queues {
                if let Ok(depth) = bus.queue_depth(q).await {
                    self.inner
                        .queue_depth
                        .with_label_values(&[q])
                        .set(i64::try_from(depth).unwrap_or(i64::MAX));
                }
                if let Ok(dead) = bus.dead_letters(q).await {
                    self.inner
                        .dead_letters
                        .with_label_values(&[q])
                        .set(i64::try_from(dead.len()).unwrap_or(i64::MAX));
                }
            }
        }
        if let Some(store) = outbox {
            if let Ok((pending, oldest)) = store.outbox_backlog().await {
                self.inner.outbox_pending.set(pending);
                let lag = oldest
                    .map(|t| (nexpay_store::now() - t).num_milliseconds().max(0) as f64 / 1000.0)
                    .unwrap_or(0.0);
                self.inner.outbox_lag.set(lag);
            }
        }
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.inner.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "could not encode metrics");
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Counts and times every HTTP request by its route pattern (never the raw path, so
/// session ids do not explode the label space).
pub(crate) struct HttpMetrics {
    metrics: Metrics,
}

impl HttpMetrics {
    pub(crate) fn new(metrics: Metrics) -> Self {
        HttpMetrics { metrics }
    }
}

impl<S, B> Transform<S, ServiceRequest> for HttpMetrics
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = HttpMetricsService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(HttpMetricsService {
            service,
            metrics: self.metrics.clone(),
        }))
    }
}

pub(crate) struct HttpMetricsService<S> {
    service: S,
    metrics: Metrics,
}

impl<S, B> Service<ServiceRequest> for HttpMetricsService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let method = req.method().as_str().to_owned();
        let metrics = self.metrics.clone();
        let fut = self.service.call(req);
        Box::pin(async move {
            let res = fut.await?;
            let route = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".to_owned());
            let status = res.status().as_u16().to_string();
            let inner = metrics.inner();
            inner
                .http_requests
                .with_label_values(&[&method, &route, &status])
                .inc();
            inner
                .http_latency
                .with_label_values(&[&method, &route])
                .observe(started.elapsed().as_secs_f64());
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn renders_every_family_with_the_service_label() {
        let m = Metrics::new("gateway");
        m.inner()
            .http_requests
            .with_label_values(&["GET", "/health/live", "200"])
            .inc();
        let text = m.render().await;
        assert!(
            text.contains(
                r#"nexpay_http_requests_total{method="GET",route="/health/live",status="200",service="gateway"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("nexpay_outbox_pending{service=\"gateway\"} 0"));
    }
}
