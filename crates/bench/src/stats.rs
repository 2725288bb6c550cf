//! Per-phase counters: successful requests with their latencies, errors by kind.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The measured part of a phase: after the warm-up, before the deadline. A request
/// counts when it STARTED inside the window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub measure_from: Instant,
    pub until: Instant,
}

impl Window {
    pub fn starting_now(warmup: Duration, duration: Duration) -> Window {
        let now = Instant::now();
        Window {
            measure_from: now + warmup,
            until: now + warmup + duration,
        }
    }

    pub fn counts(&self, started: Instant) -> bool {
        started >= self.measure_from && started < self.until
    }

    pub fn over(&self) -> bool {
        Instant::now() >= self.until
    }
}

/// What one worker saw; workers' recorders are merged at the end of a phase.
pub struct Recorder {
    hist: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

impl Recorder {
    pub fn new() -> Recorder {
        // Microseconds, from 1 µs to 2 minutes, 3 significant digits.
        let hist = Histogram::new_with_bounds(1, 120_000_000, 3)
            .expect("static histogram bounds are valid");
        Recorder {
            hist,
            ok: 0,
            errors: BTreeMap::new(),
        }
    }

    pub fn ok(&mut self, latency: Duration) {
        self.ok += 1;
        let micros = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.hist.saturating_record(micros);
    }

    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_insert(0) += 1;
    }

    pub fn merge(&mut self, other: Recorder) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.hist.add(&other.hist);
        self.ok += other.ok;
        for (k, n) in other.errors {
            *self.errors.entry(k).or_insert(0) += n;
        }
    }

    pub fn finish(self, name: &'static str, duration: Duration) -> PhaseResult {
        let ms = |q: f64| {
            if self.hist.is_empty() {
                f64::NAN
            } else {
                self.hist.value_at_quantile(q) as f64 / 1000.0
            }
        };
        PhaseResult {
            name,
            ok: self.ok,
            seconds: duration.as_secs_f64(),
            p50_ms: ms(0.50),
            p99_ms: ms(0.99),
            max_ms: if self.hist.is_empty() {
                f64::NAN
            } else {
                self.hist.max() as f64 / 1000.0
            },
            errors: self.errors,
        }
    }
}

/// A finished phase: successful operations per second and their latency.
#[derive(Debug, Clone)]
pub struct PhaseResult {
    pub name: &'static str,
    pub ok: u64,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: BTreeMap<String, u64>,
}

impl PhaseResult {
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// "none", or "12 (HTTP 503: 10, timeout: 2)".
    pub fn errors_summary(&self) -> String {
        if self.errors.is_empty() {
            return "none".to_owned();
        }
        let kinds: Vec<String> = self
            .errors
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        format!("{} ({})", self.error_count(), kinds.join(", "))
    }
}
