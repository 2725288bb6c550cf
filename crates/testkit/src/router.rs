//! The distributed stack's front door in tests, routing like the Traefik rules of
//! `docker-compose-prod.yml`: `/api/v1/webhook` → provider-adapter, `/sandbox` → the
//! provider simulators, `/api` → gateway
//! (round robin over the replicas, skipping one that refuses connections, like
//! Traefik's retry middleware), everything else → dashboard.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};

/// Upstream base URLs by route; replaced when a test restarts a service on a new port.
#[derive(Default)]
pub struct Routes {
    pub webhook: Vec<String>,
    pub sandbox: Vec<String>,
    pub api: Vec<String>,
    pub dashboard: Vec<String>,
}

struct Router {
    routes: Arc<RwLock<Routes>>,
    next: AtomicUsize,
    client: reqwest::Client,
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

impl Router {
    fn upstreams(&self, path: &str) -> Vec<String> {
        let routes = self
            .routes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if path.starts_with("/api/v1/webhook") {
            routes.webhook.clone()
        } else if path.starts_with("/sandbox") {
            routes.sandbox.clone()
        } else if path.starts_with("/api") {
            // Traefik's PathPrefix is a plain string prefix: `/api-docs` goes here too.
            routes.api.clone()
        } else {
            routes.dashboard.clone()
        }
    }
}

async fn forward(req: HttpRequest, body: web::Bytes, router: web::Data<Router>) -> HttpResponse {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".into());
    let upstreams = router.upstreams(req.path());
    if upstreams.is_empty() {
        return HttpResponse::BadGateway().body("no upstream");
    }
    let start = router.next.fetch_add(1, Ordering::Relaxed);
    let mut last_error = String::new();
    for i in 0..upstreams.len() {
        let base = &upstreams[(start + i) % upstreams.len()];
        let Ok(method) = reqwest::Method::from_bytes(req.method().as_str().as_bytes()) else {
            return HttpResponse::MethodNotAllowed().finish();
        };
        let mut out = router
            .client
            .request(method, format!("{base}{path_and_query}"))
            .body(body.clone());
        for (name, value) in req.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                out = out.header(name.as_str(), value.as_bytes());
            }
        }
        // What Traefik adds: the host and scheme the client used.
        if let Some(host) = req.headers().get("host") {
            out = out
                .header("x-forwarded-host", host.as_bytes())
                .header("x-forwarded-proto", "http");
        }
        match out.send().await {
            Ok(resp) => {
                let mut answer = HttpResponse::build(
                    actix_web::http::StatusCode::from_u16(resp.status().as_u16())
                        .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
                );
                for (name, value) in resp.headers() {
                    if HOP_BY_HOP.contains(&name.as_str()) {
                        continue;
                    }
                    if let (Ok(n), Ok(v)) = (
                        HeaderName::from_bytes(name.as_str().as_bytes()),
                        HeaderValue::from_bytes(value.as_bytes()),
                    ) {
                        answer.append_header((n, v));
                    }
                }
                return match resp.bytes().await {
                    Ok(bytes) => answer.body(bytes),
                    Err(e) => HttpResponse::BadGateway().body(e.to_string()),
                };
            }
            // Only a refused or reset connection moves on to the next replica: the
            // request never reached a handler, so trying another one is safe.
            Err(e) if e.is_connect() => last_error = e.to_string(),
            Err(e) => return HttpResponse::BadGateway().body(e.to_string()),
        }
    }
    HttpResponse::BadGateway().body(last_error)
}

/// Starts the router on a free port; returns its port and the running server.
pub fn start(routes: Arc<RwLock<Routes>>) -> anyhow::Result<(u16, actix_web::dev::ServerHandle)> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let port = listener.local_addr()?.port();
    let router = web::Data::new(Router {
        routes,
        next: AtomicUsize::new(0),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // Servers close a keep-alive connection after 5 s idle (actix's default): a
            // request sent on it just as it closes fails. Drop idle ones well before.
            .pool_idle_timeout(std::time::Duration::from_secs(3))
            .build()?,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(router.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .default_service(web::to(forward))
    })
    .workers(2)
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((port, handle))
}
