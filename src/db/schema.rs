// The database schema as diesel sees it; mirrors migrations/ (as `diesel print-schema` would, except that
// text[] columns are declared with non-null elements, which the code guarantees).

diesel::table! {
    audit_log (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_id -> Nullable<Uuid>,
        actor_role -> Nullable<Text>,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Text>,
        request_id -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        details -> Jsonb,
    }
}

diesel::table! {
    idempotency_keys (principal, key) {
        principal -> Uuid,
        key -> Text,
        request_hash -> Bytea,
        status -> Nullable<Int2>,
        content_type -> Nullable<Text>,
        location -> Nullable<Text>,
        etag -> Nullable<Text>,
        body -> Nullable<Bytea>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    partners (id) {
        id -> Uuid,
        name -> Text,
        kind -> Text,
        counties -> Array<Text>,
        contact_name -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        contact_phone -> Nullable<Text>,
        services_offered -> Array<Text>,
        mou_signed_on -> Nullable<Date>,
        mou_expires_on -> Nullable<Date>,
        active -> Bool,
        notes -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        display_name -> Text,
        password_hash -> Text,
        role -> Text,
        organization_id -> Nullable<Uuid>,
        active -> Bool,
        failed_logins -> Int4,
        locked_until -> Nullable<Timestamptz>,
        last_login_at -> Nullable<Timestamptz>,
        password_changed_at -> Timestamptz,
        token_version -> Int4,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(users -> partners (organization_id));

diesel::allow_tables_to_appear_in_same_query!(audit_log, idempotency_keys, partners, users);
