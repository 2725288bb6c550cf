//! The Sonatel API itself: OAuth, QR codes, transactions, merchant callbacks.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::problem::{bad_request, not_found, oauth_error, problem};
use super::state::{iso_millis, Qr, Token};
use super::OmSim;

/// Longest QR lifetime accepted by `validity`, in seconds.
pub(crate) const MAX_VALIDITY_SECS: i64 = 86_400;
/// Most `metadata` entries accepted on a QR code.
pub(crate) const MAX_METADATA_ENTRIES: usize = 10;
/// Smallest `amount.value` accepted by the API (the paying side wants more, see config).
const MIN_API_AMOUNT: i64 = 1;

/// Applies the API fault switches (delay, forced 500/429).
async fn faults_gate(sim: &OmSim, req: &HttpRequest) -> Option<HttpResponse> {
    let faults = sim.faults();
    if faults.api_delay_ms > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(faults.api_delay_ms)).await;
    }
    let status = faults.api_error_status?;
    {
        let mut st = sim.state();
        if let Some(max) = faults.api_error_count {
            if st.api_errors_served >= max {
                return None;
            }
        }
        st.api_errors_served = st.api_errors_served.saturating_add(1);
    }
    let path = req.path();
    Some(if status == 429 {
        let mut resp = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "/too-many-requests",
            "Too Many Requests",
            path,
            "429",
            "Rate limit exceeded",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        resp
    } else {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        problem(
            code,
            "/internal-server-error",
            "Internal Server Error",
            path,
            &code.as_u16().to_string(),
            "Internal server error",
        )
    })
}

/// Gateway checks of every business call: faults, `Content-Type: application/json`
/// (even on `GET`), then a live bearer token.
async fn api_gate(sim: &OmSim, req: &HttpRequest) -> Option<HttpResponse> {
    if let Some(resp) = faults_gate(sim, req).await {
        return Some(resp);
    }
    let json_ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json_ct {
        return Some(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "/unsupported-media-type",
            "Unsupported Media Type",
            req.path(),
            "415",
            "Content-Type must be application/json",
        ));
    }
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let now = sim.now();
    let valid = token.is_some_and(|t| {
        let mut st = sim.state();
        st.tokens.retain(|_, tok| tok.expires_at > now);
        st.tokens.contains_key(&t)
    });
    if valid {
        return None;
    }
    let mut resp = problem(
        StatusCode::UNAUTHORIZED,
        "/unauthorized",
        "Unauthorized",
        req.path(),
        "401",
        "Invalid or expired access token",
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    Some(resp)
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// `POST /oauth/v1/token` — client credentials in the form body (Basic auth also accepted).
pub(crate) async fn token(
    sim: web::Data<OmSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(resp) = faults_gate(&sim, &req).await {
        return resp;
    }
    let mut grant_type = None;
    let mut client_id = None;
    let mut client_secret = None;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "grant_type" => grant_type = Some(v.into_owned()),
            "client_id" => client_id = Some(v.into_owned()),
            "client_secret" => client_secret = Some(v.into_owned()),
            _ => {}
        }
    }
    if let (None, None, Some((id, secret))) = (&client_id, &client_secret, basic_credentials(&req))
    {
        client_id = Some(id);
        client_secret = Some(secret);
    }
    match grant_type.as_deref() {
        Some("client_credentials") => {}
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing form parameter: grant_type",
            )
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant_type",
            )
        }
    }
    let Some(client_id) = client_id.filter(|c| !c.is_empty()) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    };
    let Some(client) = sim
        .config()
        .clients
        .iter()
        .find(|c| c.client_id == client_id)
    else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid client or Invalid client credentials",
        );
    };
    let secret_ok = client_secret.is_some_and(|s| {
        nexpay_security::constant_time_eq(s.as_bytes(), client.client_secret.as_bytes())
    });
    if !secret_ok || !client.provisioned {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "INVALID_CREDENTIALS: Invalid client credentials",
        );
    }
    let ttl = sim.config().token_ttl_secs;
    let access_token = format!("eyJ{}", nexpay_security::random_base62(61));
    let now = sim.now();
    sim.state().tokens.insert(
        access_token.clone(),
        Token {
            expires_at: now + chrono::Duration::seconds(ttl),
        },
    );
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "bearer",
        "expires_in": ttl,
        "scope": "profile email",
        "refresh_token": format!("eyJ{}", nexpay_security::random_base62(61)),
        "refresh_expires_in": 1800,
        "not-before-policy": 0,
    }))
}

fn is_merchant_code(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

fn valid_url(sim: &OmSim, s: &str) -> bool {
    match url::Url::parse(s) {
        Ok(u) if u.scheme() == "https" => u.host_str().is_some(),
        Ok(u) if u.scheme() == "http" => {
            !sim.config().require_https_callbacks && u.host_str().is_some()
        }
        _ => false,
    }
}

fn uuid_like() -> String {
    let h = nexpay_security::random_hex(16);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Integral XOF amount of `{unit, value}`.
fn parse_amount(v: Option<&Value>) -> Result<i64, String> {
    let obj = v
        .and_then(Value::as_object)
        .ok_or("amount is required: {\"unit\":\"XOF\",\"value\":<number>}")?;
    match obj.get("unit").and_then(Value::as_str) {
        Some("XOF") => {}
        _ => return Err("amount.unit must be XOF".into()),
    }
    let value = obj
        .get("value")
        .and_then(Value::as_f64)
        .ok_or("amount.value must be a number")?;
    if value.fract() != 0.0 || !value.is_finite() || value.abs() > 1e15 {
        return Err("amount.value must be an integer".into());
    }
    let value = value as i64;
    if value < MIN_API_AMOUNT {
        return Err(format!("amount.value must be at least {MIN_API_AMOUNT}"));
    }
    Ok(value)
}

/// `code` may be sent as a string or a number.
fn merchant_code(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_u64() => Some(format!("{n:0>6}")),
        _ => None,
    }
}

struct QrRequest {
    amount: i64,
    code: String,
    name: String,
    validity: i64,
    reference: Option<String>,
    metadata: Map<String, Value>,
    notification_url: Option<String>,
}

fn validate_qr(sim: &OmSim, body: &Value) -> Result<QrRequest, String> {
    let obj = body.as_object().ok_or("body must be a JSON object")?;
    let amount = parse_amount(obj.get("amount"))?;
    let code = merchant_code(obj.get("code")).ok_or("code (merchant code) is required")?;
    if !is_merchant_code(&code) {
        return Err("code must be a 6-digit merchant code".into());
    }
    let name = obj
        .get("name")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or("name (merchant name) is required")?;
    if name.chars().count() > 255 {
        return Err("name must be at most 255 characters".into());
    }
    let validity = obj
        .get("validity")
        .and_then(Value::as_i64)
        .ok_or("validity (seconds) is required and must be an integer")?;
    if !(1..=MAX_VALIDITY_SECS).contains(&validity) {
        return Err(format!(
            "validity must be between 1 and {MAX_VALIDITY_SECS} seconds"
        ));
    }
    let reference = match obj.get("reference") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= 255 => Some(s.clone()),
        Some(_) => return Err("reference must be a string of at most 255 characters".into()),
    };
    let metadata = match obj.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => {
            if m.len() > MAX_METADATA_ENTRIES {
                return Err(format!(
                    "metadata must have at most {MAX_METADATA_ENTRIES} entries"
                ));
            }
            if !m.values().all(Value::is_string) {
                return Err("metadata values must be strings".into());
            }
            m.clone()
        }
        Some(_) => return Err("metadata must be an object of strings".into()),
    };
    for field in ["callbackSuccessUrl", "callbackCancelUrl", "notificationUrl"] {
        match obj.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if valid_url(sim, s) => {}
            Some(_) => return Err(format!("{field} must be a valid URL")),
        }
    }
    let notification_url = obj
        .get("notificationUrl")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(QrRequest {
        amount,
        code,
        name: name.to_owned(),
        validity,
        reference,
        metadata,
        notification_url,
    })
}

/// `POST /api/eWallet/v4/qrcode`.
pub(crate) async fn create_qrcode(
    sim: web::Data<OmSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(resp) = api_gate(&sim, &req).await {
        return resp;
    }
    let instance = req.path().to_owned();
    let Ok(json) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(&instance, "Malformed JSON body");
    };
    let qr = match validate_qr(&sim, &json) {
        Ok(q) => q,
        Err(detail) => return bad_request(&instance, &detail),
    };
    let header_callback = match req.headers().get("X-Callback-Url") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(s) if valid_url(&sim, s) => Some(s.to_owned()),
            _ => return bad_request(&instance, "X-Callback-Url must be a valid URL"),
        },
    };
    let qr_id = uuid_like();
    let link_token = nexpay_security::random_base62(22);
    // With a public base URL (test mode), the links open this simulator's payer page,
    // which plays the part of the MaxIt and Orange Money apps; otherwise they have
    // Sonatel's shapes.
    let (maxit, om, short_link) = match &sim.config().public_base_url {
        Some(base) => {
            let page = format!("{}/pay/{qr_id}", base.trim_end_matches('/'));
            (
                format!("{page}?channel=MAXIT"),
                format!("{page}?channel=OM"),
                page,
            )
        }
        None => (
            format!("https://sugu.orange-sonatel.com/mp/{link_token}"),
            format!("https://orangemoneysn.page.link/{link_token}"),
            format!("https://sugu.orange-sonatel.com/s/{}", &link_token[..10]),
        ),
    };
    let qr_code = match nexpay_providers::qr_png_base64(&maxit) {
        Ok(b) => b,
        Err(e) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "/internal-server-error",
                "Internal Server Error",
                &instance,
                "500",
                &e,
            )
        }
    };
    let now = sim.now();
    let until = now + chrono::Duration::seconds(qr.validity);
    let resp = json!({
        "deepLink": maxit,
        "deepLinks": { "MAXIT": maxit, "OM": om },
        "qrCode": qr_code,
        "validity": qr.validity,
        "metadata": qr.metadata,
        "shortLink": short_link,
        "qrId": qr_id,
        "validFor": { "startDateTime": iso_millis(now), "endDateTime": iso_millis(until) },
    });
    sim.state().qrs.insert(
        qr_id.clone(),
        Qr {
            qr_id,
            code: qr.code,
            name: qr.name,
            amount: qr.amount,
            reference: qr.reference,
            metadata: qr.metadata,
            callback_url: header_callback.or(qr.notification_url),
            valid_from: now,
            valid_until: until,
            paid: false,
        },
    );
    HttpResponse::Ok().json(resp)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// `GET /api/eWallet/v1/transactions?reference=&status=&fromDateTime=&toDateTime=&type=`.
pub(crate) async fn search_transactions(sim: web::Data<OmSim>, req: HttpRequest) -> HttpResponse {
    if let Some(resp) = api_gate(&sim, &req).await {
        return resp;
    }
    let mut reference = None;
    let mut status = None;
    let mut from = None;
    let mut to = None;
    let mut kind = None;
    for (k, v) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        match k.as_ref() {
            "reference" => reference = Some(v.into_owned()),
            "status" => status = Some(v.into_owned()),
            "type" => kind = Some(v.into_owned()),
            "fromDateTime" | "toDateTime" => {
                let Some(t) = parse_time(&v) else {
                    return bad_request(req.path(), &format!("{k} must be an ISO-8601 date-time"));
                };
                if k == "fromDateTime" {
                    from = Some(t);
                } else {
                    to = Some(t);
                }
            }
            _ => {}
        }
    }
    if kind.is_some() && sim.config().type_filter_bug {
        // Production bug: any `type` filter empties the result.
        return HttpResponse::Ok().json(Vec::<Value>::new());
    }
    let rows: Vec<Value> = sim
        .state()
        .transactions
        .iter()
        .filter(|t| reference.is_none() || t.reference == reference)
        .filter(|t| status.as_deref().is_none_or(|s| t.status == s))
        .filter(|_| kind.as_deref().is_none_or(|k| k == "MERCHANT_PAYMENT"))
        .filter(|t| from.is_none_or(|f| t.created_at > f))
        .filter(|t| to.is_none_or(|u| t.created_at < u))
        .map(|t| t.to_json())
        .collect();
    HttpResponse::Ok().json(rows)
}

/// `GET /api/eWallet/v1/transactions/{id}/status`.
pub(crate) async fn transaction_status(
    sim: web::Data<OmSim>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if let Some(resp) = api_gate(&sim, &req).await {
        return resp;
    }
    let status = sim
        .state()
        .transactions
        .iter()
        .find(|t| t.transaction_id == *id)
        .map(|t| t.status.clone());
    match status {
        Some(s) => HttpResponse::Ok().json(json!({ "status": s })),
        None => not_found(req.path()),
    }
}

/// `/api/eWallet/v4/transactions/...` does not exist.
pub(crate) async fn entity_not_found(req: HttpRequest) -> HttpResponse {
    not_found(req.path())
}

/// `POST /api/notification/v1/merchantcallback` — empty 2xx on success.
pub(crate) async fn register_callback(
    sim: web::Data<OmSim>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(resp) = api_gate(&sim, &req).await {
        return resp;
    }
    let instance = req.path();
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&body) else {
        return bad_request(instance, "Malformed JSON body");
    };
    let text = |k: &str| {
        obj.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let Some(api_key) = text("apiKey") else {
        return bad_request(instance, "apiKey is required");
    };
    let Some(code) = merchant_code(obj.get("code")).filter(|c| is_merchant_code(c)) else {
        return bad_request(instance, "code must be a 6-digit merchant code");
    };
    let Some(name) = text("name") else {
        return bad_request(instance, "name is required");
    };
    let Some(callback_url) = text("callbackUrl").filter(|u| valid_url(&sim, u)) else {
        return bad_request(instance, "callbackUrl must be a valid public URL");
    };
    sim.register_callback(code, name, callback_url, api_key);
    HttpResponse::Ok().finish()
}

/// `GET /api/notification/v1/merchantcallback?code=` — bare array, apiKey in clear.
pub(crate) async fn list_callbacks(sim: web::Data<OmSim>, req: HttpRequest) -> HttpResponse {
    if let Some(resp) = api_gate(&sim, &req).await {
        return resp;
    }
    let code = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned());
    let rows: Vec<Value> = sim
        .state()
        .callbacks
        .iter()
        .filter(|c| code.as_deref().is_none_or(|code| c.code == code))
        .map(|c| c.to_json())
        .collect();
    HttpResponse::Ok().json(rows)
}
