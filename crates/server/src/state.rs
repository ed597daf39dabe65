//! State shared by every request and connection.

pub mod health;

use std::sync::{Arc, RwLock};

use sqlx::AnyPool;
use switchboard_protocol::{ClientConfig, ServerFrame};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    auth::throttle::Throttle,
    calls::{
        Calls,
        adapter::{CallControl, PbxIngest, SimulatedExchange},
        asterisk::Asterisk,
    },
    chat::Chat,
    config::Config,
    directory::Directory,
    presence::Hub,
};

/// Cheap to clone: every field is a handle.
#[derive(Clone)]
pub struct AppState {
    pub db: AnyPool,
    pub config: Arc<Config>,
    /// Who is connected, their presence, and fan-out to every connection.
    pub hub: Arc<Hub>,
    /// The directory, with its snapshot pages encoded once for every connection.
    pub directory: Arc<Directory>,
    /// The queue, the active call and transfers.
    pub calls: Arc<Calls>,
    /// The Asterisk adapter, when the configuration names one: [`crate::lib`] starts it.
    pub asterisk: Option<Arc<Asterisk>>,
    /// Messages, history, the chat list.
    pub chat: Arc<Chat>,
    /// Failed sign-ins per user name and address.
    pub throttle: Arc<Throttle>,
    /// What each user may still send of each kind of frame.
    pub frames: Arc<crate::ws::allowance::Allowances>,
    /// What consoles are told in `welcome`: the config file's, with the chat settings an
    /// admin changed on top (see [`crate::settings`]).
    client: Arc<RwLock<ClientConfig>>,
    /// Notified by "Sync now": the LDAP sync runs at once.
    pub sync_now: Arc<Notify>,
    /// Cancelled when the server shuts down; connection tasks then close their sockets.
    pub shutdown: CancellationToken,
    /// The tasks the server cannot work without (the chat writer), up or down: `/healthz`.
    pub health: health::Health,
}

impl AppState {
    /// Loads what the hub and the directory need from the database.
    pub async fn load(
        db: AnyPool,
        config: Config,
        shutdown: CancellationToken,
    ) -> Result<Self, sqlx::Error> {
        let hub = Arc::new(Hub::load(&db).await?);
        let directory = Arc::new(Directory::load(&db).await?);
        // Asterisk when configured; else the demo runs its own exchange, or a PBX drives calls
        // through the ingest API.
        let (adapter, asterisk): (Arc<dyn CallControl>, _) = match &config.asterisk {
            Some(asterisk) => {
                let pbx = Asterisk::new(asterisk.clone());
                (pbx.clone(), Some(pbx))
            }
            None if config.demo => (Arc::new(SimulatedExchange), None),
            None => (Arc::new(PbxIngest::new(db.clone())), None),
        };
        let calls = Calls::load(
            db.clone(),
            hub.clone(),
            directory.clone(),
            adapter,
            config.confirm_within,
        )
        .await?;
        if asterisk.is_some() {
            // Until the adapter has connected.
            calls.set_available(false);
        }
        let health = health::Health::default();
        let chat = Chat::start(db.clone(), hub.clone(), &config, &health, shutdown.clone());
        let client = crate::settings::load(&db, &config).await?;
        Ok(AppState {
            db,
            config: Arc::new(config),
            hub,
            directory,
            calls: Arc::new(calls),
            asterisk,
            chat: Arc::new(chat),
            throttle: Arc::default(),
            frames: Arc::default(),
            client: Arc::new(RwLock::new(client)),
            sync_now: Arc::default(),
            shutdown,
            health,
        })
    }

    /// The console configuration as it stands now.
    pub fn client_config(&self) -> ClientConfig {
        self.client
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Makes new chat settings current and sends them to every open console.
    pub fn publish_settings(&self, client: ClientConfig) {
        *self
            .client
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = client.clone();
        self.hub
            .broadcast(ServerFrame::ConfigChanged(client).encode().into());
    }
}
