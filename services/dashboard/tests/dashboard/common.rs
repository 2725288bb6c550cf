//! Shared helpers: per-backend expansion, a configured state, users and requests.

use std::path::PathBuf;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::test;
use nexpay_config::{Config, Source};
use nexpay_dashboard::DashboardState;
use nexpay_domain::UserId;
use nexpay_store::testing::TestDb;
use nexpay_store::{Store, UserRow};
use serde_json::{json, Value};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "First-Start-Secret-42";
pub const STRONG_PASSWORD: &str = "Correct-Horse-42-battery";
pub const JWT_SECRET: &str = "h7Gk2LmN9pQ4rS1tU8vW3xY6zA5bC0dE2fG7hJ9kL";

/// Expands each listed `async fn name(db: TestDb)` into `name::sqlite` and
/// `name::postgres` tests. Multi-thread runtime: migrations block in place.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let db = nexpay_store::testing::TestDb::sqlite().await.expect("SQLite test database");
                    super::$name(db).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL (NEXPAY_TEST_PG_URL); run with -- --ignored"]
                async fn postgres() {
                    let db = nexpay_store::testing::TestDb::postgres().await.expect("PostgreSQL test database");
                    super::$name(db).await;
                }
            }
        )*
    };
}

pub fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "nexpay-dash-{}",
        nexpay_store::testing::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A development config in `dir`, plus `extra` pairs.
pub fn config_in(dir: &std::path::Path, extra: &[(&str, &str)]) -> Config {
    let mut pairs: Vec<(String, String)> = vec![
        ("NEXPAY_DATA_DIR".into(), dir.display().to_string()),
        ("ADMIN_EMAIL".into(), ADMIN_EMAIL.into()),
        ("ADMIN_PASSWORD".into(), ADMIN_PASSWORD.into()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
    ];
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    Config::load(Source::from_pairs(pairs)).unwrap()
}

pub struct Ctx {
    pub db: TestDb,
    pub state: DashboardState,
    pub dir: PathBuf,
}

impl Ctx {
    pub fn new(db: TestDb) -> Ctx {
        Ctx::with_config(db, &[])
    }

    pub fn with_config(db: TestDb, extra: &[(&str, &str)]) -> Ctx {
        let dir = temp_dir();
        let config = config_in(&dir, extra);
        let state = DashboardState::new(db.store().clone(), config);
        Ctx { db, state, dir }
    }

    pub fn store(&self) -> &Store {
        self.db.store()
    }

    /// A user inserted directly, with a valid token for it.
    pub async fn user(&self, email: &str, password: &str, must_change: bool) -> (UserRow, String) {
        let at = nexpay_store::now();
        let row = UserRow {
            id: UserId::generate().into_string(),
            email: email.to_owned(),
            password_hash: nexpay_security::hash_password(password).unwrap(),
            role: "admin".into(),
            must_change_password: must_change,
            session_version: 1,
            created_at: at,
            updated_at: at,
            disabled_at: None,
        };
        self.store().insert_user(&row).await.unwrap();
        let token = self.token_for(&row);
        (row, token)
    }

    /// A ready-to-use admin (password already changed) and its token.
    pub async fn admin(&self) -> (UserRow, String) {
        self.user("ops@example.com", STRONG_PASSWORD, false).await
    }

    pub fn token_for(&self, user: &UserRow) -> String {
        let now = chrono::Utc::now().timestamp();
        self.state
            .signer
            .sign(&user.id, now, 3600, user.session_version)
    }

    pub async fn finish(self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        self.db.cleanup().await;
    }
}

/// Builds the admin app around a state.
macro_rules! app {
    ($state:expr) => {
        actix_web::test::init_service(
            actix_web::App::new()
                .app_data(actix_web::web::Data::new($state.clone()))
                .configure(nexpay_dashboard::configure),
        )
        .await
    };
}

pub fn bearer(token: &str) -> (&'static str, String) {
    ("Authorization", format!("Bearer {token}"))
}

/// Sends a request; returns the status, the headers and the body as JSON (Null when
/// empty).
pub async fn send<S, R, B>(
    app: &S,
    req: R,
) -> (StatusCode, actix_web::http::header::HeaderMap, Value)
where
    S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(app, req).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await;
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    (status, headers, json)
}

/// `METHOD path` with a bearer token and an optional JSON body.
pub fn request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> test::TestRequest {
    let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = test::TestRequest::default().method(method).uri(path);
    if let Some(token) = token {
        req = req.insert_header(bearer(token));
    }
    if let Some(body) = body {
        req = req.set_json(body);
    }
    req
}

/// Asserts the common error envelope and returns its code.
pub fn assert_envelope(status: StatusCode, body: &Value) -> String {
    assert_eq!(body["statusCode"], status.as_u16(), "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body["error"]["details"].is_array(), "{body}");
    assert!(
        body["requestId"].as_str().is_some_and(|s| !s.is_empty()),
        "{body}"
    );
    body["error"]["code"].as_str().unwrap().to_owned()
}

pub fn login_req(email: &str, password: &str) -> test::TestRequest {
    request(
        "POST",
        "/admin/api/v1/auth/login",
        None,
        Some(json!({"email": email, "password": password})),
    )
}

pub fn cookie_of(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// Creates a project through the API and returns its id.
macro_rules! project {
    ($app:expr, $token:expr, $name:expr) => {{
        let body = serde_json::json!({ "name": $name });
        let req = crate::common::request("POST", "/admin/api/v1/projects", Some($token), Some(body));
        let (status, _, body) = crate::common::send(&$app, req.to_request()).await;
        assert_eq!(status, actix_web::http::StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }};
}

pub fn keys_path(project: &str) -> String {
    format!("/admin/api/v1/projects/{project}/keys")
}
