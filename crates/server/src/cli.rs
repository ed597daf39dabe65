//! Subcommands that administer an installation from the shell (`user ...`, `directory ...`):
//! they change the database the server uses, with an audit row by `cli`, and a running
//! server applies the change through its change feed (see [`crate::audit`]).

use std::{
    io::{BufRead, IsTerminal},
    path::Path,
};

use anyhow::Context;
use sqlx::AnyPool;
use switchboard_protocol::{AccountChange, NewAccount, Role};

use crate::{
    Config, accounts,
    config::{DirectoryCommand, UserCommand},
    directory::{
        import::{self, Applier},
        ldap,
    },
};

/// The audit log's actor for command-line changes.
const ACTOR: &str = "cli";

/// A password from `file` (its first line), else a prompt without echo on a terminal, else
/// one line of standard input: never from the command line, where `ps` shows it.
fn read_password(file: Option<&Path>) -> anyhow::Result<String> {
    let line = match file {
        Some(file) => std::fs::read_to_string(file)
            .with_context(|| format!("cannot read --password-file {}", file.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        None if std::io::stdin().is_terminal() => {
            let first = rpassword::prompt_password("Password: ")?;
            let again = rpassword::prompt_password("Password again: ")?;
            anyhow::ensure!(first == again, "the two passwords differ; nothing changed");
            first
        }
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    Ok(line)
}

/// Runs `user ...`.
pub async fn user(db: &AnyPool, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            username,
            role,
            display_name,
            password_file,
        } => {
            let password = read_password(password_file.as_deref())?;
            let new = NewAccount {
                display_name: display_name.unwrap_or_else(|| username.clone()),
                username,
                role: role.into(),
                password,
            };
            let account = accounts::add(db, ACTOR, new).await?;
            println!(
                "added {} ({}); sign in at the console",
                account.username,
                account.role.as_str()
            );
        }
        UserCommand::List => {
            println!(
                "{:<24} {:<9} {:<8} display name",
                "username", "role", "status"
            );
            for account in accounts::list(db).await? {
                let status = if account.active { "active" } else { "inactive" };
                println!(
                    "{:<24} {:<9} {:<8} {}",
                    account.username,
                    account.role.as_str(),
                    status,
                    account.display_name
                );
            }
        }
        UserCommand::SetRole { username, role } => {
            let role: Role = role.into();
            let change = AccountChange {
                role: Some(role),
                active: None,
            };
            accounts::change(db, ACTOR, &username, change).await?;
            println!("{username} is now {}", role.as_str());
        }
        UserCommand::Deactivate { username } => set_active(db, &username, false).await?,
        UserCommand::Activate { username } => set_active(db, &username, true).await?,
        UserCommand::ResetPassword {
            username,
            password_file,
        } => {
            let password = read_password(password_file.as_deref())?;
            accounts::reset_password(db, ACTOR, &username, password).await?;
            println!("{username} has a new password; their sessions have ended");
        }
    }
    Ok(())
}

async fn set_active(db: &AnyPool, username: &str, active: bool) -> anyhow::Result<()> {
    let change = AccountChange {
        role: None,
        active: Some(active),
    };
    accounts::change(db, ACTOR, username, change).await?;
    let now = if active { "active" } else { "deactivated" };
    println!("{username} is {now}");
    Ok(())
}

/// Runs `directory ...`.
pub async fn directory(
    db: &AnyPool,
    config: &Config,
    command: DirectoryCommand,
) -> anyhow::Result<()> {
    match command {
        DirectoryCommand::Import { file, dry_run } => import(db, &file, dry_run).await,
        DirectoryCommand::Sync => {
            let ldap = config
                .ldap
                .as_ref()
                .context("no [directory.ldap] in the --config file: nothing to sync from")?;
            let status = ldap::sync_once(db, ldap).await;
            if let Some(error) = status.error {
                anyhow::bail!("the sync failed; the directory is unchanged: {error}");
            }
            println!(
                "{} added, {} changed, {} removed",
                status.added, status.changed, status.removed
            );
            Ok(())
        }
    }
}

/// `directory import FILE [--dry-run]`.
async fn import(db: &AnyPool, file: &Path, dry_run: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let records = import::parse_csv(&bytes)
        .with_context(|| format!("{}: nothing was imported", file.display()))?;
    let by = Applier {
        actor: ACTOR,
        action: "directory.import",
        create_accounts: true,
        deactivate_removed: false,
    };
    let diff = import::apply(db, &records, by, dry_run).await?;
    for (what, entries) in [
        ("add", &diff.added),
        ("change", &diff.changed),
        ("remove", &diff.removed),
    ] {
        for entry in entries {
            println!("{what:<6} {} ({})", entry.name, entry.external_id);
        }
    }
    let verb = if diff.applied {
        "applied"
    } else {
        "dry run, nothing changed"
    };
    println!(
        "{} added, {} changed, {} removed ({verb})",
        diff.added.len(),
        diff.changed.len(),
        diff.removed.len()
    );
    Ok(())
}
