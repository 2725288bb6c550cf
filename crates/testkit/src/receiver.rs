//! A merchant's webhook receiver for tests: a real HTTP server on a free loopback port
//! that records every request and answers from a script (then 200).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A status with extra headers (`Retry-After`, `Location`).
    With(u16, Vec<(String, String)>),
    /// Waits this long before answering 200 (longer than the dispatcher's timeout: a
    /// receiver that hangs).
    Hang(Duration),
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Reply>,
    received: Vec<Received>,
}

/// The running receiver; stops when dropped.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
    handle: actix_web::dev::ServerHandle,
}

impl Receiver {
    /// Serves `POST /hook` (and any other path) on 127.0.0.1; answers `script` in order,
    /// then 200.
    pub fn start(script: Vec<Reply>) -> anyhow::Result<Receiver> {
        let state = Arc::new(Mutex::new(State {
            script: script.into(),
            received: Vec::new(),
        }));
        let shared = state.clone();
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(answer))
        })
        .workers(2)
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(0)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            handle,
        })
    }

    /// What came in so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Adds answers to the script.
    pub fn push(&self, replies: Vec<Reply>) {
        self.lock().script.extend(replies);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until at least `n` requests came in, or `deadline` passes.
    pub async fn wait_for(&self, n: usize, deadline: Duration) -> Vec<Received> {
        let until = Instant::now() + deadline;
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() >= until {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move { handle.stop(false).await });
        }
    }
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let reply = {
        let mut s = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.received.push(Received {
            at: Instant::now(),
            path: req.path().to_owned(),
            headers: req
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        });
        s.script.pop_front()
    };
    match reply {
        None => HttpResponse::Ok().body("ok"),
        Some(Reply::Status(code)) => status(code).body(format!("scripted {code}")),
        Some(Reply::With(code, headers)) => {
            let mut res = status(code);
            for (k, v) in headers {
                res.insert_header((k, v));
            }
            res.body(format!("scripted {code}"))
        }
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            HttpResponse::Ok().body("late")
        }
    }
}

fn status(code: u16) -> actix_web::HttpResponseBuilder {
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(code)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    )
}
