//! The server: listeners, connections, signals.

pub mod listener;
