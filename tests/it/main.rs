//! Integration tests: real HTTP on 127.0.0.1 against the simulators, and the `leadrelay` binary.

mod bench;
mod cli;
mod common;
mod daemon;
mod feiyu;
mod fuzz;
mod host;
mod inspect;
mod journal;
mod layering;
mod linkflow;
mod once;
mod preview;
mod pushsec;
mod reload;
mod retention;
mod sources;
mod stdlib;
mod tencent;
mod unrouted;
mod waiqin;
mod xiaolanben;
