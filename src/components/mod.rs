//! The console's components, one per file.

mod connection_status;
mod directory;
mod directory_row;
mod login;
mod presence_field;
mod presence_legend;
mod toolbar;

pub use connection_status::ConnectionStatus;
pub use directory::Directory;
pub use directory_row::DirectoryRow;
pub use login::Login;
pub use presence_field::PresenceField;
pub use presence_legend::PresenceLegend;
pub use toolbar::Toolbar;
