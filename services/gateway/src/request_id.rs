//! `x-request-id` on every response: the caller's value when it is sane, else a fresh
//! one. The id is kept in a task-local so error bodies can carry it too.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub const HEADER: &str = "x-request-id";

/// The request id of the request being served (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

fn sane(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

pub struct RequestIdMiddleware;

impl<S, B> Transform<S, ServiceRequest> for RequestIdMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestIdService {
            service: std::rc::Rc::new(service),
        }))
    }
}

pub struct RequestIdService<S> {
    service: std::rc::Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        let id = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| sane(v))
            .map(str::to_owned)
            .unwrap_or_else(|| format!("req_{}", nexpay_security::random_hex(12)));
        // Inner layers (the admin API's own envelope middleware) read the id from the
        // request: hand them this one, so the header and error bodies always agree.
        if let Ok(v) = HeaderValue::from_str(&id) {
            req.headers_mut().insert(HeaderName::from_static(HEADER), v);
        }
        let service = self.service.clone();
        // `instrument`, not `span.enter()`: a guard held across an await makes every
        // request on the thread a child of the previous one (an unbounded span chain
        // that overflowed the stack under load).
        let span = tracing::info_span!("http", request_id = %id, method = %req.method(), path = %req.path());
        Box::pin(REQUEST_ID.scope(id.clone(), async move {
            let result = service.call(req).instrument(span).await;
            result.map(|mut res| {
                if let Ok(v) = HeaderValue::from_str(&id) {
                    res.headers_mut().insert(HeaderName::from_static(HEADER), v);
                }
                res
            })
        }))
    }
}
