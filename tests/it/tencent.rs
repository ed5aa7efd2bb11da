//! tencent against the simulator over real HTTP.
