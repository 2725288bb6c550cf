//! Admin accounts: login, session checks, password changes and operator resets.

use nexpay_domain::{Email, UserId};
use nexpay_security::{
    check_password_strength, hash_password, random_base62, verify_password, Secret,
    SessionTokenSigner,
};
use nexpay_store::{Store, UserRow};
use serde::Serialize;
use serde_json::json;

use crate::audit;
use crate::error::{blocking, AdminError, AdminResult};

/// Long enough for a working day, short enough that a stolen token soon dies on its own.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;
pub const ROLE_ADMIN: &str = "admin";
/// Length of generated passwords: 24 base62 characters (≈ 143 bits).
const GENERATED_PASSWORD_LEN: usize = 24;

/// Verified when the email is unknown, so that an unknown address costs the same argon2
/// work as a wrong password and response times do not reveal which accounts exist. Same
/// parameters as `hash_password` (m=19456, t=2, p=1); its password is irrelevant.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$Tv8uYJXoi5NEm9GqCy3a6DQJa3qlvJKmGxgKWmw1dxI";

/// A user as the API shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub role: String,
}

impl From<&UserRow> for UserView {
    fn from(u: &UserRow) -> Self {
        UserView {
            id: u.id.clone(),
            email: u.email.clone(),
            role: u.role.clone(),
        }
    }
}

/// A signed-in session.
pub struct Session {
    pub token: String,
    pub user: UserRow,
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

fn issue(signer: &SessionTokenSigner, user: UserRow) -> Session {
    let token = signer.sign(&user.id, now_unix(), SESSION_TTL_SECS, user.session_version);
    Session { token, user }
}

/// Checks an email and password. Every failure (unknown email, wrong password, disabled
/// account) gives the same error after the same amount of work.
pub async fn login(
    store: &Store,
    signer: &SessionTokenSigner,
    email: &str,
    password: &str,
) -> AdminResult<Session> {
    let user = store.find_user_by_email(email).await?;
    let hash = user
        .as_ref()
        .map_or(DUMMY_HASH, |u| u.password_hash.as_str())
        .to_owned();
    let password = password.to_owned();
    let matches = blocking(move || verify_password(&password, &hash)).await?;
    match user {
        Some(user) if matches && user.disabled_at.is_none() => Ok(issue(signer, user)),
        _ => Err(AdminError::BadCredentials),
    }
}

/// Resolves a session token to its user. The token must carry the user's current session
/// version, so a password change (which bumps it) kills every older token.
pub async fn authenticate(
    store: &Store,
    signer: &SessionTokenSigner,
    token: &str,
) -> AdminResult<UserRow> {
    let claims = signer
        .verify(token, now_unix())
        .map_err(|_| AdminError::Unauthorized)?;
    match store.get_user(&claims.sub).await? {
        Some(user) if user.session_version == claims.ver && user.disabled_at.is_none() => Ok(user),
        _ => Err(AdminError::Unauthorized),
    }
}

async fn strong_hash(password: String, field: &str) -> AdminResult<String> {
    check_password_strength(&password).map_err(|e| AdminError::invalid(field, e.to_string()))?;
    blocking(move || hash_password(&password))
        .await?
        .map_err(|e| AdminError::Internal(e.to_string()))
}

/// The signed-in user replaces their password; returns a fresh session because the
/// change revokes every existing token, including the one used for this request.
pub async fn change_password(
    store: &Store,
    signer: &SessionTokenSigner,
    user: &UserRow,
    current: &str,
    new: &str,
) -> AdminResult<Session> {
    let (current, hash) = (current.to_owned(), user.password_hash.clone());
    if !blocking(move || verify_password(&current, &hash)).await? {
        return Err(AdminError::invalid("currentPassword", "is incorrect"));
    }
    if verify_equal(new, &user.password_hash).await? {
        return Err(AdminError::invalid(
            "newPassword",
            "must differ from the current password",
        ));
    }
    let hash = strong_hash(new.to_owned(), "newPassword").await?;
    if !store.set_user_password(&user.id, &hash, false).await? {
        return Err(AdminError::Unauthorized);
    }
    audit::record(
        store,
        &user.id,
        "user.change_password",
        Some(&user.id),
        json!({}),
    )
    .await;
    let fresh = store
        .get_user(&user.id)
        .await?
        .ok_or(AdminError::Unauthorized)?;
    Ok(issue(signer, fresh))
}

async fn verify_equal(candidate: &str, hash: &str) -> AdminResult<bool> {
    let (candidate, hash) = (candidate.to_owned(), hash.to_owned());
    blocking(move || verify_password(&candidate, &hash)).await
}

/// Result of an operator reset: the generated password, if one was generated, is shown
/// once by the caller.
pub struct PasswordReset {
    pub user: UserView,
    pub generated: Option<Secret>,
}

/// Sets a new password for `email` (a strong random one when `new_password` is None),
/// forces a change at next login and revokes existing sessions.
pub async fn reset_password(
    store: &Store,
    actor: &str,
    email: &str,
    new_password: Option<String>,
) -> AdminResult<PasswordReset> {
    let user = store
        .find_user_by_email(email)
        .await?
        .ok_or(AdminError::NotFound("user"))?;
    let (password, generated) = match new_password {
        Some(p) => (p, None),
        None => {
            let p = random_base62(GENERATED_PASSWORD_LEN);
            (p.clone(), Some(Secret::new(p)))
        }
    };
    let hash = strong_hash(password, "password").await?;
    if !store.set_user_password(&user.id, &hash, true).await? {
        return Err(AdminError::NotFound("user"));
    }
    audit::record(
        store,
        actor,
        "user.reset_password",
        Some(&user.id),
        json!({}),
    )
    .await;
    Ok(PasswordReset {
        user: UserView::from(&user),
        generated,
    })
}

/// Creates an admin account. A duplicate email surfaces as `AdminError::Conflict`.
pub(crate) async fn create_admin(
    store: &Store,
    email: &str,
    password: &str,
    must_change_password: bool,
) -> AdminResult<UserRow> {
    let email = Email::parse(email)
        .map_err(|e| AdminError::invalid("email", e.to_string()))?
        .as_str()
        .to_lowercase();
    let password = password.to_owned();
    let hash = blocking(move || hash_password(&password))
        .await?
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    let at = nexpay_store::now();
    let row = UserRow {
        id: UserId::generate().into_string(),
        email,
        password_hash: hash,
        role: ROLE_ADMIN.to_owned(),
        must_change_password,
        session_version: 1,
        created_at: at,
        updated_at: at,
        disabled_at: None,
    };
    store.insert_user(&row).await?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHash;

    /// The dummy hash only equalises timing if argon2 really runs on it with the same
    /// cost as on real hashes.
    #[test]
    fn dummy_hash_costs_the_same_as_a_real_one() {
        let real = hash_password("Some-Real-Passw0rd!").expect("hash");
        let (dummy, real) = (
            PasswordHash::new(DUMMY_HASH).expect("dummy parses"),
            PasswordHash::new(&real).expect("real parses"),
        );
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.version, real.version);
        assert_eq!(dummy.params, real.params);
        assert_eq!(dummy.salt.map(|s| s.len()), real.salt.map(|s| s.len()));
        assert_eq!(dummy.hash.map(|h| h.len()), real.hash.map(|h| h.len()));
        assert!(!verify_password("", DUMMY_HASH));
    }
}
