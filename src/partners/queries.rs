use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::{
    dto::PartnerFilter,
    models::{NewPartner, PartnerChanges, PartnerRow},
};
use crate::{
    db::{escape_like, schema::partners},
    ids::PartnerId,
};

pub async fn find(conn: &mut AsyncPgConnection, id: PartnerId) -> QueryResult<PartnerRow> {
    partners::table
        .find(id)
        .select(PartnerRow::as_select())
        .first(conn)
        .await
}

pub async fn find_for_update(conn: &mut AsyncPgConnection, id: PartnerId) -> QueryResult<PartnerRow> {
    partners::table
        .find(id)
        .select(PartnerRow::as_select())
        .for_update()
        .first(conn)
        .await
}

pub async fn insert(conn: &mut AsyncPgConnection, partner: &NewPartner) -> QueryResult<PartnerRow> {
    diesel::insert_into(partners::table)
        .values(partner)
        .returning(PartnerRow::as_returning())
        .get_result(conn)
        .await
}

pub async fn update(conn: &mut AsyncPgConnection, id: PartnerId, changes: &PartnerChanges) -> QueryResult<PartnerRow> {
    diesel::update(partners::table.find(id))
        .set((changes, partners::version.eq(partners::version + 1)))
        .returning(PartnerRow::as_returning())
        .get_result(conn)
        .await
}

/// `only` restricts the list to one organisation (a partner user's own).
pub async fn list(
    conn: &mut AsyncPgConnection,
    filter: &PartnerFilter,
    only: Option<PartnerId>,
    after: Option<PartnerId>,
    limit: i64,
) -> QueryResult<Vec<PartnerRow>> {
    let mut query = partners::table.select(PartnerRow::as_select()).into_boxed();
    if let Some(id) = only {
        query = query.filter(partners::id.eq(id));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(partners::kind.eq(kind));
    }
    if let Some(county) = filter.county {
        query = query.filter(partners::counties.contains(vec![county]));
    }
    if let Some(active) = filter.active {
        query = query.filter(partners::active.eq(active));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        query = query.filter(partners::name.ilike(format!("%{}%", escape_like(q))));
    }
    if let Some(after) = after {
        query = query.filter(partners::id.lt(after));
    }
    query.order(partners::id.desc()).limit(limit + 1).load(conn).await
}

/// How many of these (distinct) ids are partner organisations.
pub async fn count_existing(conn: &mut AsyncPgConnection, ids: &[PartnerId]) -> QueryResult<usize> {
    let n: i64 = partners::table
        .filter(partners::id.eq_any(ids))
        .count()
        .get_result(conn)
        .await?;
    Ok(usize::try_from(n).unwrap_or(0))
}
