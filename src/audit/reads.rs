//! The audit entries of reads, written together: each HTTP worker has one writer that inserts
//! the entries of every read waiting at that moment in one statement (a group commit), then the
//! next batch, so concurrent reads share one insert and one commit instead of one each. Every
//! read still answers only once its own entry is committed: no read goes unaudited. An entry
//! the batch could not write is handed back and written by its request, with its own error.
//! Entries of changes are not batched: they belong to the transaction of the change.

use std::{cell::RefCell, sync::Arc};

use tokio::sync::{mpsc, oneshot};

use super::AuditEvent;
use crate::{
    error::{ApiError, ApiResult},
    state::AppState,
};

/// What a request hears back about its entries.
enum Outcome {
    Written,
    /// No connection (or the insert did not answer in time): the read fails with 503.
    Unavailable(String),
    /// The statement failed: the request writes its own entries, and meets its own error.
    HandedBack(Vec<AuditEvent>),
}

/// The entries one request waits for, and where it hears back.
type Waiting = (Vec<AuditEvent>, oneshot::Sender<Outcome>);

/// At most this many entries in one statement (each is eight array elements).
const MAX_BATCH: usize = 2000;

thread_local! {
    static WRITER: RefCell<Option<(u64, mpsc::UnboundedSender<Waiting>)>> = const { RefCell::new(None) };
}

/// Records the entries of a read (e.g. one, or one per record of a page) and returns once they
/// are committed.
pub async fn record_reads(state: &Arc<AppState>, events: Vec<AuditEvent>) -> ApiResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let (tx, rx) = oneshot::channel();
    let events = match writer(state).send((events, tx)) {
        Ok(()) => match rx.await {
            Ok(Outcome::Written) => return Ok(()),
            Ok(Outcome::Unavailable(why)) => return Err(ApiError::unavailable(why)),
            Ok(Outcome::HandedBack(events)) => events,
            // The writer stopped holding the entries (its runtime is ending): the read is not
            // answered, so nothing goes unaudited.
            Err(_) => return Err(ApiError::unavailable("the audit writer stopped")),
        },
        Err(mpsc::error::SendError((events, _))) => events,
    };
    let mut conn = state.conn().await?;
    Ok(AuditEvent::record_all(events, &mut conn).await?)
}

/// This thread's writer for `state`, started when there is none (or it stopped).
fn writer(state: &Arc<AppState>) -> mpsc::UnboundedSender<Waiting> {
    WRITER.with(|cell| {
        let mut cell = cell.borrow_mut();
        if let Some((id, tx)) = &*cell
            && *id == state.id()
            && !tx.is_closed()
        {
            return tx.clone();
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(state.clone(), rx));
        *cell = Some((state.id(), tx.clone()));
        tx
    })
}

async fn run(state: Arc<AppState>, mut rx: mpsc::UnboundedReceiver<Waiting>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut rows = batch[0].0.len();
        while rows < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => {
                    rows += more.0.len();
                    batch.push(more);
                }
                Err(_) => break,
            }
        }
        let (events, waiting): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let sizes: Vec<usize> = events.iter().map(Vec::len).collect();
        let mut all: Vec<AuditEvent> = events.into_iter().flatten().collect();
        // Bounded: a connection whose server vanished without closing it must not hold every
        // read of this worker. An insert cut off may have been committed: its entries are
        // handed back, so an entry can be written twice, never lost.
        let written = match state.conn().await {
            Err(err) => Err(Outcome::Unavailable(err.to_string())),
            Ok(mut conn) => {
                let insert = super::InsertAll::of(&all).execute_on(&mut conn);
                match tokio::time::timeout(state.config.db_timeout, insert).await {
                    Ok(done) => done.map_err(|err| {
                        log::warn!("could not write {} audit entries of reads together ({err})", all.len());
                        Outcome::HandedBack(Vec::new())
                    }),
                    Err(_) => {
                        // Its answer may still come: the connection is not reused.
                        let _ = deadpool::managed::Object::take(conn);
                        log::warn!("the audit insert of {} reads did not answer in time", all.len());
                        Err(Outcome::HandedBack(Vec::new()))
                    }
                }
            }
        };
        match written {
            Ok(()) => {
                for tx in waiting {
                    let _ = tx.send(Outcome::Written);
                }
            }
            Err(Outcome::Unavailable(why)) => {
                for tx in waiting {
                    let _ = tx.send(Outcome::Unavailable(why.clone()));
                }
            }
            Err(_) => {
                for (tx, n) in waiting.into_iter().zip(sizes) {
                    let rest = all.split_off(n);
                    let _ = tx.send(Outcome::HandedBack(std::mem::replace(&mut all, rest)));
                }
            }
        }
    }
}
