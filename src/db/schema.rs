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
    approvals (id) {
        id -> Uuid,
        kind -> Text,
        survivor_id -> Uuid,
        status -> Text,
        closed_on -> Date,
        reason -> Text,
        note -> Nullable<Text>,
        requested_by -> Uuid,
        requested_at -> Timestamptz,
        decided_by -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
        decision_reason -> Nullable<Text>,
        version -> Int4,
    }
}

diesel::table! {
    trainings (id) {
        id -> Uuid,
        title -> Text,
        format -> Text,
        topics -> Array<Text>,
        starts_on -> Date,
        ends_on -> Date,
        county -> Text,
        venue -> Nullable<Text>,
        organising_partner_id -> Nullable<Uuid>,
        institutions -> Array<Text>,
        participants -> Jsonb,
        pre_test_average -> Nullable<Float8>,
        post_test_average -> Nullable<Float8>,
        recorded_by -> Nullable<Uuid>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
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
        claim_id -> Nullable<Uuid>,
        committed -> Bool,
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

diesel::table! {
    survivors (id) {
        id -> Uuid,
        pseudonym -> Text,
        sex -> Nullable<Text>,
        birth_year -> Nullable<Int4>,
        age_at_intake -> Nullable<Int4>,
        intake_on -> Date,
        has_disability -> Bool,
        disability_notes -> Nullable<Text>,
        county -> Nullable<Text>,
        placement -> Nullable<Text>,
        caregiver_implicated -> Bool,
        schooling -> Nullable<Text>,
        survivor_network_member -> Bool,
        citizenship -> Nullable<Text>,
        restoration_status -> Text,
        closed_on -> Nullable<Date>,
        closure_reason -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    survivor_identities (survivor_id) {
        survivor_id -> Uuid,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        version -> Int4,
        updated_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    case_survivors (case_id, survivor_id) {
        case_id -> Uuid,
        survivor_id -> Uuid,
        role -> Text,
        linked_by -> Nullable<Uuid>,
        linked_at -> Timestamptz,
    }
}

diesel::table! {
    survivor_assignments (id) {
        id -> Uuid,
        survivor_id -> Uuid,
        user_id -> Uuid,
        role -> Text,
        assigned_by -> Nullable<Uuid>,
        assigned_at -> Timestamptz,
        ended_at -> Nullable<Timestamptz>,
        ended_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    consents (id) {
        id -> Uuid,
        survivor_id -> Uuid,
        purpose -> Text,
        given_by -> Text,
        guardian_relationship -> Nullable<Text>,
        child_assent -> Nullable<Bool>,
        given_on -> Date,
        expires_on -> Nullable<Date>,
        recipients -> Array<Uuid>,
        notes -> Nullable<Text>,
        withdrawn_at -> Nullable<Timestamptz>,
        withdrawn_reason -> Nullable<Text>,
        recorded_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    survivor_services (id) {
        id -> Uuid,
        survivor_id -> Uuid,
        kind -> Text,
        provider_partner_id -> Nullable<Uuid>,
        status -> Text,
        start_on -> Nullable<Date>,
        end_on -> Nullable<Date>,
        cost_minor -> Nullable<Int8>,
        cost_currency -> Nullable<Text>,
        notes -> Nullable<Text>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    service_sessions (id) {
        id -> Uuid,
        service_id -> Uuid,
        held_on -> Date,
        minutes -> Nullable<Int4>,
        notes -> Nullable<Text>,
        recorded_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    assessments (id) {
        id -> Uuid,
        survivor_id -> Uuid,
        kind -> Text,
        assessed_on -> Date,
        safety -> Int2,
        legal_protection -> Int2,
        mental_wellbeing -> Int2,
        economic_empowerment_education -> Int2,
        social_support -> Int2,
        physical_wellbeing -> Int2,
        notes -> Nullable<Text>,
        recorded_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    survivor_closures (id) {
        id -> Uuid,
        survivor_id -> Uuid,
        closed_on -> Date,
        reason -> Text,
        note -> Nullable<Text>,
        closed_by -> Nullable<Uuid>,
        reopened_on -> Nullable<Date>,
        reopen_reason -> Nullable<Text>,
        reopened_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    follow_ups (id) {
        id -> Uuid,
        survivor_id -> Uuid,
        closure_id -> Nullable<Uuid>,
        due_on -> Date,
        status -> Text,
        conducted_on -> Nullable<Date>,
        outcome -> Nullable<Text>,
        notes -> Nullable<Text>,
        assessment_id -> Nullable<Uuid>,
        recorded_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    referrals (id) {
        id -> Uuid,
        partner_id -> Uuid,
        external_id -> Text,
        status -> Text,
        urgency -> Text,
        child_alias -> Text,
        sex -> Nullable<Text>,
        age -> Nullable<Int4>,
        birth_year -> Nullable<Int4>,
        county -> Text,
        sub_county -> Nullable<Text>,
        has_disability -> Bool,
        disability_notes -> Nullable<Text>,
        concern -> Text,
        indicators -> Array<Text>,
        whereabouts -> Text,
        safe_tonight -> Bool,
        consent_given_by -> Text,
        consent_obtained_on -> Date,
        submitted_by -> Nullable<Uuid>,
        acknowledged_by -> Nullable<Uuid>,
        acknowledged_at -> Nullable<Timestamptz>,
        concluded_by -> Nullable<Uuid>,
        concluded_at -> Nullable<Timestamptz>,
        conclusion_reason -> Nullable<Text>,
        case_id -> Nullable<Uuid>,
        survivor_id -> Nullable<Uuid>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    indicator_targets (id) {
        id -> Uuid,
        indicator -> Text,
        period_from -> Date,
        period_to -> Date,
        county -> Nullable<Text>,
        target -> Int4,
        note -> Nullable<Text>,
        updated_by -> Nullable<Uuid>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(case_survivors -> survivors (survivor_id));
diesel::joinable!(case_survivors -> cases (case_id));
diesel::joinable!(survivor_assignments -> survivors (survivor_id));
diesel::joinable!(service_sessions -> survivor_services (service_id));

diesel::joinable!(users -> partners (organization_id));

diesel::joinable!(approvals -> survivors (survivor_id));

diesel::joinable!(referrals -> partners (partner_id));
diesel::joinable!(referrals -> cases (case_id));

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        owner_id -> Uuid,
        name -> Text,
        prefix -> Text,
        secret_sha256 -> Bytea,
        role -> Text,
        organization_id -> Nullable<Uuid>,
        expires_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        last_used_addr -> Nullable<Text>,
        revoked_at -> Nullable<Timestamptz>,
        revoked_by -> Nullable<Uuid>,
        created_by -> Uuid,
        created_at -> Timestamptz,
        token_version -> Int4,
    }
}

diesel::joinable!(api_keys -> users (owner_id));

diesel::table! {
    webhooks (id) {
        id -> Uuid,
        owner_id -> Uuid,
        organization_id -> Nullable<Uuid>,
        url -> Text,
        events -> Array<Text>,
        secret_key_id -> Text,
        secret_nonce -> Bytea,
        secret_ciphertext -> Bytea,
        active -> Bool,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        last_failure_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Uuid,
        webhook_id -> Uuid,
        event_id -> Uuid,
        event_type -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        next_attempt_at -> Timestamptz,
        last_attempt_at -> Nullable<Timestamptz>,
        last_status_code -> Nullable<Int4>,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        claim_token -> Nullable<Uuid>,
    }
}

diesel::joinable!(webhook_deliveries -> webhooks (webhook_id));

diesel::table! {
    sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        token_version -> Int4,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
        revoked_at -> Nullable<Timestamptz>,
        revoked_reason -> Nullable<Text>,
        client_addr -> Nullable<Text>,
        user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    refresh_tokens (token_hash) {
        token_hash -> Bytea,
        session_id -> Uuid,
        created_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(refresh_tokens -> sessions (session_id));

diesel::table! {
    password_resets (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        issued_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    totp_factors (user_id) {
        user_id -> Uuid,
        key_id -> Text,
        nonce -> Bytea,
        ciphertext -> Bytea,
        created_at -> Timestamptz,
        confirmed_at -> Nullable<Timestamptz>,
        last_step -> Nullable<Int8>,
    }
}

diesel::table! {
    recovery_codes (code_hash) {
        code_hash -> Bytea,
        user_id -> Uuid,
        created_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    mfa_challenges (token_hash) {
        token_hash -> Bytea,
        user_id -> Uuid,
        token_version -> Int4,
        enrol -> Bool,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        attempts -> Int4,
        used_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(totp_factors -> users (user_id));

diesel::table! {
    documents (id) {
        id -> Uuid,
        case_id -> Nullable<Uuid>,
        survivor_id -> Nullable<Uuid>,
        kind -> Text,
        title -> Text,
        document_date -> Date,
        identifying -> Bool,
        content_type -> Text,
        size_bytes -> Int8,
        sha256 -> Bytea,
        key_id -> Text,
        key_nonce -> Bytea,
        wrapped_key -> Bytea,
        uploaded_by -> Uuid,
        archived_at -> Nullable<Timestamptz>,
        archived_by -> Nullable<Uuid>,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        updated_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    document_uploads (id) {
        id -> Uuid,
        started_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    documents,
    document_uploads,
    password_resets,
    totp_factors,
    recovery_codes,
    mfa_challenges,
    sessions,
    refresh_tokens,
    webhooks,
    webhook_deliveries,
    api_keys,
    indicator_targets,
    referrals,
    approvals,
    trainings,
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
    survivors,
    survivor_identities,
    case_survivors,
    survivor_assignments,
    consents,
    survivor_services,
    service_sessions,
    assessments,
    survivor_closures,
    follow_ups,
);
