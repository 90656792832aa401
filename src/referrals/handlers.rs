use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{Datelike, Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{
    dto::{
        AcceptReferral, DeclineReferral, Loaded, MatchKind, PossibleMatch, Referral, ReferralFilter, SubmitReferral,
        UpdateReferral, Windows, WithdrawReferral,
    },
    models::{ReferralRow, ReferralStatus, StatusChange, Urgency},
    queries::{self, ChildKey},
};
use crate::{
    audit::AuditEvent,
    auth::{AuthUser, policy},
    cases::{
        self,
        dto::CreateCase,
        models::{LocationType, ReferralSource, RiskLevel},
    },
    db::pagination::{Page, PageParams},
    error::{ApiError, ApiResult, ErrorCode, Problem},
    extract::{IfMatch, MaybeJson, ValidatedJson, created_with_etag, etag, ok_with_etag},
    ids::{PartnerId, ReferralId},
    partners::models::PartnerKind,
    state::AppState,
    survivors::{self, dto::CreateSurvivor, models::CaseRole},
};

/// Whether the caller is staff (sees staff-only fields) rather than a partner user.
fn is_staff(user: &AuthUser) -> bool {
    policy::partner_scope(user).is_none()
}

/// 403 without `permission`; 404 when the referral does not exist or belongs to another
/// organisation than the partner user's.
pub async fn ensure_reach(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    id: ReferralId,
    permission: policy::Permission,
) -> ApiResult<()> {
    policy::require(user, policy::Permission::ReadReferrals)?;
    let partner = queries::partner_of(conn, id).await?;
    if policy::partner_scope(user).is_some_and(|own| own != partner) {
        return Err(ApiError::not_found());
    }
    policy::require(user, permission)
}

/// 409 unless the referral is in one of the statuses the move starts from.
fn check_move(current: ReferralStatus, action: &str, from: &[ReferralStatus]) -> ApiResult<()> {
    if from.contains(&current) {
        return Ok(());
    }
    Err(ApiError::conflict(
        ErrorCode::InvalidTransition,
        format!("A referral that is {current} cannot be {action}."),
    )
    .with_extensions(json!({"status": current, "allowed_from": from})))
}

/// Survivors within the caller's reach and other open referrals that may be the same child.
async fn possible_matches(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    row: &ReferralRow,
) -> ApiResult<Vec<PossibleMatch>> {
    let key = ChildKey::of(row);
    let mut matches = Vec::new();
    if let Ok(scope) = policy::survivor_scope(user) {
        let found = survivors::queries::possible_matches(conn, scope, &key).await?;
        let reads = found
            .iter()
            .map(|s| {
                AuditEvent::by(user, "survivor.possible_match", "survivor", s.id)
                    .details(json!({"referral_id": row.id}))
            })
            .collect();
        AuditEvent::record_all(reads, conn).await?;
        for s in found {
            matches.push(PossibleMatch {
                kind: MatchKind::Survivor,
                id: s.id.0,
                name: s.pseudonym,
                sex: s.sex,
                birth_year: s.birth_year.or(s.age_at_intake.map(|a| s.intake_on.year() - a)),
                county: s.county,
                status: None,
                restoration_status: Some(s.restoration_status),
            });
        }
    }
    for r in queries::possible_matches(conn, row.id, &key).await? {
        let birth_year = ChildKey::of(&r).birth_year;
        matches.push(PossibleMatch {
            kind: MatchKind::Referral,
            id: r.id.0,
            name: r.child_alias,
            sex: r.sex,
            birth_year,
            county: Some(r.county),
            status: Some(r.status),
            restoration_status: None,
        });
    }
    Ok(matches)
}

/// The referral as the caller may see it; staff also get its possible matches while it is open.
async fn present(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    windows: Windows,
    id: ReferralId,
) -> ApiResult<Referral> {
    let loaded = queries::find(conn, id).await?;
    let open = matches!(
        loaded.row.status,
        ReferralStatus::Submitted | ReferralStatus::Acknowledged
    );
    let matches = if is_staff(user) && open {
        Some(possible_matches(conn, user, &loaded.row).await?)
    } else {
        None
    };
    let mut referral = Referral::view(loaded, windows, is_staff(user));
    referral.possible_matches = matches;
    hide_unreachable_case(conn, user, &mut referral).await?;
    Ok(referral)
}

/// Staff who do not reach the case a referral became (a case worker not on it) see that it was
/// accepted, not which case and survivor it became.
async fn hide_unreachable_case(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    referral: &mut Referral,
) -> ApiResult<()> {
    let Some(case) = referral.case_id else { return Ok(()) };
    match cases::ensure_visible(conn, user, case).await {
        Ok(()) => Ok(()),
        Err(e) if e.code() == ErrorCode::NotFound => {
            referral.case_id = None;
            referral.survivor_id = None;
            referral.case_reference = None;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Referrals, newest first: a partner user sees its own organisation's; staff see all and filter
/// by status, urgency, partner, county, overdue and submission dates.
#[utoipa::path(
    tag = "referrals",
    operation_id = "list_referrals",
    params(ReferralFilter, PageParams),
    responses((status = 200, body = Page<Referral>))
)]
#[get("/referrals")]
pub async fn list_referrals(
    state: web::Data<AppState>,
    user: AuthUser,
    filter: crate::extract::Query<ReferralFilter>,
    page: crate::extract::Query<PageParams>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::ReadReferrals)?;
    crate::extract::check_period(filter.from, filter.to)?;
    let limit = page.limit()?;
    let windows = Windows::of(&state.config);
    let staff = is_staff(&user);
    let mut conn = state.conn().await?;
    let rows = queries::list(
        &mut conn,
        &filter,
        policy::partner_scope(&user),
        windows,
        page.after()?,
        limit,
    )
    .await?;
    let mut page = Page::from_rows(
        rows,
        limit,
        |l: &Loaded| l.row.id,
        |l| Referral::view(l, windows, staff),
    );
    if staff {
        for referral in &mut page.data {
            hide_unreachable_case(&mut conn, &user, referral).await?;
        }
    }
    let reads = page
        .data
        .iter()
        .map(|r| AuditEvent::by(&user, "referral.list", "referral", r.id))
        .collect();
    AuditEvent::record_all(reads, &mut conn).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Submit a referral (a partner user for its organisation; staff on a partner's behalf, naming
/// it). Safe to retry: the same `external_id` from the same organisation answers the existing
/// referral with `200` and `Haki-Existing: true` — updated with the new content while still
/// `submitted`, `409` if it changed after that.
#[utoipa::path(
    tag = "referrals",
    operation_id = "submit_referral",
    request_body = SubmitReferral,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a retried POST safe: the first response is replayed.")),
    responses(
        (status = 201, description = "A new referral", body = Referral, headers(("ETag" = String), ("Location" = String))),
        (status = 200, description = "The organisation already sent this `external_id`: the existing referral (updated when still `submitted`)",
            body = Referral, headers(("ETag" = String), ("Location" = String), ("Haki-Existing" = String, description = "`true`: this referral existed before the request"))),
        (status = 409, description = "The referral with this `external_id` is no longer `submitted` and cannot change", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals")]
pub async fn submit_referral(
    state: web::Data<AppState>,
    user: AuthUser,
    body: ValidatedJson<SubmitReferral>,
) -> ApiResult<HttpResponse> {
    policy::require(&user, policy::Permission::SubmitReferrals)?;
    let (named, external_id, fields) = body.0.split();
    let partner: PartnerId = match policy::partner_scope(&user) {
        Some(own) if named.is_some_and(|p| p != own) => {
            return Err(ApiError::invalid_field(
                "partner_id",
                "not_your_organisation",
                "a partner user refers for its own organisation; leave partner_id out",
            ));
        }
        Some(own) => own,
        None => named.ok_or_else(|| {
            ApiError::invalid_field(
                "partner_id",
                "required",
                "name the partner organisation on whose behalf you submit the referral",
            )
        })?,
    };
    let content = fields.into_content()?;
    let windows = Windows::of(&state.config);
    let mut conn = state.conn().await?;
    let organisation = crate::partners::queries::find(&mut conn, partner)
        .await
        .map_err(|e| match e {
            diesel::result::Error::NotFound => {
                ApiError::invalid_field("partner_id", "unknown_partner", "no such partner organisation")
            }
            e => e.into(),
        })?;
    if !organisation.active {
        return Err(ApiError::invalid_field(
            "partner_id",
            "inactive_partner",
            "the organisation is no longer an active partner; call the program instead",
        ));
    }
    let (referral, created) = conn
        .transaction(async |conn| {
            let now = Utc::now();
            let new = ReferralRow {
                id: ReferralId::new(),
                partner_id: partner,
                external_id: external_id.clone(),
                status: ReferralStatus::Submitted,
                urgency: content.urgency,
                child_alias: content.child_alias.clone(),
                sex: content.sex,
                age: content.age,
                birth_year: content.birth_year,
                county: content.county,
                sub_county: content.sub_county.clone(),
                has_disability: content.has_disability,
                disability_notes: content.disability_notes.clone(),
                concern: content.concern.clone(),
                indicators: content.indicators.clone(),
                whereabouts: content.whereabouts,
                safe_tonight: content.safe_tonight,
                consent_given_by: content.consent_given_by,
                consent_obtained_on: content.consent_obtained_on,
                submitted_by: Some(user.id),
                acknowledged_by: None,
                acknowledged_at: None,
                concluded_by: None,
                concluded_at: None,
                conclusion_reason: None,
                case_id: None,
                survivor_id: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            let (id, created) = match queries::insert_new(conn, &new).await? {
                Some(row) => {
                    AuditEvent::by(&user, "referral.submit", "referral", row.id)
                        .details(json!({"partner_id": partner, "urgency": row.urgency}))
                        .record(conn)
                        .await?;
                    (row.id, true)
                }
                None => {
                    let existing = queries::lock_by_external_id(conn, partner, &external_id).await?;
                    let changed = existing.content() != content;
                    if changed {
                        if existing.status != ReferralStatus::Submitted {
                            return Err(ApiError::conflict(
                                ErrorCode::ReferralLocked,
                                format!(
                                    "This organisation's referral {external_id} is already {} and can no longer change; \
                                     call the program to add information.",
                                    existing.status
                                ),
                            ));
                        }
                        queries::update_content(conn, existing.id, &content).await?;
                    }
                    AuditEvent::by(&user, "referral.resubmit", "referral", existing.id)
                        .details(json!({"changed": changed}))
                        .record(conn)
                        .await?;
                    (existing.id, false)
                }
            };
            Ok::<_, ApiError>((present(conn, &user, windows, id).await?, created))
        })
        .await?;
    let location = format!("/api/v1/referrals/{}", referral.id);
    if created {
        return Ok(created_with_etag(location, referral.version, &referral));
    }
    Ok(HttpResponse::Ok()
        .insert_header(("ETag", etag(referral.version)))
        .insert_header(("Location", location))
        .insert_header(("Haki-Existing", "true"))
        .json(referral))
}

/// One referral; staff also see the survivors and open referrals that may be the same child.
#[utoipa::path(
    tag = "referrals",
    operation_id = "get_referral",
    params(("id" = ReferralId, Path)),
    responses((status = 200, body = Referral, headers(("ETag" = String))))
)]
#[get("/referrals/{id}")]
pub async fn get_referral(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReferralId>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let mut conn = state.conn().await?;
    ensure_reach(&mut conn, &user, id, policy::Permission::ReadReferrals).await?;
    let referral = present(&mut conn, &user, Windows::of(&state.config), id).await?;
    AuditEvent::by(&user, "referral.read", "referral", id)
        .record(&conn)
        .await?;
    Ok(ok_with_etag(referral.version, &referral))
}

/// Correct a referral while it is `submitted` (the organisation that sent it, or staff on its
/// behalf); `409` afterwards.
#[utoipa::path(
    tag = "referrals",
    operation_id = "update_referral",
    request_body = UpdateReferral,
    params(("id" = ReferralId, Path), ("If-Match" = Option<String>, Header, description = "The ETag read; 412 when stale.")),
    responses(
        (status = 200, body = Referral, headers(("ETag" = String))),
        (status = 409, description = "No longer `submitted`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/referrals/{id}")]
pub async fn update_referral(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReferralId>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateReferral>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let windows = Windows::of(&state.config);
    let mut conn = state.conn().await?;
    ensure_reach(&mut conn, &user, id, policy::Permission::SubmitReferrals).await?;
    let referral = conn
        .transaction(async |conn| {
            let current = queries::lock(conn, id).await?;
            if_match.check(current.version)?;
            if current.status != ReferralStatus::Submitted {
                return Err(ApiError::conflict(
                    ErrorCode::ReferralLocked,
                    format!(
                        "This referral is already {} and can no longer change; call the program to add information.",
                        current.status
                    ),
                ));
            }
            let content = input.apply(current.content())?;
            let row = queries::update_content(conn, id, &content).await?;
            AuditEvent::by(&user, "referral.update", "referral", id)
                .details(json!({"version": row.version}))
                .record(conn)
                .await?;
            present(conn, &user, windows, id).await
        })
        .await?;
    Ok(ok_with_etag(referral.version, &referral))
}

/// Applies a status change with its audit entry, in the caller's transaction.
async fn record_move(
    conn: &mut AsyncPgConnection,
    user: &AuthUser,
    id: ReferralId,
    change: &StatusChange,
    action: &str,
    details: serde_json::Value,
) -> ApiResult<()> {
    queries::change_status(conn, id, change).await?;
    crate::webhooks::referral_status_changed(conn, id).await?;
    AuditEvent::by(user, action, "referral", id)
        .details(details)
        .record(conn)
        .await?;
    Ok(())
}

/// The referral, locked for a status change, after its If-Match (when sent).
async fn lock(conn: &mut AsyncPgConnection, id: ReferralId, if_match: &IfMatch) -> ApiResult<ReferralRow> {
    let current = queries::lock(conn, id).await?;
    if_match.check_if_sent(current.version)?;
    Ok(current)
}

/// Acknowledge a `submitted` referral: the program has seen it (the time it took is kept).
#[utoipa::path(
    tag = "referrals",
    operation_id = "acknowledge_referral",
    params(("id" = ReferralId, Path), ("If-Match" = Option<String>, Header, description = "Honoured when sent.")),
    responses(
        (status = 200, body = Referral, headers(("ETag" = String))),
        (status = 409, description = "Not `submitted`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/acknowledge")]
pub async fn acknowledge_referral(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReferralId>,
    if_match: IfMatch,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let windows = Windows::of(&state.config);
    let mut conn = state.conn().await?;
    ensure_reach(&mut conn, &user, id, policy::Permission::TriageReferrals).await?;
    let referral = conn
        .transaction(async |conn| {
            let current = lock(conn, id, &if_match).await?;
            check_move(current.status, "acknowledged", &[ReferralStatus::Submitted])?;
            let now = Utc::now();
            record_move(
                conn,
                &user,
                id,
                &StatusChange {
                    status: Some(ReferralStatus::Acknowledged),
                    acknowledged_by: Some(Some(user.id)),
                    acknowledged_at: Some(Some(now)),
                    ..Default::default()
                },
                "referral.acknowledge",
                json!({"minutes_to_acknowledge": (now - current.created_at).num_minutes()}),
            )
            .await?;
            present(conn, &user, windows, id).await
        })
        .await?;
    Ok(ok_with_etag(referral.version, &referral))
}

/// Accept an `acknowledged` referral: in one transaction, open a case (or link to `case_id`) and
/// register the survivor with the referral's pseudonymous details (or link to `survivor_id`, one
/// of its possible matches); the partner is recorded as the case's referral source.
#[utoipa::path(
    tag = "referrals",
    operation_id = "accept_referral",
    request_body(content = Option<AcceptReferral>, description = "Optional: without a body a new case and a new survivor are created."),
    params(("id" = ReferralId, Path), ("If-Match" = Option<String>, Header, description = "Honoured when sent.")),
    responses(
        (status = 200, description = "Accepted; `case_id`, `survivor_id` and `case_reference` name what it became", body = Referral, headers(("ETag" = String))),
        (status = 409, description = "Not `acknowledged`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/accept")]
pub async fn accept_referral(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReferralId>,
    if_match: IfMatch,
    body: MaybeJson<AcceptReferral>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let input = body.0;
    let windows = Windows::of(&state.config);
    let mut conn = state.conn().await?;
    ensure_reach(&mut conn, &user, id, policy::Permission::TriageReferrals).await?;
    let referral = conn
        .transaction(async |conn| {
            let current = lock(conn, id, &if_match).await?;
            check_move(current.status, "accepted", &[ReferralStatus::Acknowledged])?;
            let partner = crate::partners::queries::find(conn, current.partner_id).await?;
            let submitted_on = (current.created_at + Duration::hours(3)).date_naive();
            let new_case = input.case_id.is_none();
            let case_id = match input.case_id {
                Some(existing) => {
                    cases::ensure_changeable(conn, &user, existing).await.map_err(|e| {
                        if e.code() == ErrorCode::NotFound {
                            ApiError::invalid_field("case_id", "unknown_case", "no such case within your reach")
                        } else {
                            e
                        }
                    })?;
                    existing
                }
                None => {
                    cases::handlers::open(
                        conn,
                        &user,
                        CreateCase {
                            county: current.county,
                            sub_county: current.sub_county.clone(),
                            location_type: input.location_type.unwrap_or(LocationType::Other),
                            exploitation_types: input.exploitation_types.clone(),
                            reported_on: submitted_on,
                            incident_on: None,
                            referral_source: Some(match partner.kind {
                                PartnerKind::CommunityJusticeCentre => ReferralSource::CommunityJusticeCentre,
                                _ => ReferralSource::PartnerReferral,
                            }),
                            referral_partner_id: Some(partner.id),
                            risk_level: input.risk_level.unwrap_or(match current.urgency {
                                Urgency::Emergency => RiskLevel::Critical,
                                Urgency::Urgent => RiskLevel::High,
                                Urgency::Routine => RiskLevel::Medium,
                            }),
                            summary: Some(current.concern.clone()),
                        },
                    )
                    .await?
                }
            };
            let new_survivor = input.survivor_id.is_none();
            let survivor_id = match input.survivor_id {
                Some(existing) => {
                    survivors::ensure_visible(conn, &user, existing).await.map_err(|e| {
                        if e.code() == ErrorCode::NotFound {
                            ApiError::invalid_field(
                                "survivor_id",
                                "unknown_survivor",
                                "no such survivor within your reach",
                            )
                        } else {
                            e
                        }
                    })?;
                    existing
                }
                None => {
                    survivors::handlers::create(
                        conn,
                        &user,
                        CreateSurvivor {
                            pseudonym: input.pseudonym.clone().unwrap_or_else(|| current.child_alias.clone()),
                            sex: current.sex,
                            birth_year: current.birth_year,
                            age_at_intake: current.age,
                            // Her age was given at submission: intake counts from then.
                            intake_on: submitted_on,
                            has_disability: current.has_disability,
                            disability_notes: current.disability_notes.clone(),
                            county: Some(current.county),
                            placement: None,
                            caregiver_implicated: false,
                            schooling: None,
                            survivor_network_member: false,
                            citizenship: None,
                        },
                    )
                    .await?
                    .id
                }
            };
            if !survivors::queries::is_linked(conn, case_id, survivor_id).await? {
                survivors::handlers::link(
                    conn,
                    &user,
                    case_id,
                    survivor_id,
                    input.role.unwrap_or(CaseRole::Victim),
                )
                .await?;
            }
            record_move(
                conn,
                &user,
                id,
                &StatusChange {
                    case_id: Some(Some(case_id)),
                    survivor_id: Some(Some(survivor_id)),
                    ..StatusChange::concluded(ReferralStatus::Accepted, user.id, None)
                },
                "referral.accept",
                json!({
                    "case_id": case_id, "survivor_id": survivor_id,
                    "new_case": new_case, "new_survivor": new_survivor,
                }),
            )
            .await?;
            present(conn, &user, windows, id).await
        })
        .await?;
    Ok(ok_with_etag(referral.version, &referral))
}

/// Decline an `acknowledged` referral, with a reason the partner reads.
#[utoipa::path(
    tag = "referrals",
    operation_id = "decline_referral",
    request_body = DeclineReferral,
    params(("id" = ReferralId, Path), ("If-Match" = Option<String>, Header, description = "Honoured when sent.")),
    responses(
        (status = 200, body = Referral, headers(("ETag" = String))),
        (status = 409, description = "Not `acknowledged`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/decline")]
pub async fn decline_referral(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReferralId>,
    if_match: IfMatch,
    body: ValidatedJson<DeclineReferral>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let reason = body.0.reason.trim().to_string();
    let windows = Windows::of(&state.config);
    let mut conn = state.conn().await?;
    ensure_reach(&mut conn, &user, id, policy::Permission::TriageReferrals).await?;
    let referral = conn
        .transaction(async |conn| {
            let current = lock(conn, id, &if_match).await?;
            check_move(current.status, "declined", &[ReferralStatus::Acknowledged])?;
            record_move(
                conn,
                &user,
                id,
                &StatusChange::concluded(ReferralStatus::Declined, user.id, Some(reason.clone())),
                "referral.decline",
                json!({}),
            )
            .await?;
            present(conn, &user, windows, id).await
        })
        .await?;
    Ok(ok_with_etag(referral.version, &referral))
}

/// Withdraw a referral that is not yet accepted or declined (the organisation that sent it, or
/// staff on its behalf).
#[utoipa::path(
    tag = "referrals",
    operation_id = "withdraw_referral",
    request_body(content = Option<WithdrawReferral>, description = "Optional: why."),
    params(("id" = ReferralId, Path), ("If-Match" = Option<String>, Header, description = "Honoured when sent.")),
    responses(
        (status = 200, body = Referral, headers(("ETag" = String))),
        (status = 409, description = "Already accepted, declined or withdrawn", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/referrals/{id}/withdraw")]
pub async fn withdraw_referral(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<ReferralId>,
    if_match: IfMatch,
    body: MaybeJson<WithdrawReferral>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let reason = body.0.reason.map(|r| r.trim().to_string());
    let windows = Windows::of(&state.config);
    let mut conn = state.conn().await?;
    ensure_reach(&mut conn, &user, id, policy::Permission::SubmitReferrals).await?;
    let referral = conn
        .transaction(async |conn| {
            let current = lock(conn, id, &if_match).await?;
            check_move(
                current.status,
                "withdrawn",
                &[ReferralStatus::Submitted, ReferralStatus::Acknowledged],
            )?;
            record_move(
                conn,
                &user,
                id,
                &StatusChange::concluded(ReferralStatus::Withdrawn, user.id, reason.clone()),
                "referral.withdraw",
                json!({}),
            )
            .await?;
            present(conn, &user, windows, id).await
        })
        .await?;
    Ok(ok_with_etag(referral.version, &referral))
}
