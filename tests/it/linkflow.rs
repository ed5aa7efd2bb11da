//! linkflow against the simulator over real HTTP.
