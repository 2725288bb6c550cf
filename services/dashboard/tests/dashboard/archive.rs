//! Archiving a project: payments stay, keys are revoked, the default project stays.

use actix_web::http::StatusCode;
use nexpay_store::testing::TestDb;
use nexpay_store::{NewPaymentBundle, PaymentRow};
use serde_json::json;

use crate::common::*;

both_backends!(archiving_keeps_payments, default_project_cannot_be_archived);

const BASE: &str = "/admin/api/v1/projects";

fn payment(project_id: &str) -> PaymentRow {
    let at = nexpay_store::now();
    PaymentRow {
        id: nexpay_domain::PaymentId::generate().into_string(),
        reference: nexpay_domain::PaymentReference::generate().into_string(),
        project_id: project_id.to_owned(),
        mode: "test".into(),
        session_id: None,
        amount: 5_000,
        currency: "XOF".into(),
        payer_name: None,
        payer_email: None,
        payer_phone: "+221771234567".into(),
        metadata: "{}".into(),
        client_reference: None,
        status: "succeeded".into(),
        provider_code: Some("wave".into()),
        late: false,
        request_key: None,
        created_at: at,
        updated_at: at,
        resolved_at: Some(at),
    }
}

async fn archiving_keeps_payments(db: TestDb) {
    let ctx = Ctx::new(db);
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let t = Some(token.as_str());
    let (_, _, created) = send(
        &app,
        request("POST", BASE, t, Some(json!({"name": "Shop"}))).to_request(),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, _, key) = send(
        &app,
        request(
            "POST",
            &format!("{BASE}/{id}/keys"),
            t,
            Some(json!({"kind": "write", "mode": "test"})),
        )
        .to_request(),
    )
    .await;
    let pay = payment(&id);
    let bundle = NewPaymentBundle {
        payment: pay.clone(),
        session: None,
        history: vec![],
        events: vec![],
    };
    ctx.store().insert_payment_bundle(bundle).await.unwrap();

    let (status, _, _) = send(
        &app,
        request("DELETE", &format!("{BASE}/{id}"), t, None).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctx.store().get_payment(&pay.id).await.unwrap(), Some(pay));
    assert_eq!(ctx.store().count_payments(&id, "test").await.unwrap(), 1);
    assert!(ctx
        .store()
        .get_project(&id)
        .await
        .unwrap()
        .unwrap()
        .archived_at
        .is_some());
    // Its keys are revoked with it.
    let key = ctx
        .store()
        .get_api_key(key["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(key.revoked_at.is_some());
    ctx.finish().await;
}

async fn default_project_cannot_be_archived(db: TestDb) {
    let ctx = Ctx::new(db);
    nexpay_dashboard::bootstrap::bootstrap(ctx.store(), &ctx.state.config)
        .await
        .unwrap();
    let app = app!(ctx.state);
    let (_, token) = ctx.admin().await;
    let default = ctx.store().default_project().await.unwrap().unwrap();
    let (status, _, body) = send(
        &app,
        request(
            "DELETE",
            &format!("{BASE}/{}", default.id),
            Some(&token),
            None,
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(ctx
        .store()
        .get_project(&default.id)
        .await
        .unwrap()
        .unwrap()
        .archived_at
        .is_none());
    ctx.finish().await;
}
