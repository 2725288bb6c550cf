//! The OpenAPI document (utoipa) and Swagger UI, served outside production. The schemas
//! here document the wire format; requests are validated by `validate`.

use actix_web::web;
use utoipa::{OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

#[allow(dead_code)]
#[derive(ToSchema)]
struct CustomerIn {
    name: Option<String>,
    email: Option<String>,
    /// E.164, or a 9-digit Senegalese number.
    #[schema(example = "+221771234567")]
    phone: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct InitiatePaymentRequest {
    /// Major units; XOF has no decimals.
    #[schema(example = 10000)]
    amount: u64,
    #[schema(example = "XOF")]
    currency: String,
    #[schema(example = "wave")]
    provider_code: String,
    customer: CustomerIn,
    metadata: Option<serde_json::Value>,
    client_reference: Option<String>,
    success_url: Option<String>,
    failure_url: Option<String>,
    cancel_url: Option<String>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct InitiateSessionRequest {
    #[schema(example = 10000)]
    amount: u64,
    #[schema(example = "XOF")]
    currency: String,
    customer: CustomerIn,
    success_url: Option<String>,
    failure_url: Option<String>,
    cancel_url: Option<String>,
    metadata: Option<serde_json::Value>,
    client_reference: Option<String>,
    /// `[{label, unitPrice, quantity}]`
    items: Option<Vec<serde_json::Value>>,
    /// Seconds, 60 to 86400.
    expires_in: Option<u64>,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct CheckoutRequest {
    #[schema(example = "om")]
    provider_code: String,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct Envelope {
    #[schema(example = 200)]
    #[serde(rename = "statusCode")]
    status_code: u16,
    message: String,
    data: serde_json::Value,
}

#[allow(dead_code)]
#[derive(ToSchema)]
struct ErrorEnvelope {
    #[serde(rename = "statusCode")]
    status_code: u16,
    message: String,
    /// `{code, details: [{field, message}]}`
    error: serde_json::Value,
    #[serde(rename = "requestId")]
    request_id: String,
}

#[allow(dead_code)]
#[utoipa::path(post, path = "/api/v1/payment/initiate", request_body = InitiatePaymentRequest,
    params(("x-api-key" = String, Header, description = "write key"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Envelope), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope, description = "`rate_limited`: too many requests with this API key", headers(("Retry-After" = u64, description = "Whole seconds to wait")))))]
fn initiate_payment() {}

#[allow(dead_code)]
#[utoipa::path(post, path = "/api/v1/payment/session/initiate", request_body = InitiateSessionRequest,
    params(("x-api-key" = String, Header, description = "write key"), ("Idempotency-Key" = Option<String>, Header)),
    responses((status = 200, body = Envelope), (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope, description = "`rate_limited`: too many requests with this API key", headers(("Retry-After" = u64, description = "Whole seconds to wait")))))]
fn initiate_session() {}

#[allow(dead_code)]
#[utoipa::path(get, path = "/api/v1/payment/session/{id}",
    params(("id" = String, Path), ("x-api-key" = String, Header, description = "read or write key")),
    responses((status = 200, body = Envelope), (status = 404, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope, description = "`rate_limited`: too many requests with this API key", headers(("Retry-After" = u64, description = "Whole seconds to wait")))))]
fn get_session() {}

#[allow(dead_code)]
#[utoipa::path(post, path = "/api/v1/payment/session/{id}/checkout", request_body = CheckoutRequest,
    params(("id" = String, Path), ("x-api-key" = String, Header, description = "read or write key")),
    responses((status = 200, body = Envelope), (status = 404, body = ErrorEnvelope), (status = 409, body = ErrorEnvelope), (status = 429, body = ErrorEnvelope, description = "`rate_limited`: too many requests with this API key", headers(("Retry-After" = u64, description = "Whole seconds to wait")))))]
fn checkout_session() {}

#[derive(OpenApi)]
#[openapi(
    info(title = "NexPay merchant API", version = "1"),
    paths(initiate_payment, initiate_session, get_session, checkout_session),
    components(schemas(
        CustomerIn,
        InitiatePaymentRequest,
        InitiateSessionRequest,
        CheckoutRequest,
        Envelope,
        ErrorEnvelope
    ))
)]
pub struct ApiDoc;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/api-docs/openapi.json", ApiDoc::openapi()));
}
