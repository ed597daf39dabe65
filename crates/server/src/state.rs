//! State shared by every request and connection.

use std::sync::Arc;

use sqlx::SqlitePool;
use tokio_util::sync::CancellationToken;

use crate::{config::Config, directory::Directory, presence::Hub};

/// Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub db: SqlitePool,
    pub config: Arc<Config>,
    /// Who is connected, their presence, and fan-out to every connection.
    pub hub: Arc<Hub>,
    /// The directory, with its snapshot frame encoded once for every connection.
    pub directory: Arc<Directory>,
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
        let hub = Hub::load(&db).await?;
        let directory = Directory::load(&db).await?;
        Ok(AppState {
            db,
            config: Arc::new(config),
            hub: Arc::new(hub),
            directory: Arc::new(directory),
            shutdown,
        })
    }
}
