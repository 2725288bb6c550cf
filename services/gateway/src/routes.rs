//! Route handlers of the merchant API.

use actix_web::{web, HttpRequest, HttpResponse};
use nexpay_bus::Envelope;
use nexpay_contracts::{
    kinds, queues, Caller as CmdCaller, CheckoutSession, CreateSession, InitiatePayment,
};
use serde_json::{json, Value};

use crate::auth::{authenticate, Caller};
use crate::error::{from_bus, ApiError};
use crate::idempotency::{self, Begin};
use crate::request_id::current_request_id;
use crate::validate::Fields;
use crate::GatewayState;

fn ok(message: &str, data: Value) -> (u16, Value) {
    (
        200,
        json!({"statusCode": 200, "message": message, "data": data}),
    )
}

fn respond((status, body): (u16, Value)) -> HttpResponse {
    let code = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(code).json(body)
}

fn to_parts(result: Result<(u16, Value), ApiError>) -> (u16, Value) {
    result.unwrap_or_else(|e| (e.status, e.body()))
}

/// Runs a write route under the merchant's Idempotency-Key (when given).
async fn idempotent<F, Fut>(
    state: &GatewayState,
    req: &HttpRequest,
    caller: &Caller,
    route: &str,
    body: &Value,
    run: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnOnce(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(u16, Value), ApiError>>,
{
    let Some(key) = idempotency::key_from(req)? else {
        return Ok(respond(to_parts(run(None).await)));
    };
    match idempotency::begin(state, caller, &key, route, body).await? {
        Begin::Replay(resp) => Ok(resp),
        Begin::Run(claim) => {
            let parts = to_parts(run(Some(key.clone())).await);
            idempotency::finish(state, caller, &key, route, claim, parts.0, &parts.1).await;
            Ok(respond(parts))
        }
    }
}

async fn call_payments(
    state: &GatewayState,
    kind: &str,
    payload: Value,
) -> Result<Value, ApiError> {
    let env = Envelope::new(kind, current_request_id(), payload);
    state
        .bus
        .request(queues::PAYMENTS, env, state.config.rpc_timeout)
        .await
        .map_err(from_bus)
}

fn cmd_caller(caller: &Caller, request_key: Option<String>) -> CmdCaller {
    CmdCaller {
        project_id: caller.project_id.clone(),
        mode: caller.mode.clone(),
        request_key,
    }
}

pub async fn initiate_payment(
    state: web::Data<GatewayState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&state, &req).await?;
    caller.require_write()?;
    let body = body.into_inner();
    idempotent(
        &state,
        &req,
        &caller,
        "payment.initiate",
        &body,
        |key| async {
            let mut f = Fields::new(&body)?;
            let currency = f.currency();
            let amount = f.amount(currency);
            let provider_code = f.req_str("provider_code", 32);
            let customer = f.customer();
            let metadata = f.metadata();
            let client_reference = f.opt_str("client_reference", 255);
            let urls = f.urls();
            f.finish()?;
            let (Some(amount), Some(provider_code), Some(customer)) =
                (amount, provider_code, customer)
            else {
                return Err(ApiError::internal("validated fields missing"));
            };
            let cmd = InitiatePayment {
                caller: cmd_caller(&caller, key),
                amount_minor: amount.minor(),
                currency: amount.currency().code().to_owned(),
                provider_code,
                customer,
                metadata,
                client_reference,
                urls,
            };
            let data = call_payments(
                &state,
                kinds::INITIATE_PAYMENT,
                serde_json::to_value(cmd).map_err(ApiError::internal)?,
            )
            .await?;
            Ok(ok("Payment data successfully initialized", data))
        },
    )
    .await
}

pub async fn initiate_session(
    state: web::Data<GatewayState>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&state, &req).await?;
    caller.require_write()?;
    let body = body.into_inner();
    idempotent(
        &state,
        &req,
        &caller,
        "session.initiate",
        &body,
        |key| async {
            let mut f = Fields::new(&body)?;
            let currency = f.currency();
            let amount = f.amount(currency);
            let customer = f.customer();
            let metadata = f.metadata();
            let client_reference = f.opt_str("client_reference", 255);
            let urls = f.urls();
            let items = f.items();
            let expires_in_secs = f.expires_in();
            f.finish()?;
            let (Some(amount), Some(customer)) = (amount, customer) else {
                return Err(ApiError::internal("validated fields missing"));
            };
            let cmd = CreateSession {
                caller: cmd_caller(&caller, key),
                amount_minor: amount.minor(),
                currency: amount.currency().code().to_owned(),
                customer,
                metadata,
                items,
                client_reference,
                urls,
                expires_in_secs,
            };
            let data = call_payments(
                &state,
                kinds::CREATE_SESSION,
                serde_json::to_value(cmd).map_err(ApiError::internal)?,
            )
            .await?;
            Ok(ok("Payment session successfully initialized", data))
        },
    )
    .await
}

/// Choose a provider for a session. Read (publishable) keys may do it, as a merchant's
/// front end does; the body holds only `provider_code`, so redirect URLs cannot change.
pub async fn checkout_session(
    state: web::Data<GatewayState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&state, &req).await?;
    let body = body.into_inner();
    let mut f = Fields::new(&body)?;
    for forbidden in [
        "success_url",
        "failure_url",
        "cancel_url",
        "amount",
        "currency",
    ] {
        if f.has(forbidden) {
            f.errors.push((
                forbidden.to_owned(),
                "cannot be changed after the session was created".to_owned(),
            ));
        }
    }
    let provider_code = f.req_str("provider_code", 32);
    f.finish()?;
    let cmd = CheckoutSession {
        project_id: Some(caller.project_id.clone()),
        mode: Some(caller.mode.clone()),
        session_id: path.into_inner(),
        provider_code: provider_code.unwrap_or_default(),
    };
    let data = call_payments(
        &state,
        kinds::CHECKOUT_SESSION,
        serde_json::to_value(cmd).map_err(ApiError::internal)?,
    )
    .await?;
    Ok(respond(ok("Payment data successfully initialized", data)))
}

pub async fn get_session(
    state: web::Data<GatewayState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&state, &req).await?;
    let id = path.into_inner();
    let not_found = || ApiError::new(404, "not_found", "Payment session not found");
    if nexpay_domain::SessionId::parse(&id).is_err() {
        return Err(not_found());
    }
    // Another project's session, or the other mode's: indistinguishable from unknown.
    let body = crate::session_view::status_body(&state, &caller, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(404, "not_found", "No such route"))
}
