//! The checks, one module per part of the contract.

pub(crate) mod batch;
pub(crate) mod concurrency;
pub(crate) mod crud;
pub(crate) mod feed;
pub(crate) mod list;
pub(crate) mod migrate;
pub(crate) mod model;
pub(crate) mod normalised;
pub(crate) mod search;
pub(crate) mod text;
pub(crate) mod unique;
