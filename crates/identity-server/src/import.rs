//! `identity-server import FILE|-`: creates identities from Kratos create
//! bodies (the import body: `credentials.password.config.hashed_password`
//! for imported hashes), in batches through the manager's batch create.
//!
//! Standard output gets one JSON line per entry, in order:
//! `{"entry":1,"line":1,"action":"create","identity":"<id>"}`, or
//! `{"entry":2,"line":2,"action":"error","error":{<Kratos error>}}`.
//! Standard error gets the progress, one line per failed entry and a
//! summary. The exit status is 1 when any entry failed.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use identity_core::{
    BATCH_MAX_PLAINTEXT, BatchEntry, BatchOutcome, CreateIdentityBody, Error, ErrorKind,
    IdentityManager, TenantId, TimeOrderedIds,
};
use serde_json::{Value, json};

use crate::cli::ImportArgs;
use crate::entries::{Entry, EntryReader};
use crate::progress::Progress;

/// A batch is sent once it holds this many bytes of entries, even when it
/// has fewer than `--batch-size` entries: memory stays bounded by this,
/// not by the batch size times the entry limit.
const BATCH_BYTES: usize = 16 << 20;

pub(crate) async fn run(args: ImportArgs) -> Result<ExitCode, String> {
    let (input, size): (Box<dyn BufRead + Send>, Option<u64>) = if args.file == "-" {
        (Box::new(BufReader::new(io::stdin())), None)
    } else {
        let file = File::open(&args.file).map_err(|e| format!("cannot open {}: {e}", args.file))?;
        let size = file.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 16, file)), size)
    };
    let store = crate::store::open_persistent(&args.store.database, "import", true).await?;
    let schemas = crate::schemas(&args.store)?;
    // Time-ordered ids: imported rows land at the end of the id index,
    // and a later export lists them in the order of the file.
    let mut builder =
        IdentityManager::builder(store, Arc::new(schemas)).ids(Arc::new(TimeOrderedIds));
    if let Some(permits) = args.hash_concurrency {
        builder = builder.hash_concurrency(permits);
    }
    let manager = builder.build();
    let mut import = Import {
        manager,
        dry_run: args.dry_run,
        out: BufWriter::new(io::stdout().lock()),
        progress: Progress::new(size),
        created: 0,
        failed: 0,
    };
    // Reading is blocking I/O; it happens between batches, on this
    // command's own runtime, where nothing else waits.
    let mut reader = EntryReader::new(input, args.max_entry_bytes);
    let batch_size = usize::from(args.batch_size);
    let mut batch: Vec<Slot> = Vec::new();
    let mut batch_bytes = 0;
    let mut plaintexts = 0;
    let mut fatal = None;
    loop {
        let entry = match reader.next_entry() {
            Ok(Some(entry)) => entry,
            Ok(None) => break,
            Err(e) => {
                fatal = Some(e);
                break;
            }
        };
        batch_bytes += entry.text.as_ref().map_or(0, Vec::len);
        let slot = Slot::parse(entry);
        if slot
            .body
            .as_ref()
            .is_ok_and(CreateIdentityBody::has_plaintext_password)
        {
            plaintexts += 1;
        }
        batch.push(slot);
        // Failed entries count too: however many there are, the slots
        // waiting for a batch stay bounded. A batch may hash at most
        // BATCH_MAX_PLAINTEXT passwords: it is sent when it has that many.
        let full = batch.len() >= batch_size || plaintexts >= BATCH_MAX_PLAINTEXT;
        if full || batch_bytes >= BATCH_BYTES {
            plaintexts = 0;
            let stop = import.send(std::mem::take(&mut batch)).await?;
            batch_bytes = 0;
            import.progress.update(
                import.created + import.failed,
                import.failed,
                reader.bytes_read(),
            );
            if let Some(stop) = stop {
                fatal = Some(stop);
                break;
            }
        }
    }
    // What was read before a structural error is still imported.
    if !batch.is_empty() {
        let stop = import.send(batch).await?;
        fatal = fatal.or(stop);
    }
    import.out.flush().map_err(write_error)?;
    let Import {
        created,
        failed,
        dry_run,
        mut progress,
        ..
    } = import;
    let summary = if dry_run {
        format!(
            "dry run: {created} of {} entries would be imported, {failed} would fail; nothing was written",
            created + failed
        )
    } else {
        format!(
            "imported {created} of {} entries, {failed} failed",
            created + failed
        )
    };
    progress.println(&summary);
    if let Some(e) = fatal {
        return Err(format!("import stopped: {e}"));
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn write_error(e: io::Error) -> String {
    format!("cannot write the report to standard output: {e}")
}

/// An entry read and parsed, waiting for its batch.
struct Slot {
    index: u64,
    line: u64,
    body: Result<CreateIdentityBody, Error>,
}

impl Slot {
    fn parse(entry: Entry) -> Slot {
        let body = entry
            .text
            .map_err(Error::invalid)
            .and_then(|text| {
                serde_json::from_slice::<Value>(&text)
                    .map_err(|e| Error::invalid(format!("the entry is not JSON: {e}")))
            })
            .and_then(CreateIdentityBody::from_json);
        Slot {
            index: entry.index,
            line: entry.line,
            body,
        }
    }
}

struct Import<W: io::Write> {
    manager: IdentityManager,
    dry_run: bool,
    out: W,
    progress: Progress,
    created: u64,
    failed: u64,
}

impl<W: io::Write> Import<W> {
    /// Creates the batch's parsed entries in one batch call and reports
    /// every entry in order. `Some` when the import must stop: the
    /// database failed (every later batch would too).
    async fn send(&mut self, slots: Vec<Slot>) -> Result<Option<String>, String> {
        let mut entries = Vec::new();
        let mut positions = Vec::with_capacity(slots.len());
        let mut reports: Vec<(u64, u64, Result<Option<uuid::Uuid>, Error>)> = Vec::new();
        for slot in slots {
            match slot.body {
                Ok(create) => {
                    positions.push(reports.len());
                    reports.push((slot.index, slot.line, Ok(None)));
                    entries.push(Some(BatchEntry {
                        create,
                        patch_id: None,
                    }));
                }
                Err(e) => reports.push((slot.index, slot.line, Err(e))),
            }
        }
        let mut stop = None;
        if !entries.is_empty() {
            let outcomes = if self.dry_run {
                self.manager
                    .batch_create_dry_run(TenantId::DEFAULT, entries)
                    .await
            } else {
                self.manager.batch_create(TenantId::DEFAULT, entries).await
            };
            match outcomes {
                Ok(outcomes) => {
                    for (at, outcome) in positions.iter().zip(outcomes) {
                        reports[*at].2 = match outcome {
                            BatchOutcome::Created { id, .. } => Ok(Some(id)),
                            BatchOutcome::Failed { error, .. } => Err(error),
                            BatchOutcome::Skipped => Ok(None),
                        };
                    }
                }
                // The whole batch was refused: each of its entries failed
                // for that reason.
                Err(e) => {
                    if matches!(e.kind(), ErrorKind::Unavailable | ErrorKind::Internal) {
                        stop = Some(format!("the database failed: {e}"));
                    }
                    let text = e.reason().map_or_else(|| e.to_string(), str::to_owned);
                    for at in &positions {
                        reports[*at].2 = Err(match e.kind() {
                            ErrorKind::InvalidInput | ErrorKind::Validation | ErrorKind::Schema => {
                                Error::invalid(text.clone())
                            }
                            _ => Error::Unavailable {
                                message: text.clone(),
                                source: None,
                            },
                        });
                    }
                }
            }
        }
        for (index, line, result) in reports {
            self.report(index, line, result)?;
        }
        Ok(stop)
    }

    fn report(
        &mut self,
        index: u64,
        line: u64,
        result: Result<Option<uuid::Uuid>, Error>,
    ) -> Result<(), String> {
        let record = match result {
            Ok(id) => {
                self.created += 1;
                let mut record = json!({"entry": index, "line": line, "action": "create"});
                if let (Some(id), false) = (id, self.dry_run) {
                    record["identity"] = json!(id);
                }
                record
            }
            Err(error) => {
                self.failed += 1;
                let (_, envelope) = identity_http::envelope_of(&error);
                let body = envelope["error"].clone();
                self.progress
                    .println(&format!("entry {index} (line {line}): {}", describe(&body)));
                json!({"entry": index, "line": line, "action": "error", "error": body})
            }
        };
        serde_json::to_writer(&mut self.out, &record).map_err(|e| write_error(e.into()))?;
        self.out.write_all(b"\n").map_err(write_error)
    }
}

/// One line for a Kratos error: its message, its reason (violations
/// joined by `; `), and what a conflict collided with.
fn describe(error: &Value) -> String {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let mut out = text(error, "message").unwrap_or_default();
    if let Some(reason) = text(error, "reason") {
        out.push_str(": ");
        out.push_str(&reason.replace('\n', "; "));
    }
    if let Some(conflict) = error.get("details").and_then(|d| d.get("conflict")) {
        let mut what = text(conflict, "field").unwrap_or_default();
        if let Some(kind) = text(conflict, "type").or_else(|| text(conflict, "via")) {
            what.push(' ');
            what.push_str(&kind);
        }
        if let Some(value) = text(conflict, "value") {
            what.push_str(": ");
            what.push_str(&value);
        }
        out.push_str(&format!(" ({what})"));
    }
    out
}
