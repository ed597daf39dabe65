//! Roles, the directory's administered fields, operator notes and the Administration view's
//! HTTP bodies (`/api/admin/...`).

use serde::{Deserialize, Serialize};

use crate::{EntryId, Mode, UserId};

/// What a signed-in person may do. Every user has the directory, presence and chat;
/// operators also have the calls panes and operator notes; admins also have the
/// Administration view.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Operator,
    #[default]
    User,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::User];

    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::User => "user",
        }
    }

    /// Parses a wire name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == name)
    }

    /// Whether this role handles calls (calls panes, call frames, operator notes).
    pub fn handles_calls(self) -> bool {
        self == Role::Operator
    }

    /// Whether this role administers the installation.
    pub fn administers(self) -> bool {
        self == Role::Admin
    }
}

/// An operator's note on a directory entry ("absent until 3 Dec, calls to Bob Baker"); never
/// touched by an import or a sync. An empty text removes the note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryNote {
    pub entry: EntryId,
    pub text: String,
    /// Username of the operator who wrote it last.
    pub author: String,
    pub updated_at_ms: i64,
}

/// An account as the Administration view lists it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// False once deactivated: cannot sign in, sessions ended, conversations kept.
    pub active: bool,
}

/// Body of `POST /api/admin/users`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

/// Body of `PATCH /api/admin/users/{username}`: what to change.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// `false` deactivates the account (its sessions and consoles end at once); `true`
    /// reactivates it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// Body of `POST /api/admin/users/{username}/password`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordReset {
    pub password: String,
}

/// One entry of an import or sync report: its stable id and display name.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRef {
    pub external_id: String,
    pub name: String,
}

/// What an import or a sync adds, changes and removes (a dry run's preview, or what was
/// applied).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryDiff {
    pub added: Vec<EntryRef>,
    pub changed: Vec<EntryRef>,
    pub removed: Vec<EntryRef>,
    /// False for a dry run: nothing was changed.
    pub applied: bool,
}

/// The last directory sync from LDAP, as the Administration view shows it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    /// Whether `[directory.ldap]` is configured at all.
    pub configured: bool,
    /// When the last sync ended (ms since the epoch); `None` before the first.
    pub finished_at_ms: Option<i64>,
    pub added: u32,
    pub changed: u32,
    pub removed: u32,
    /// Why the last sync failed; the directory then keeps its last good state.
    pub error: Option<String>,
}

/// Chat settings an admin changes live (`PUT /api/admin/settings`); every open console gets
/// them at once. The chat mode is not among them: it changes by restart only.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSettings {
    pub predefined_messages: Vec<String>,
    pub chat_key: String,
}

/// Answer of `GET /api/admin/settings`: the chat settings in force and the chat mode (which
/// changes by restart only).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingsInForce {
    pub chat: ChatSettings,
    pub mode: Mode,
}

/// One line of the audit log: who did what, when.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub at_ms: i64,
    /// Username of the admin, `cli` for the command line, `ldap-sync` for the sync.
    pub actor: String,
    /// e.g. `user.add`, `user.deactivate`, `directory.import`, `settings.change`.
    pub action: String,
    /// What it was done to, for people ("alice", "12 added, 3 changed, 1 removed").
    pub detail: String,
}
