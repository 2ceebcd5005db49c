//! assetd: a self-hosted digital asset library that speaks the Huawei Cloud MetaStudio
//! asset-library API, so the official SDKs work against it unchanged.
//!
//! Layout: `http` turns requests into service calls, `service` holds the rules, `catalog`
//! stores records behind one trait, `signing` verifies SDK-HMAC-SHA256, `model` is the wire
//! vocabulary and its validation.

pub mod app;
pub mod blobs;
pub mod catalog;
pub mod client;
pub mod config;
pub mod error;
pub mod http;
pub mod jobs;
pub mod logging;
pub mod media;
pub mod model;
pub mod service;
pub mod signing;
pub mod tasks;
pub mod telemetry;
