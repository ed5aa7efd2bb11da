//! The Rhai scripting host. Owns the engine ([`engine::new_engine`], the only constructor),
//! limits, the sync→async [`bridge`], script loading with handler declarations, and value
//! conversion. Nothing outside `host/` and `*/rhai.rs` knows Rhai.

pub mod bridge;
pub mod calendar;
pub mod check;
pub mod convert;
pub mod definitions;
pub mod engine;
pub mod error;
pub mod generation;
pub mod limits;
pub mod modules;
pub mod once;
pub mod run;
pub mod schedule;
pub mod script;
pub mod stdlib;
pub mod testkit;
pub mod time;
pub mod watch;
pub mod workbench;
