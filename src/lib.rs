//! Switchboard console: the attendant's browser screen (Leptos, client-side rendered).
//!
//! Data flows one way: the WebSocket client ([`ws`]) feeds the one [`store::Store`], components
//! read it and send intents back through it; they never touch the socket themselves.

pub mod admin_api;
pub mod admin_page;
pub mod api;
pub mod app;
pub mod calls;
pub mod chat;
pub mod components;
pub mod keys;
pub mod store;
pub mod ws;

pub use app::App;
