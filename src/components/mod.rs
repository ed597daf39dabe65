//! The console's components, one per file.

mod active_call;
mod call_party;
mod connection_status;
mod directory;
mod directory_row;
mod elapsed;
mod focus;
mod login;
mod presence_field;
mod presence_legend;
mod queued_calls;
mod toolbar;
mod transfer_assistant;

pub use active_call::ActiveCall;
pub use call_party::CallParty;
pub use connection_status::ConnectionStatus;
pub use directory::Directory;
pub use directory_row::DirectoryRow;
pub use elapsed::Elapsed;
pub use login::Login;
pub use presence_field::PresenceField;
pub use presence_legend::PresenceLegend;
pub use queued_calls::QueuedCalls;
pub use toolbar::Toolbar;
pub use transfer_assistant::TransferAssistant;
