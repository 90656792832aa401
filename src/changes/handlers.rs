use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel::{
    QueryableByName,
    sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz, Uuid},
};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::{
        AuthUser,
        policy::{self, CaseScope, Permission, SurvivorScope},
    },
    db::pagination::{DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor},
    error::{ApiError, ApiResult, ErrorCode},
    state::AppState,
    text_enum,
};

text_enum! {
    /// The kinds of record the feed follows (a survivor's pseudonymous record only).
    pub enum ChangeType { Case, Survivor, Referral, Training, Partner }
}

text_enum! {
    pub enum ChangeOp { Create, Update }
}

/// A record that was created or changed. Fetch it (`GET /api/v1/<type>s/{id}`) for its state.
#[derive(Debug, Serialize, ToSchema, QueryableByName)]
pub struct Change {
    /// The feed's position just after this entry.
    #[diesel(sql_type = Text)]
    pub cursor: String,
    #[serde(rename = "type")]
    #[diesel(sql_type = Text)]
    pub resource_type: ChangeType,
    #[diesel(sql_type = Uuid)]
    pub id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    pub op: ChangeOp,
    #[diesel(sql_type = Timestamptz)]
    pub changed_at: DateTime<Utc>,
}

/// One page of the feed. `next_cursor` is always set: store it and pass it as `after` to resume
/// exactly there (an empty page gives back the position you asked from).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangePage {
    pub data: Vec<Change>,
    pub next_cursor: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeParams {
    /// A `next_cursor` (or an entry's `cursor`) from an earlier page; leave out to start from the
    /// beginning.
    pub after: Option<String>,
    /// Only these kinds of record, comma-separated (`case,referral`).
    pub types: Option<String>,
    /// Page size, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The position in the feed: the transaction id and sequence number of the last entry read.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct Position {
    xid: String,
    seq: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    xid: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    resource_type: ChangeType,
    #[diesel(sql_type = Uuid)]
    resource_id: uuid::Uuid,
    #[diesel(sql_type = Text)]
    op: ChangeOp,
    #[diesel(sql_type = Timestamptz)]
    changed_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    visible: bool,
}

/// How many entries one request looks through at most: the position moves past entries the
/// caller may not see, so a reader with a narrow reach does not scan them again next time.
const WINDOW: i64 = 1000;

/// Entries after a position whose transactions, and all with smaller ids, have finished, each
/// with whether the caller may see it (`$3` case scope, `$4` survivor scope, `$5` referrals, `$6`
/// trainings, `$7` partners, `$8` the caller, `$9` the caller's organisation, `$10` types).
const FEED: &str = "
WITH scanned AS (
    SELECT c.* FROM changes c
     WHERE (c.xid, c.seq) > ($1::text::xid8, $2)
       AND c.xid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY c.xid, c.seq
     LIMIT $11)
SELECT c.xid::text AS xid, c.seq, c.resource_type, c.resource_id, c.op, c.changed_at,
       (($10::text[] IS NULL OR c.resource_type = ANY ($10)) AND CASE c.resource_type
       WHEN 'case' THEN $3 = 'all' OR ($3 = 'assigned' AND EXISTS (
            SELECT 1 FROM case_assignments a WHERE a.case_id = c.resource_id AND a.user_id = $8 AND a.ended_at IS NULL))
       WHEN 'survivor' THEN $4 = 'all'
            OR ($4 = 'assigned' AND EXISTS (
                SELECT 1 FROM survivor_assignments a
                 WHERE a.survivor_id = c.resource_id AND a.user_id = $8 AND a.ended_at IS NULL))
            OR ($4 = 'through_cases' AND EXISTS (
                SELECT 1 FROM case_survivors cv JOIN case_assignments a ON a.case_id = cv.case_id
                 WHERE cv.survivor_id = c.resource_id AND a.user_id = $8 AND a.ended_at IS NULL))
       WHEN 'referral' THEN $5 = 'all' OR ($5 = 'own' AND EXISTS (
            SELECT 1 FROM referrals r WHERE r.id = c.resource_id AND r.partner_id = $9))
       WHEN 'training' THEN $6
       WHEN 'partner' THEN $7 = 'all' OR ($7 = 'own' AND c.resource_id = $9)
       ELSE false
       END) AS visible
  FROM scanned c
 ORDER BY c.xid, c.seq";

/// Every create and update of cases, survivors (pseudonymous record), referrals, trainings and
/// partner organisations the caller may see, in an order that never changes behind a reader:
/// an entry appears only once every transaction that could come before it has finished, so a
/// script that stores `next_cursor` and asks again gets each change once, with no gaps, however
/// transactions interleave. Reach is the caller's now (a case worker's assigned cases, a
/// partner's own referrals and organisation).
#[utoipa::path(
    tag = "integration",
    operation_id = "list_changes",
    params(ChangeParams),
    responses((status = 200, body = ChangePage))
)]
#[get("/changes")]
pub async fn list_changes(
    state: web::Data<AppState>,
    user: AuthUser,
    params: crate::extract::Query<ChangeParams>,
) -> ApiResult<HttpResponse> {
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidQuery,
                "limit must be between 1 and 200.",
            ));
        }
    };
    let from: Position = match params.after.as_deref() {
        Some(cursor) => decode_cursor(cursor)?,
        None => Position {
            xid: "0".into(),
            seq: 0,
        },
    };
    if from.xid.parse::<u64>().is_err() {
        return Err(ApiError::bad_request(
            ErrorCode::InvalidCursor,
            "The cursor is not one this API issued.",
        ));
    }
    let types: Option<Vec<String>> = match params.types.as_deref() {
        None => None,
        Some(list) => Some(
            list.split(',')
                .map(|t| {
                    t.trim()
                        .parse::<ChangeType>()
                        .map(|t| t.as_ref().to_string())
                        .map_err(|_| {
                            ApiError::bad_request(
                                ErrorCode::InvalidQuery,
                                format!(
                                    "types: `{}` is not one of case, survivor, referral, training, partner.",
                                    t.trim()
                                ),
                            )
                        })
                })
                .collect::<ApiResult<_>>()?,
        ),
    };
    let cases = match policy::case_scope(&user) {
        Ok(CaseScope::All) => "all",
        Ok(CaseScope::AssignedTo(_)) => "assigned",
        Err(_) => "none",
    };
    let survivors = match policy::survivor_scope(&user) {
        Ok(SurvivorScope::All) => "all",
        Ok(SurvivorScope::AssignedTo(_)) => "assigned",
        Ok(SurvivorScope::ThroughCasesOf(_)) => "through_cases",
        Err(_) => "none",
    };
    let partner = policy::partner_scope(&user);
    let referrals = match (policy::allows(user.role, Permission::ReadReferrals), partner) {
        (false, _) => "none",
        (true, Some(_)) => "own",
        (true, None) => "all",
    };
    let partners = if partner.is_some() { "own" } else { "all" };
    let mut conn = state.conn().await?;
    let rows: Vec<Row> = crate::db::prepared(FEED)
        .bind::<Text, _>(&from.xid)
        .bind::<BigInt, _>(from.seq)
        .bind::<Text, _>(cases)
        .bind::<Text, _>(survivors)
        .bind::<Text, _>(referrals)
        .bind::<Bool, _>(policy::allows(user.role, Permission::ReadTrainings))
        .bind::<Text, _>(partners)
        .bind::<Uuid, _>(user.id)
        .bind::<Nullable<Uuid>, _>(partner.map(|p| p.0))
        .bind::<Nullable<Array<Text>>, _>(types)
        .bind::<BigInt, _>(WINDOW)
        .load(&mut conn)
        .await?;
    // Up to `limit` visible entries; the position moves past every entry looked at before the
    // last one returned (or past the whole window when fewer were visible).
    let mut next = from;
    let mut data = Vec::new();
    for r in rows {
        if data.len() as i64 == limit {
            break;
        }
        next = Position { xid: r.xid, seq: r.seq };
        if r.visible {
            data.push(Change {
                cursor: encode_cursor(&next),
                resource_type: r.resource_type,
                id: r.resource_id,
                op: r.op,
                changed_at: r.changed_at,
            });
        }
    }
    Ok(HttpResponse::Ok().json(ChangePage {
        data,
        next_cursor: encode_cursor(&next),
    }))
}
