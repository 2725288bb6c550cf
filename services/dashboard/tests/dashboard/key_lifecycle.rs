//! API key rotation (old key valid for the grace period) and revocation.

use actix_web::http::StatusCode;
use nexpay_security::hash_api_key;
use nexpay_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

both_backends!(
    rotation_keeps_the_old_key_until_expiry,
    revocation_is_immediate
);

async fn rotation_keeps_the_old_key_until_expiry(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let (_, _, old) = send(
        &app,
        request(
            "POST",
            &keys_path(&project),
            Some(&token),
            Some(json!({"kind": "read", "mode": "test"})),
        )
        .to_request(),
    )
    .await;
    let old_id = old["id"].as_str().unwrap().to_owned();
    let old_key = old["key"].as_str().unwrap().to_owned();
    let rotate = format!("{}/{old_id}/rotate", keys_path(&project));

    let before = nexpay_store::now();
    let (status, _, new) = send(
        &app,
        request(
            "POST",
            &rotate,
            Some(&token),
            Some(json!({"graceSeconds": 3600})),
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let new_key = new["key"].as_str().unwrap().to_owned();
    assert!(new_key.starts_with("nxp_pk_test_") && new_key != old_key);
    assert_eq!(new["previousKey"]["id"], old_id.as_str());
    assert_eq!(new["previousKey"]["status"], "expiring");

    // Old key: still found and not revoked, expiring in about an hour.
    let found = ctx
        .store()
        .find_key_by_hash(&hash_api_key(&old_key))
        .await
        .unwrap()
        .unwrap();
    assert!(found.key.revoked_at.is_none());
    let expires = found.key.expires_at.unwrap();
    let grace = (expires - before).num_seconds();
    assert!((3599..=3605).contains(&grace), "expires after {grace}s");
    let found_new = ctx
        .store()
        .find_key_by_hash(&hash_api_key(&new_key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            found_new.key.kind.as_str(),
            found_new.key.mode.as_str(),
            found_new.key.expires_at
        ),
        ("read", "test", None)
    );

    // A second rotation of the old key never extends its life; the default grace is a day.
    let (status, _, _) = send(
        &app,
        request("POST", &rotate, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let again = ctx.store().get_api_key(&old_id).await.unwrap().unwrap();
    assert_eq!(again.expires_at, Some(expires));
    let new_id = new["id"].as_str().unwrap();
    let before = nexpay_store::now();
    let (status, _, _) = send(
        &app,
        request(
            "POST",
            &format!("{}/{new_id}/rotate", keys_path(&project)),
            Some(&token),
            None,
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let rotated = ctx.store().get_api_key(new_id).await.unwrap().unwrap();
    let grace = (rotated.expires_at.unwrap() - before).num_seconds();
    assert!((86_399..=86_405).contains(&grace), "default grace {grace}s");

    let (_, _, list) = send(
        &app,
        request("GET", &keys_path(&project), Some(&token), None).to_request(),
    )
    .await;
    let statuses: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expiring", "expiring", "active", "active"]);

    for bad in [
        json!({"graceSeconds": 30 * 86_400 + 1}),
        json!({"graceSeconds": -1}),
        json!({"grace": 10}),
    ] {
        let (status, _, body) = send(
            &app,
            request("POST", &rotate, Some(&token), Some(bad.clone())).to_request(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, _, _) = send(
        &app,
        request(
            "POST",
            &rotate,
            Some(&token),
            Some(json!({"graceSeconds": 2_592_000})),
        )
        .to_request(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "30 days is the maximum, included"
    );
    assert!(ctx
        .store()
        .list_audit(50)
        .await
        .unwrap()
        .iter()
        .any(|a| a.action == "key.rotate" && a.target.as_deref() == Some(old_id.as_str())));
    ctx.finish().await;
}
async fn revocation_is_immediate(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let project = project!(app, &token, "Shop");
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, _, key) = send(
            &app,
            request(
                "POST",
                &keys_path(&project),
                Some(&token),
                Some(json!({"kind": "write", "mode": "test"})),
            )
            .to_request(),
        )
        .await;
        ids.push(key["id"].as_str().unwrap().to_owned());
    }
    let revoke = format!("{}/{}/revoke", keys_path(&project), ids[0]);
    let (status, _, body) = send(
        &app,
        request("POST", &revoke, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "revoked");
    assert!(ctx
        .store()
        .get_api_key(&ids[0])
        .await
        .unwrap()
        .unwrap()
        .revoked_at
        .is_some());
    let (status, _, _) = send(
        &app,
        request("POST", &revoke, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let rotate = format!("{}/{}/rotate", keys_path(&project), ids[0]);
    let (status, _, _) = send(
        &app,
        request("POST", &rotate, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a revoked key cannot be rotated"
    );

    let delete = format!("{}/{}", keys_path(&project), ids[1]);
    let (status, _, body) = send(
        &app,
        request("DELETE", &delete, Some(&token), None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "revoked");
    let audit = ctx.store().list_audit(50).await.unwrap();
    assert_eq!(audit.iter().filter(|a| a.action == "key.revoke").count(), 2);
    ctx.finish().await;
}
