//! The conformance suite every identity store runs.
//!
//! Each check is a `pub async fn check_<name>(store: DynIdentityStore)` that
//! exercises one part of the [`IdentityStore`](identity_core::IdentityStore)
//! contract on an empty store and panics, with a message saying which
//! sentence failed, when the store breaks it. [`store_suite!`] expands to
//! one `#[tokio::test]` per check for a store factory, so a store crate runs
//! the whole suite, and every new check, with two lines:
//!
//! ```
//! // tests/it/main.rs of a store crate (dev-dependencies:
//! // identity-store-tests and tokio).
//! use std::any::Any;
//!
//! use identity_core::DynIdentityStore;
//!
//! /// A fresh, empty store, and a guard that cleans it up when dropped.
//! async fn make_store() -> (DynIdentityStore, Box<dyn Any + Send>) {
//!     unimplemented!("open a fresh store, e.g. in a temporary directory")
//! }
//!
//! identity_store_tests::store_suite!(make_store);
//! # fn main() {}
//! ```
//!
//! The factory's second value is a guard the test keeps alive until the
//! check ends (a temporary directory, a database to drop). Every check
//! expects an empty store of its own; checks work in [`fixtures::TENANT`]
//! and [`fixtures::OTHER_TENANT`]. Errors are matched on
//! [`ErrorKind`](identity_core::ErrorKind) and on the structured fields of
//! [`Error`](identity_core::Error), never on messages.
//!
//! [`fixtures`] builds consistent identities that stores' own tests can
//! reuse.

pub mod fixtures;

mod checks;
mod support;

pub use checks::batch::*;
pub use checks::concurrency::*;
pub use checks::crud::*;
pub use checks::feed::*;
pub use checks::list::*;
pub use checks::migrate::*;
pub use checks::model::*;
pub use checks::normalised::*;
pub use checks::search::*;
pub use checks::text::*;
pub use checks::unique::*;

/// Expands to one `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]`
/// per conformance check, each named after its check and running it on a
/// fresh store from the factory.
///
/// The factory is an `async fn() -> (DynIdentityStore, Box<dyn Any + Send>)`
/// in scope; the second value is kept alive until the check ends. The
/// calling crate needs `identity-store-tests` and `tokio` (with the `macros`
/// and `rt-multi-thread` features) as dev-dependencies.
#[macro_export]
macro_rules! store_suite {
    ($factory:path) => {
        $crate::__with_checks! { [tests $factory] }
    };
    // For stores that need an outside server: every check is
    // `#[ignore = $reason]`, so a machine without the server reports them
    // as ignored (not passed); `--include-ignored` runs them.
    (ignored $reason:literal, $factory:path) => {
        $crate::__with_checks! { [ignored $reason, $factory] }
    };
}

/// Calls [`__suite_expand!`] with the one list of check names.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_checks {
    ([$($mode:tt)*]) => {
        $crate::__suite_expand! {
            [$($mode)*]
            check_round_trip,
            check_missing_reads_are_not_found,
            check_update_replaces_and_bumps_version,
            check_update_missing_is_not_found,
            check_delete_missing_is_not_found,
            check_stale_version_rejected,
            check_delete_cascades_and_frees_values,
            check_update_drops_and_readds,
            check_noop_update_keeps_everything,
            check_tenant_isolation,
            check_create_conflict_on_id,
            check_create_conflict_on_external_id,
            check_create_conflict_on_credential_identifier,
            check_create_conflict_on_verifiable_address,
            check_create_conflict_on_recovery_address,
            check_failed_create_writes_nothing,
            check_find_create_conflict_names_what_create_would,
            check_update_conflicts_write_nothing,
            check_get_by_external_id,
            check_find_by_identifier,
            check_look_alike_identifiers_conflict,
            check_text_rule_refused_before_the_store,
            check_list_order_and_pages,
            check_list_pages_stable_under_concurrent_inserts,
            check_list_filter_ids,
            check_list_filter_credential_identifier,
            check_list_filter_identifier_prefix,
            check_list_filter_organization,
            check_count,
            check_search_state_and_schema,
            check_search_traits_containment,
            check_search_follows_writes,
            check_batch_create,
            check_concurrent_increments,
            check_concurrent_creates_one_email,
            check_model_sequences,
            check_feed_records_every_write,
            check_feed_failed_writes_append_nothing,
            check_feed_pages_and_tenants,
            check_feed_prune_and_expired_cursors,
            check_feed_consumer_cursors,
            check_feed_concurrent_writers_reader_sees_every_change_once,
            check_migrate_dry_run_reports_and_writes_nothing,
            check_migrate_apply_moves_exactly_the_valid_ones,
            check_migrate_resumes_from_a_cursor,
            check_migrate_concurrent_update_is_not_overwritten,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __suite_expand {
    ([tests $factory:path] $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $factory().await;
                $crate::$name(store).await;
            }
        )*
    };
    ([ignored $reason:literal, $factory:path] $($name:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            #[ignore = $reason]
            async fn $name() {
                let (store, _guard) = $factory().await;
                $crate::$name(store).await;
            }
        )*
    };
    ([names] $($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}

/// The names of every check [`store_suite!`] runs, in its order.
pub const CHECK_NAMES: &[&str] = __with_checks! { [names] };

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The macro's list and the checks defined in the sources are the same
    /// set, so no check is left out of [`store_suite!`].
    #[test]
    fn macro_lists_every_check() {
        let sources = [
            include_str!("checks/batch.rs"),
            include_str!("checks/concurrency.rs"),
            include_str!("checks/crud.rs"),
            include_str!("checks/feed.rs"),
            include_str!("checks/list.rs"),
            include_str!("checks/migrate.rs"),
            include_str!("checks/model.rs"),
            include_str!("checks/normalised.rs"),
            include_str!("checks/search.rs"),
            include_str!("checks/text.rs"),
            include_str!("checks/unique.rs"),
        ];
        let defined: Vec<&str> = sources
            .iter()
            .flat_map(|s| s.lines())
            .filter_map(|l| l.trim().strip_prefix("pub async fn "))
            .filter_map(|l| l.split('(').next())
            .collect();
        let listed: BTreeSet<&str> = super::CHECK_NAMES.iter().copied().collect();
        assert_eq!(
            listed.len(),
            super::CHECK_NAMES.len(),
            "a check is listed twice"
        );
        assert_eq!(defined.iter().copied().collect::<BTreeSet<_>>(), listed);
        assert_eq!(defined.len(), listed.len(), "a check is defined twice");
    }
}
