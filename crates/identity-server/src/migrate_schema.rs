//! `identity-server migrate-schema --from A --to B (--dry-run | --apply)`:
//! moves the identities of schema A to schema B page by page
//! ([`IdentityManager::migrate_schema`]), or with `--dry-run` only reports
//! what a move would do.
//!
//! Standard output gets one JSON line per identity, as the
//! `POST /admin/identities/schema-migrations` route answers each element of
//! `identities`; standard error a line per page (the counts so far and the
//! cursor to resume from with `--after`) and a summary. The exit status is
//! 1 when some identity was (or, in a dry run, would be) left on A:
//! invalid against B, colliding with another identity, or changed by
//! others too often to move.

use std::io::{self, BufWriter, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use identity_core::{
    IdentityManager, ManagerConfig, MigrationCounts, MigrationOutcome, PageSize, SchemaMigration,
    TenantId,
};

use crate::cli::MigrateSchemaArgs;
use crate::export::closed_or;

pub(crate) async fn run(args: MigrateSchemaArgs) -> Result<ExitCode, String> {
    let store =
        crate::store::open_persistent(&args.store.database, "migrate-schema", false).await?;
    let schemas = crate::schemas(&args.store)?;
    let manager = IdentityManager::builder(store, Arc::new(schemas))
        .config(ManagerConfig::default())
        .build();
    let page_size = PageSize::new(usize::from(args.page_size))
        .ok_or_else(|| format!("--page-size {} is not within 1..=500", args.page_size))?;
    let mut after = args.after;
    let mut total = MigrationCounts::default();
    let mut left_on_from;
    // Identities left on `from` for a reason of their own (not deleted or
    // moved by someone else meanwhile).
    let mut problems = 0_u64;
    let mut out = BufWriter::new(io::stdout().lock());
    loop {
        let request = SchemaMigration::new(args.from.clone(), args.to.clone())
            .with_apply(args.apply)
            .with_after(after)
            .with_page_size(page_size);
        let page = manager
            .migrate_schema(TenantId::DEFAULT, request)
            .await
            .map_err(|e| match after {
                Some(cursor) => format!("{e} (resume with --after {cursor})"),
                None => e.to_string(),
            })?;
        for entry in &page.entries {
            if matches!(
                entry.outcome,
                MigrationOutcome::Invalid(_)
                    | MigrationOutcome::Colliding(_)
                    | MigrationOutcome::Contended
            ) {
                problems += 1;
            }
            let written =
                serde_json::to_writer(&mut out, &identity_http::migration_entry_json(entry))
                    .map_err(io::Error::from)
                    .and_then(|()| out.write_all(b"\n"));
            if let Err(e) = written {
                return closed_or(e);
            }
        }
        if let Err(e) = out.flush() {
            return closed_or(e);
        }
        total += page.counts;
        left_on_from = page.on_from_schema;
        after = page.next;
        match after {
            Some(cursor) => eprintln!("{}; resume with --after {cursor}", counts_text(&total)),
            None => break,
        }
    }
    eprintln!(
        "{} {}: {}; {left_on_from} identities use {} now",
        if args.apply { "migrated" } else { "dry run of" },
        format_args!("{} -> {}", args.from, args.to),
        counts_text(&total),
        args.from,
    );
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn counts_text(c: &MigrationCounts) -> String {
    format!(
        "{} scanned, {} valid, {} invalid, {} colliding, {} moved, {} skipped, {} re-checked",
        c.scanned, c.valid, c.invalid, c.colliding, c.moved, c.skipped, c.rechecked
    )
}
