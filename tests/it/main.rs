//! Integration tests: real HTTP on 127.0.0.1 against the simulators, and the `leadrelay` binary.

mod admin;
mod bench;
mod cli;
mod clock;
mod common;
mod console;
mod contract;
mod daemon;
mod feiyu;
mod fuzz;
mod host;
mod inspect;
mod journal;
mod layering;
mod linkflow;
mod once;
mod pushsec;
mod reload;
mod retention;
mod script_author;
mod sources;
mod stdlib;
mod tencent;
mod unrouted;
mod waiqin;
mod xiaolanben;
