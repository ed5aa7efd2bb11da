//! xiaolanben against the simulator over real HTTP.
