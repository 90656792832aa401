//! The audit entries of reads, written together: each HTTP worker has one writer that inserts
//! the entries of every read waiting at that moment in one statement (a group commit), then the
//! next batch, so concurrent reads share one insert and one commit instead of one each. Every
//! read still answers only once its own entry is committed: no read goes unaudited. An entry
//! the batch could not write is handed back and written by its request, with its own error.
//! Entries of changes are not batched: they belong to the transaction of the change.

use std::{cell::RefCell, sync::Arc};

use tokio::sync::{mpsc, oneshot};

use super::AuditEvent;
use crate::{error::ApiResult, state::AppState};

/// The entries one request waits for, and where it hears back: `None` written, `Some` not.
type Waiting = (Vec<AuditEvent>, oneshot::Sender<Option<Vec<AuditEvent>>>);

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
            Ok(None) => return Ok(()),
            Ok(Some(events)) => events,
            // The writer stopped with the entries (its runtime is ending): write them here.
            Err(_) => return Err(crate::error::ApiError::unavailable("the audit writer stopped")),
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
        let written = match state.conn().await {
            Ok(mut conn) => super::InsertAll::of(&all)
                .execute_on(&mut conn)
                .await
                .map_err(|e| e.to_string()),
            Err(err) => Err(err.to_string()),
        };
        match written {
            Ok(()) => {
                for tx in waiting {
                    let _ = tx.send(None);
                }
            }
            Err(err) => {
                log::warn!(
                    "could not write {} audit entries of reads together ({err}); each request writes its own",
                    all.len()
                );
                for (tx, n) in waiting.into_iter().zip(sizes) {
                    let rest = all.split_off(n);
                    let _ = tx.send(Some(std::mem::replace(&mut all, rest)));
                }
            }
        }
    }
}
