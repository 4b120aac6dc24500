//! `identity-server export`: every identity (or those matching the
//! criteria) as one JSON line in the import body's shape, ascending by id,
//! so that `export | import` into an empty database and `export` again
//! gives the same lines (see `IdentityManager::to_import_json` for what an
//! import cannot carry over: ids and timestamps).

use std::io::{self, BufWriter, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use identity_core::{CredentialInclude, IdentityManager, ListParams, PageSize, TenantId};

use crate::cli::{Criteria, ExportArgs};

pub(crate) async fn run(args: ExportArgs) -> Result<ExitCode, String> {
    let store = crate::store::open_persistent(&args.store.database, "export", false).await?;
    let schemas = crate::schemas(&args.store)?;
    let manager = IdentityManager::builder(store, Arc::new(schemas)).build();
    let include = if args.with_credentials {
        CredentialInclude::All
    } else {
        CredentialInclude::None
    };
    let mut out = BufWriter::new(io::stdout().lock());
    let mut params = criteria(ListParams::default(), &args.criteria).with_page_size(PageSize::MAX);
    loop {
        let page = manager
            .list(TenantId::DEFAULT, params.clone())
            .await
            .map_err(|e| format!("cannot list identities: {e}"))?;
        for identity in &page.identities {
            let line = manager.to_import_json(identity, include.clone());
            if let Err(e) = serde_json::to_writer(&mut out, &line)
                .map_err(io::Error::from)
                .and_then(|()| out.write_all(b"\n"))
            {
                return closed_or(e);
            }
        }
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

/// A reader that stopped reading (`export | head`) ends the export
/// quietly; any other write error is one.
pub(crate) fn closed_or(e: io::Error) -> Result<ExitCode, String> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!("cannot write to standard output: {e}"))
    }
}

/// `params` narrowed by the command line's criteria.
pub(crate) fn criteria(mut params: ListParams, criteria: &Criteria) -> ListParams {
    if let Some(state) = criteria.state {
        params = params.with_state(state);
    }
    if let Some(schema_id) = &criteria.schema_id {
        params = params.with_schema_id(schema_id.clone());
    }
    if let Some(traits) = &criteria.traits {
        params = params.with_traits(traits.clone());
    }
    params
}
