//! The whole conformance suite, one test per check, each on a fresh schema.
//!
//! `store_suite!` cannot skip a check when no server is configured (its
//! factory must return a store), so this module lists the checks itself and
//! `suite_lists_every_check` fails as soon as the suite's list and this one
//! differ: a check added to the suite cannot be left out here.

use crate::support::fresh_store;

macro_rules! pg_suite {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let Some((store, _schema)) = fresh_store().await else {
                    return;
                };
                identity_store_tests::$name(store).await;
            }
        )*

        #[test]
        fn suite_lists_every_check() {
            assert_eq!(
                &[$(stringify!($name)),*][..],
                identity_store_tests::CHECK_NAMES,
                "this list must be the suite's list, in its order"
            );
        }
    };
}

pg_suite! {
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
    check_update_conflicts_write_nothing,
    check_get_by_external_id,
    check_find_by_identifier,
    check_list_order_and_pages,
    check_list_pages_stable_under_concurrent_inserts,
    check_list_filter_ids,
    check_list_filter_credential_identifier,
    check_list_filter_identifier_prefix,
    check_list_filter_organization,
    check_batch_create,
    check_concurrent_increments,
    check_concurrent_creates_one_email,
    check_model_sequences,
}
