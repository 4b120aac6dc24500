//! `identity-server migrate [up|status]`: the database's schema
//! migrations, applied explicitly or only shown.
//!
//! Every command that opens a database (`serve` included) applies the
//! pending migrations on its way, as the stores do on open; `migrate up`
//! does only that, so a deployment can migrate in a step of its own, and
//! `migrate status` reads the version without changing anything.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::cli::MigrateArgs;
use crate::store::{self, SchemaStatus};

pub(crate) async fn run(args: MigrateArgs) -> Result<ExitCode, String> {
    let before = store::schema_status(&args.database).await?;
    if args.action == "status" {
        print!("{}", status_text(&before));
        return Ok(if before.database > before.library {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    if before.database > before.library {
        return Err(newer(&before));
    }
    if before.database == before.library {
        println!(
            "schema version {} is current: nothing to apply",
            before.library
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Opening applies what is missing, each migration once even when
    // other processes open the database at the same time.
    let opened = store::open(&args.database).await?;
    drop(opened);
    let after = store::schema_status(&args.database).await?;
    println!(
        "applied migrations {}: schema version {} -> {}",
        range(before.database + 1, after.database),
        before.database,
        after.database
    );
    Ok(ExitCode::SUCCESS)
}

/// `1` or `3-5`.
fn range(first: i64, last: i64) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

fn newer(status: &SchemaStatus) -> String {
    format!(
        "the database has schema version {}, newer than this identity-server knows ({}): \
         upgrade identity-server",
        status.database, status.library
    )
}

/// The status view: both versions and what is pending.
pub(crate) fn status_text(status: &SchemaStatus) -> String {
    let mut out = String::new();
    let database = if status.exists {
        status.database.to_string()
    } else {
        "0 (no database yet)".to_owned()
    };
    let _ = writeln!(out, "database schema version: {database}");
    let _ = writeln!(out, "library schema version:  {}", status.library);
    if status.database > status.library {
        let _ = writeln!(out, "{}", newer(status));
    } else if status.database == status.library {
        let _ = writeln!(out, "pending migrations:      none");
    } else {
        let _ = writeln!(
            out,
            "pending migrations:      {} (run `identity-server migrate`)",
            range(status.database + 1, status.library)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_views() {
        let at = |database, exists| {
            status_text(&SchemaStatus {
                database,
                library: 5,
                exists,
            })
        };
        assert_eq!(
            at(0, false),
            "database schema version: 0 (no database yet)\n\
             library schema version:  5\n\
             pending migrations:      1-5 (run `identity-server migrate`)\n"
        );
        assert_eq!(
            at(4, true),
            "database schema version: 4\n\
             library schema version:  5\n\
             pending migrations:      5 (run `identity-server migrate`)\n"
        );
        assert_eq!(
            at(5, true),
            "database schema version: 5\nlibrary schema version:  5\npending migrations:      none\n"
        );
        assert_eq!(
            at(6, true),
            "database schema version: 6\nlibrary schema version:  5\n\
             the database has schema version 6, newer than this identity-server knows (5): \
             upgrade identity-server\n"
        );
    }
}
