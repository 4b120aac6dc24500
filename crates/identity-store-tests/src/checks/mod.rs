//! The checks, one module per part of the contract.

pub mod batch;
pub mod concurrency;
pub mod crud;
pub mod list;
pub mod model;
pub mod normalised;
pub mod unique;
