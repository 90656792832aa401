use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::{
    prelude::*,
    sql_types::{Integer, Nullable, Timestamptz},
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::UserFilter,
    models::{NewUser, UserChanges, UserRow},
};
use crate::{
    db::{escape_like, lower, schema::users},
    ids::UserId,
};

pub async fn find(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<UserRow> {
    users::table.find(id).select(UserRow::as_select()).first(conn).await
}

/// The row, locked until the end of the transaction, so read-check-write cannot race.
pub async fn find_for_update(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<UserRow> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn find_by_email(conn: &mut AsyncPgConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(lower(users::email).eq(email.to_lowercase()))
        .select(UserRow::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn insert(conn: &mut AsyncPgConnection, user: &NewUser<'_>) -> QueryResult<UserRow> {
    diesel::insert_into(users::table)
        .values(user)
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

/// Applies `changes` and bumps the version.
pub async fn update(conn: &mut AsyncPgConnection, id: UserId, changes: &UserChanges) -> QueryResult<UserRow> {
    diesel::update(users::table.find(id))
        .set((changes, users::version.eq(users::version + 1)))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &UserFilter,
    after: Option<UserId>,
    limit: i64,
) -> QueryResult<Vec<UserRow>> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(org) = filter.organization_id {
        query = query.filter(users::organization_id.eq(org));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        let pattern = format!("%{}%", escape_like(q));
        query = query.filter(
            users::email
                .ilike(pattern.clone())
                .or(users::display_name.ilike(pattern)),
        );
    }
    if let Some(after) = after {
        query = query.filter(users::id.lt(after));
    }
    query.order(users::id.desc()).limit(limit + 1).load(conn).await
}

/// Counts a failed login; the `threshold`-th failure in a row locks the account for `lock_for`
/// and restarts the count. Returns the lock's end when this failure set one.
pub async fn record_failed_login(
    conn: &mut AsyncPgConnection,
    id: UserId,
    threshold: i32,
    lock_for: Duration,
) -> QueryResult<Option<DateTime<Utc>>> {
    let locks = users::failed_logins.ge(threshold - 1);
    let until = Utc::now() + chrono::Duration::from_std(lock_for).unwrap_or(chrono::Duration::minutes(15));
    // One statement, so concurrent failures cannot lose a count.
    let (count, locked_until): (i32, Option<DateTime<Utc>>) = diesel::update(users::table.find(id))
        .set((
            users::failed_logins
                .eq(diesel::dsl::case_when(locks, 0.into_sql::<Integer>()).otherwise(users::failed_logins + 1)),
            users::locked_until.eq(
                diesel::dsl::case_when(locks, Some(until).into_sql::<Nullable<Timestamptz>>())
                    .otherwise(users::locked_until),
            ),
        ))
        .returning((users::failed_logins, users::locked_until))
        .get_result(conn)
        .await?;
    Ok(locked_until.filter(|_| count == 0))
}

pub async fn record_login(conn: &mut AsyncPgConnection, id: UserId) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::failed_logins.eq(0),
            users::locked_until.eq(None::<DateTime<Utc>>),
            users::last_login_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await
        .map(|_| ())
}
