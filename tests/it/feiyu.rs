//! feiyu against the simulator over real HTTP.
