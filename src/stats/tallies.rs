//! Upkeep of the tallies the dashboard and the indicator report read (migration `tallies`): their
//! shards folded together once their writers have moved on.

use diesel::{QueryableByName, sql_types::BigInt, sql_types::Integer};
use diesel_async::RunQueryDsl;

use crate::{error::ApiError, state::AppState};

/// Rows folded per statement (each its own short transaction).
const BATCH: i32 = 10_000;
/// At most this many statements per call: the rest waits for the next round.
const ROUNDS: usize = 100;

#[derive(QueryableByName)]
struct Folded {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Folds the tallies' shards into one row per key (`tally_merge_shards`); returns the rows folded.
pub async fn merge_shards(state: &AppState) -> Result<u64, ApiError> {
    let mut conn = state.conn().await?;
    let mut total = 0;
    for _ in 0..ROUNDS {
        let folded: Folded = crate::db::prepared("SELECT tally_merge_shards($1) AS n")
            .bind::<Integer, _>(BATCH)
            .get_result(&mut conn)
            .await?;
        total += u64::try_from(folded.n).unwrap_or(0);
        if folded.n < i64::from(BATCH) {
            break;
        }
    }
    Ok(total)
}
