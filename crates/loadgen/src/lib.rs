//! Load and fault tools for Switchboard: a protocol client that speaks to a real server over
//! 127.0.0.1, and the programs built on it (`chaos`).

pub mod client;
pub mod server;
