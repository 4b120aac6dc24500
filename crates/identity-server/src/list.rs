//! `identity-server list`: identities matching the criteria, as a table or
//! as JSON lines (the admin JSON, without credential configs), or with
//! `--count` only how many match.

use std::io::{self, BufWriter, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use identity_core::{
    CredentialInclude, Identity, IdentityManager, ListParams, ManagerConfig, PageSize, TenantId,
};

use crate::cli::ListArgs;
use crate::export::{closed_or, criteria};

pub(crate) async fn run(args: ListArgs) -> Result<ExitCode, String> {
    let store = crate::store::open_persistent(&args.store.database, "list", false).await?;
    let schemas = crate::schemas(&args.store)?;
    let manager = IdentityManager::builder(store, Arc::new(schemas))
        .config(ManagerConfig::default().with_base_url(args.base_url.clone()))
        .build();
    let page_size = PageSize::new(usize::from(args.page_size))
        .ok_or_else(|| format!("--page-size {} is not within 1..=500", args.page_size))?;
    let mut params = criteria(ListParams::default(), &args.criteria).with_page_size(page_size);
    let mut out = BufWriter::new(io::stdout().lock());
    if args.count {
        let total = manager
            .count(TenantId::DEFAULT, params)
            .await
            .map_err(|e| format!("cannot count identities: {e}"))?;
        return match writeln!(out, "{total}").and_then(|()| out.flush()) {
            Ok(()) => Ok(ExitCode::SUCCESS),
            Err(e) => closed_or(e),
        };
    }
    let json = args.output == "json";
    let mut left = args.limit.unwrap_or(u64::MAX);
    let mut widths: Option<usize> = None;
    while left > 0 {
        let page = manager
            .list(TenantId::DEFAULT, params.clone())
            .await
            .map_err(|e| format!("cannot list identities: {e}"))?;
        let shown = page
            .identities
            .iter()
            .take(usize::try_from(left).unwrap_or(usize::MAX));
        let written = if json {
            shown.clone().try_for_each(|identity| {
                serde_json::to_writer(
                    &mut out,
                    &manager.to_json(identity, CredentialInclude::None),
                )
                .map_err(io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
            })
        } else {
            // The schema column is as wide as the first page needs.
            let width = *widths.get_or_insert_with(|| {
                page.identities
                    .iter()
                    .map(|i| i.schema_id.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max("SCHEMA ID".len())
            });
            let header = if params.page_token.is_none() {
                writeln!(
                    out,
                    "{:<36}  {:<8}  {:<width$}  VERIFIABLE ADDRESSES",
                    "ID", "STATE", "SCHEMA ID"
                )
            } else {
                Ok(())
            };
            header.and_then(|()| shown.clone().try_for_each(|i| row(&mut out, i, width)))
        };
        if let Err(e) = written {
            return closed_or(e);
        }
        left = left.saturating_sub(shown.count() as u64);
        match page.next_page_token {
            Some(token) => params = params.with_page_token(Some(token)),
            None => break,
        }
    }
    match out.flush() {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => closed_or(e),
    }
}

/// One table row: id, state, schema id, verifiable addresses.
fn row(out: &mut impl io::Write, identity: &Identity, width: usize) -> io::Result<()> {
    let addresses: Vec<&str> = identity
        .verifiable_addresses
        .iter()
        .map(|a| a.value.as_str())
        .collect();
    let line = format!(
        "{:<36}  {:<8}  {:<width$}  {}",
        identity.id.to_string(),
        identity.state.as_str(),
        identity.schema_id,
        addresses.join(", ")
    );
    writeln!(out, "{}", line.trim_end())
}
