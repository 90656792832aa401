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

diesel::table! {
    offences (code) {
        code -> Text,
        statute -> Text,
        section -> Text,
        title -> Text,
        min_years -> Nullable<Int4>,
        max_years -> Nullable<Int4>,
        life_imprisonment -> Bool,
        min_fine_kes -> Nullable<Int8>,
        penalty_note -> Nullable<Text>,
        facilitator_reach -> Bool,
        child_age_min -> Nullable<Int4>,
        child_age_max -> Nullable<Int4>,
        in_force -> Bool,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    case_reference_counters (prefix) {
        prefix -> Text,
        last_value -> Int4,
    }
}

diesel::table! {
    cases (id) {
        id -> Uuid,
        reference -> Text,
        county -> Text,
        sub_county -> Nullable<Text>,
        location_type -> Text,
        exploitation_types -> Array<Text>,
        reported_on -> Date,
        incident_on -> Nullable<Date>,
        referral_source -> Nullable<Text>,
        referral_partner_id -> Nullable<Uuid>,
        risk_level -> Text,
        summary -> Nullable<Text>,
        stage -> Text,
        closure_reason -> Nullable<Text>,
        closed_on -> Nullable<Date>,
        last_activity_on -> Date,
        created_by -> Nullable<Uuid>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// A view: facts derived from a case and its parts.
    case_facts (case_id) {
        case_id -> Uuid,
        days_to_first_arrest -> Nullable<Int4>,
        days_to_first_charge -> Nullable<Int4>,
        court_sessions_held -> Int8,
        court_sessions_adjourned -> Int8,
        next_court_date -> Nullable<Date>,
        stalled -> Bool,
        ctip_gap -> Bool,
        age_charge_mismatch -> Bool,
    }
}

diesel::table! {
    case_assignments (id) {
        id -> Uuid,
        case_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        assigned_by -> Nullable<Uuid>,
        assigned_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        ended_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    case_events (id) {
        id -> Uuid,
        case_id -> Uuid,
        kind -> Text,
        occurred_on -> Date,
        note -> Nullable<Text>,
        stage_from -> Nullable<Text>,
        stage_to -> Nullable<Text>,
        recorded_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    suspects (id) {
        id -> Uuid,
        case_id -> Uuid,
        name -> Text,
        sex -> Nullable<Text>,
        role -> Text,
        relationship -> Text,
        nationality -> Nullable<Text>,
        status -> Text,
        arrested_on -> Nullable<Date>,
        notes -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    charges (id) {
        id -> Uuid,
        suspect_id -> Uuid,
        case_id -> Uuid,
        offence_code -> Text,
        court_file_number -> Nullable<Text>,
        filed_on -> Date,
        status -> Text,
        sentence_years -> Nullable<Int4>,
        sentence_life -> Bool,
        fine_amount_minor -> Nullable<Int8>,
        fine_currency -> Nullable<Text>,
        decided_on -> Nullable<Date>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    court_sessions (id) {
        id -> Uuid,
        case_id -> Uuid,
        court -> Text,
        scheduled_on -> Date,
        purpose -> Text,
        status -> Text,
        adjournment_reason -> Nullable<Text>,
        survivor_attended -> Nullable<Bool>,
        survivor_accompanied -> Nullable<Bool>,
        intermediary_used -> Nullable<Bool>,
        support_cost_minor -> Nullable<Int8>,
        support_cost_currency -> Nullable<Text>,
        notes -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(case_assignments -> cases (case_id));
diesel::joinable!(case_events -> cases (case_id));
diesel::joinable!(suspects -> cases (case_id));
diesel::joinable!(charges -> suspects (suspect_id));
diesel::joinable!(charges -> offences (offence_code));
diesel::joinable!(court_sessions -> cases (case_id));

diesel::joinable!(users -> partners (organization_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_log,
    idempotency_keys,
    partners,
    users,
    offences,
    case_reference_counters,
    cases,
    case_facts,
    case_assignments,
    case_events,
    suspects,
    charges,
    court_sessions,
);
