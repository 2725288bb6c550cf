//! Diesel schema shared by PostgreSQL and SQLite: only types both backends map the same
//! way (Text, BigInt, Integer, Bool, Timestamp).

diesel::table! {
    projects (id) {
        id -> Text,
        name -> Text,
        success_url -> Nullable<Text>,
        failure_url -> Nullable<Text>,
        cancel_url -> Nullable<Text>,
        settings -> Text,
        is_default -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        archived_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Text,
        project_id -> Text,
        kind -> Text,
        mode -> Text,
        prefix -> Text,
        key_hash -> Text,
        label -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        must_change_password -> Bool,
        session_version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        disabled_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    instance_settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    providers (code) {
        code -> Text,
        name -> Text,
        enabled -> Bool,
        logo_url -> Text,
        sealed_config -> Nullable<Text>,
        updated_at -> Timestamp,
        config_summary -> Text,
        secrets_ok -> Bool,
        webhook_ok -> Bool,
        test_passed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    payments (id) {
        id -> Text,
        reference -> Text,
        project_id -> Text,
        mode -> Text,
        session_id -> Nullable<Text>,
        amount -> BigInt,
        currency -> Text,
        payer_name -> Nullable<Text>,
        payer_email -> Nullable<Text>,
        payer_phone -> Text,
        metadata -> Text,
        client_reference -> Nullable<Text>,
        status -> Text,
        provider_code -> Nullable<Text>,
        late -> Bool,
        request_key -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    checkout_sessions (id) {
        id -> Text,
        project_id -> Text,
        mode -> Text,
        payment_id -> Text,
        amount -> BigInt,
        currency -> Text,
        customer_name -> Nullable<Text>,
        customer_email -> Nullable<Text>,
        customer_phone -> Text,
        metadata -> Text,
        items -> Nullable<Text>,
        client_reference -> Nullable<Text>,
        success_url -> Nullable<Text>,
        failure_url -> Nullable<Text>,
        cancel_url -> Nullable<Text>,
        status -> Text,
        request_key -> Nullable<Text>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    payment_attempts (id) {
        id -> Text,
        payment_id -> Text,
        provider_code -> Text,
        provider_reference -> Text,
        provider_id -> Nullable<Text>,
        provider_transaction_id -> Nullable<Text>,
        status -> Text,
        checkout_urls -> Text,
        qr_png_base64 -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        failure_code -> Nullable<Text>,
        failure_message -> Nullable<Text>,
        late -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        resolved_at -> Nullable<Timestamp>,
        next_check_at -> Nullable<Timestamp>,
        checks -> Integer,
        flag -> Nullable<Text>,
    }
}

diesel::table! {
    provider_webhooks (id) {
        id -> Text,
        provider_code -> Text,
        mode -> Nullable<Text>,
        event_id -> Nullable<Text>,
        event_type -> Nullable<Text>,
        provider_id -> Nullable<Text>,
        reference -> Nullable<Text>,
        claim -> Nullable<Text>,
        verified -> Bool,
        verification_error -> Nullable<Text>,
        headers -> Text,
        body -> Text,
        received_at -> Timestamp,
        attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
        processed_at -> Nullable<Timestamp>,
        outcome -> Nullable<Text>,
    }
}

diesel::table! {
    payment_events (id) {
        id -> Text,
        payment_id -> Text,
        attempt_id -> Nullable<Text>,
        kind -> Text,
        from_status -> Nullable<Text>,
        to_status -> Text,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    outbox (id) {
        id -> Text,
        kind -> Text,
        aggregate_id -> Text,
        correlation_id -> Text,
        payload -> Text,
        created_at -> Timestamp,
        published_at -> Nullable<Timestamp>,
        attempts -> Integer,
        locked_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (project_id, mode, key) {
        project_id -> Text,
        mode -> Text,
        key -> Text,
        route -> Text,
        request_hash -> Text,
        state -> Text,
        status_code -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Text,
        actor -> Text,
        action -> Text,
        target -> Nullable<Text>,
        detail -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        project_id -> Text,
        mode -> Text,
        url -> Text,
        header_name -> Text,
        sealed_secret -> Text,
        secret_last4 -> Text,
        previous_sealed_secret -> Nullable<Text>,
        previous_secret_expires_at -> Nullable<Timestamp>,
        event_types -> Text,
        enabled -> Bool,
        description -> Nullable<Text>,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Text,
        endpoint_id -> Text,
        project_id -> Text,
        event_id -> Text,
        event_type -> Text,
        aggregate_id -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Nullable<Timestamp>,
        locked_until -> Nullable<Timestamp>,
        last_status_code -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_attempts (id) {
        id -> Text,
        delivery_id -> Text,
        number -> Integer,
        attempted_at -> Timestamp,
        duration_ms -> Integer,
        status_code -> Nullable<Integer>,
        response_snippet -> Nullable<Text>,
        error -> Nullable<Text>,
        next_attempt_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    admin_notifications (id) {
        id -> Text,
        kind -> Text,
        subject_id -> Nullable<Text>,
        message -> Text,
        detail -> Text,
        created_at -> Timestamp,
        read_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(api_keys -> projects (project_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_attempts -> webhook_deliveries (delivery_id));
diesel::joinable!(checkout_sessions -> payments (payment_id));
diesel::joinable!(payment_attempts -> payments (payment_id));

diesel::allow_tables_to_appear_in_same_query!(
    projects,
    api_keys,
    users,
    instance_settings,
    providers,
    payments,
    checkout_sessions,
    payment_attempts,
    payment_events,
    provider_webhooks,
    outbox,
    idempotency_keys,
    audit_log,
    webhook_endpoints,
    webhook_deliveries,
    webhook_attempts,
    admin_notifications
);
