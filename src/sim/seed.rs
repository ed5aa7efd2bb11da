//! Seeding the simulators and setting their base clock: what `leadrelay test` and
//! `route --dry-run` do before a script runs (`[sim]` in the config, `sim::…` and `set_now` in
//! a test). Kept apart from the server in `mod.rs`.

use crate::clock::Clock;
use crate::config::sim::SimSeed;
use crate::connectors::Vendor;

use super::SimShared;

impl SimShared {
    /// Makes `clock` the base of every vendor's server clock (skews still apply on top). Only
    /// the first call counts; call it before serving. `leadrelay test` hands the simulators the
    /// test's clock so their timestamps follow `set_now`.
    pub fn set_base_clock(&self, clock: Clock) {
        let _ = self.base_clock.set(clock);
    }

    /// The base clock (the system clock unless [`set_base_clock`](Self::set_base_clock) was called).
    pub fn base_clock(&self) -> Clock {
        self.base_clock.get().copied().unwrap_or_default()
    }

    /// Adds `seed`'s staff, Waiqin leads and Linkflow tags, after checking it; returns the
    /// `tagId`s given to the tags. The error names the entry.
    pub fn seed(&self, seed: &SimSeed) -> Result<Vec<u64>, String> {
        seed.validate()?;
        self.xiaolanben.seed_staff(&seed.staff)?;
        let now = self
            .clock(Vendor::Waiqin)
            .now_beijing()
            .format("%Y-%m-%d %H:%M")
            .to_string();
        self.waiqin.seed(&seed.waiqin_leads, &now)?;
        self.linkflow
            .seed_tags(&seed.linkflow_tags, self.clock(Vendor::Linkflow).now())
    }
}
