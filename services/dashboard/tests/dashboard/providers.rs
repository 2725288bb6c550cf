//! Providers: listed without credentials, switched on and off.

use actix_web::http::StatusCode;
use nexpay_store::testing::TestDb;
use serde_json::json;

use crate::common::*;

both_backends!(providers_can_be_disabled_and_enabled);

async fn providers_can_be_disabled_and_enabled(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (user, token) = ctx.admin().await;
    let t = Some(token.as_str());
    let (status, _, list) = send(
        &app,
        request("GET", "/admin/api/v1/providers", t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Identity and state; the configuration fields are covered by `provider_config`.
    let listed: Vec<serde_json::Value> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| json!({"code": p["code"], "name": p["name"], "enabled": p["enabled"], "logoUrl": p["logoUrl"]}))
        .collect();
    assert_eq!(
        listed,
        [
            json!({"code": "om", "name": "Orange Money", "enabled": true, "logoUrl": "/static/providers/om.svg"}),
            json!({"code": "wave", "name": "Wave", "enabled": true, "logoUrl": "/static/providers/wave.svg"}),
        ]
    );

    let (status, _, om) = send(
        &app,
        request("POST", "/admin/api/v1/providers/om/disable", t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{om}");
    assert_eq!(om["enabled"], false);
    let (_, _, list) = send(
        &app,
        request("GET", "/admin/api/v1/providers", t, None).to_request(),
    )
    .await;
    assert_eq!(list["data"][0]["enabled"], false);
    assert_eq!(list["data"][1]["enabled"], true);
    // A restart keeps the admin's choice.
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let (_, _, list) = send(
        &app,
        request("GET", "/admin/api/v1/providers", t, None).to_request(),
    )
    .await;
    assert_eq!(list["data"][0]["enabled"], false);

    let (status, _, om) = send(
        &app,
        request("POST", "/admin/api/v1/providers/om/enable", t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(om["enabled"], true);
    let (status, _, body) = send(
        &app,
        request("POST", "/admin/api/v1/providers/paypal/enable", t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(assert_envelope(status, &body), "not_found");

    let audit = ctx.store().list_audit(50).await.unwrap();
    let actions: Vec<&str> = audit
        .iter()
        .filter(|a| a.actor == user.id)
        .map(|a| a.action.as_str())
        .collect();
    assert_eq!(actions, ["provider.enable", "provider.disable"]);
    ctx.finish().await;
}
