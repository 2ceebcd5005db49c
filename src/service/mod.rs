//! The rules of the library, independent of HTTP: who may do what to which asset, and in
//! which order things change.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod egress;
pub mod files;
pub mod links;
pub mod quotas;
pub mod readiness;
pub mod replication;
pub mod state;
pub mod storage;
pub mod timers;
pub mod webhooks;
