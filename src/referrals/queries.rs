use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use diesel::{
    dsl::{not, sql},
    prelude::*,
    sql_types::{Bool, Integer, Nullable, Text},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::{Loaded, ReferralFilter, Windows},
    models::{ReferralContent, ReferralRow, ReferralStatus, StatusChange, Urgency},
};
use crate::{
    db::schema::{cases, partners, referrals},
    ids::{PartnerId, ReferralId},
    prosecution::models::Sex,
    vocab::County,
};

/// What possible matches are looked up by: pseudonymous details only.
#[derive(Debug, Clone)]
pub struct ChildKey {
    pub alias: String,
    pub sex: Option<Sex>,
    /// Known, or estimated from the age at submission.
    pub birth_year: Option<i32>,
    pub county: County,
}

impl ChildKey {
    pub fn of(row: &ReferralRow) -> Self {
        use chrono::Datelike;
        let submitted_year = (row.created_at + Duration::hours(3)).year();
        ChildKey {
            alias: row.child_alias.clone(),
            sex: row.sex,
            birth_year: row.birth_year.or(row.age.map(|age| submitted_year - age)),
            county: row.county,
        }
    }
}

/// Inserts a referral unless the organisation already sent one with its `external_id`: `None`
/// then (also when a concurrent request inserted it first).
pub async fn insert_new(conn: &mut AsyncPgConnection, row: &ReferralRow) -> QueryResult<Option<ReferralRow>> {
    diesel::insert_into(referrals::table)
        .values(row)
        .on_conflict((referrals::partner_id, referrals::external_id))
        .do_nothing()
        .returning(ReferralRow::as_returning())
        .get_result(conn)
        .await
        .optional()
}

pub async fn lock_by_external_id(
    conn: &mut AsyncPgConnection,
    partner: PartnerId,
    external_id: &str,
) -> QueryResult<ReferralRow> {
    referrals::table
        .filter(referrals::partner_id.eq(partner))
        .filter(referrals::external_id.eq(external_id))
        .select(ReferralRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn lock(conn: &mut AsyncPgConnection, id: ReferralId) -> QueryResult<ReferralRow> {
    referrals::table
        .find(id)
        .select(ReferralRow::as_select())
        .for_update()
        .first(conn)
        .await
}

/// The organisation a referral belongs to (to check the caller's reach before anything else).
pub async fn partner_of(conn: &mut AsyncPgConnection, id: ReferralId) -> QueryResult<PartnerId> {
    referrals::table
        .find(id)
        .select(referrals::partner_id)
        .first(conn)
        .await
}

type Joined = (ReferralRow, String, Option<String>);

pub async fn find(conn: &mut AsyncPgConnection, id: ReferralId) -> QueryResult<Loaded> {
    let (row, partner_name, case_reference): Joined = referrals::table
        .inner_join(partners::table)
        .left_join(cases::table)
        .filter(referrals::id.eq(id))
        .select((ReferralRow::as_select(), partners::name, cases::reference.nullable()))
        .first(conn)
        .await?;
    Ok(Loaded {
        row,
        partner_name,
        case_reference,
    })
}

pub async fn update_content(
    conn: &mut AsyncPgConnection,
    id: ReferralId,
    content: &ReferralContent,
) -> QueryResult<ReferralRow> {
    diesel::update(referrals::table.find(id))
        .set((content, referrals::version.eq(referrals::version + 1)))
        .returning(ReferralRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn change_status(
    conn: &mut AsyncPgConnection,
    id: ReferralId,
    change: &StatusChange,
) -> QueryResult<ReferralRow> {
    diesel::update(referrals::table.find(id))
        .set((change, referrals::version.eq(referrals::version + 1)))
        .returning(ReferralRow::as_returning())
        .get_result(conn)
        .await
}

/// The start of a day in East Africa Time, as an instant (`None` past the calendar's ends).
pub fn day_start(day: NaiveDate) -> Option<DateTime<Utc>> {
    day.and_time(NaiveTime::MIN)
        .and_utc()
        .checked_sub_signed(Duration::hours(3))
}

/// One page of referrals, newest first; `scope` limits a partner user to its organisation.
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &ReferralFilter,
    scope: Option<PartnerId>,
    windows: Windows,
    after: Option<ReferralId>,
    limit: i64,
) -> QueryResult<Vec<Loaded>> {
    let mut query = referrals::table
        .inner_join(partners::table)
        .left_join(cases::table)
        .select((ReferralRow::as_select(), partners::name, cases::reference.nullable()))
        .into_boxed();
    if let Some(partner) = scope.or(filter.partner_id) {
        query = query.filter(referrals::partner_id.eq(partner));
    }
    if let Some(own) = scope {
        // A partner naming another organisation sees nothing rather than an error that confirms it.
        if filter.partner_id.is_some_and(|p| p != own) {
            return Ok(Vec::new());
        }
    }
    if let Some(status) = filter.status {
        query = query.filter(referrals::status.eq(status));
    }
    if let Some(urgency) = filter.urgency {
        query = query.filter(referrals::urgency.eq(urgency));
    }
    if let Some(county) = filter.county {
        query = query.filter(referrals::county.eq(county));
    }
    if let Some(external_id) = &filter.external_id {
        query = query.filter(referrals::external_id.eq(external_id.trim().to_string()));
    }
    // Days past the calendar's ends bound nothing (the handler has refused nonsense ranges).
    if let Some(start) = filter.from.and_then(day_start) {
        query = query.filter(referrals::created_at.ge(start));
    }
    if let Some(end) = filter
        .to
        .and_then(|to| to.checked_add_days(chrono::Days::new(1)))
        .and_then(day_start)
    {
        query = query.filter(referrals::created_at.lt(end));
    }
    if let Some(overdue) = filter.overdue {
        let now = Utc::now();
        let late = referrals::status.eq(ReferralStatus::Submitted).and(
            referrals::urgency
                .eq(Urgency::Urgent)
                .and(referrals::created_at.lt(now - windows.urgent))
                .or(referrals::urgency
                    .eq(Urgency::Emergency)
                    .and(referrals::created_at.lt(now - windows.emergency))),
        );
        query = if overdue {
            query.filter(late)
        } else {
            query.filter(not(late))
        };
    }
    if let Some(after) = after {
        query = query.filter(referrals::id.lt(after));
    }
    let rows: Vec<Joined> = query.order(referrals::id.desc()).limit(limit + 1).load(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(row, partner_name, case_reference)| Loaded {
            row,
            partner_name,
            case_reference,
        })
        .collect())
}

/// Other open referrals (`submitted`, `acknowledged`) that may be the same child.
pub async fn possible_matches(
    conn: &mut AsyncPgConnection,
    not: ReferralId,
    child: &ChildKey,
) -> QueryResult<Vec<ReferralRow>> {
    let mut query = referrals::table
        .select(ReferralRow::as_select())
        .filter(referrals::id.ne(not))
        .filter(referrals::status.eq_any([ReferralStatus::Submitted, ReferralStatus::Acknowledged]))
        .filter(referrals::county.eq(child.county))
        .filter(
            sql::<Bool>("haki_same_child_name(referrals.child_alias, ")
                .bind::<Text, _>(child.alias.clone())
                .sql(")"),
        )
        .into_boxed();
    if let Some(sex) = child.sex.filter(|s| *s != Sex::Unknown) {
        query = query.filter(
            referrals::sex
                .is_null()
                .or(referrals::sex.eq(Sex::Unknown))
                .or(referrals::sex.eq(sex)),
        );
    }
    if let Some(year) = child.birth_year {
        query = query.filter(
            sql::<Bool>(
                "coalesce(abs(coalesce(referrals.birth_year, \
                 extract(year FROM referrals.created_at AT TIME ZONE 'Africa/Nairobi')::int - referrals.age) - ",
            )
            .bind::<Nullable<Integer>, _>(Some(year))
            .sql(") <= 1, true)"),
        );
    }
    query.order(referrals::id.desc()).limit(10).load(conn).await
}
