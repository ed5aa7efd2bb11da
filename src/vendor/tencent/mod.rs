//! tencent (stub; being implemented).

pub mod client;
pub mod config;

pub use client::Client;

use super::OpInfo;

/// Every op of this vendor.
pub const OPS: &[OpInfo] = &[];
