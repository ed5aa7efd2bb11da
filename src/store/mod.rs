//! The journal (SQLite, WAL): leads, runs, calls, checkpoints, cron slot claims, dead letters,
//! quarantine and assignment counters. Depends on `lead` only. (Being implemented.)

pub mod types;
