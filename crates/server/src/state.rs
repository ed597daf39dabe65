//! State shared by every request and connection.

use std::sync::Arc;

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::throttle::Throttle,
    calls::{
        Calls,
        adapter::{CallControl, PbxIngest, SimulatedExchange},
    },
    chat::Chat,
    config::Config,
    directory::Directory,
    presence::Hub,
};

/// Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub config: Arc<Config>,
    /// Who is connected, their presence, and fan-out to every connection.
    pub hub: Arc<Hub>,
    /// The directory, with its snapshot pages encoded once for every connection.
    pub directory: Arc<Directory>,
    /// The queue, the active call and transfers.
    pub calls: Arc<Calls>,
    /// Messages, history, the chat list.
    pub chat: Arc<Chat>,
    /// Failed sign-ins per user name and address.
    pub throttle: Arc<Throttle>,
    /// Cancelled when the server shuts down; connection tasks then close their sockets.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// Loads what the hub and the directory need from the database.
    pub async fn load(
        db: SqlitePool,
        config: Config,
        shutdown: CancellationToken,
    ) -> Result<Self, sqlx::Error> {
        let hub = Arc::new(Hub::load(&db).await?);
        let directory = Arc::new(Directory::load(&db).await?);
        // The demo runs its own exchange; otherwise a PBX drives calls through the ingest API.
        let adapter: Box<dyn CallControl> = if config.demo {
            Box::new(SimulatedExchange)
        } else {
            Box::new(PbxIngest)
        };
        let calls = Calls::load(db.clone(), hub.clone(), directory.clone(), adapter).await?;
        let chat = Chat::start(db.clone(), hub.clone(), &config);
        Ok(AppState {
            db,
            config: Arc::new(config),
            hub,
            directory,
            calls: Arc::new(calls),
            chat: Arc::new(chat),
            throttle: Arc::default(),
            shutdown,
        })
    }
}
