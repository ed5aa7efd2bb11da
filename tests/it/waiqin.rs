//! waiqin against the simulator over real HTTP.
