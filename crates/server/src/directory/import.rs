//! Replacing the directory with a list of records, from a CSV file ([`parse_csv`]) or an LDAP
//! search ([`super::ldap`]): one transaction that adds, changes and tombstones entries by
//! their stable id, or, for a dry run, reports what it would do and changes nothing.
//!
//! CSV columns (header row required, any order; only `id` and `name` must be there):
//! `id, name, username, department, title, location, extension, mobile, other_numbers,
//! email, xmpp`. `other_numbers` holds any number of numbers separated by `;`. An entry
//! with a `username` is that account's entry; an unknown username gets a new account that
//! cannot sign in until an administrator sets its password. An entry with an `xmpp` address
//! and no `username` is a federated contact: someone on the company's XMPP server.

use std::collections::{HashMap, HashSet};

use futures_util::TryStreamExt;
use sqlx::{AnyPool, Row};
use switchboard_protocol::{DirectoryDiff, EntryRef, UserId};

use crate::{
    accounts::{self, check_username},
    audit,
    clock::now_ms,
    error::AppError,
};

/// The columns a CSV file may have, in the documented order.
pub const COLUMNS: [&str; 11] = [
    "id",
    "name",
    "username",
    "department",
    "title",
    "location",
    "extension",
    "mobile",
    "other_numbers",
    "email",
    "xmpp",
];

/// Longest field accepted, in characters (CSV cells, LDAP values).
pub(crate) const MAX_FIELD_CHARS: usize = 500;

/// One person or phone as a source describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The source's stable id (CSV `id`, LDAP `entryUUID` / `objectGUID`).
    pub external_id: String,
    pub name: String,
    pub username: Option<String>,
    pub department: String,
    pub title: String,
    pub location: String,
    /// Extension first, then mobile, then the others.
    pub numbers: Vec<String>,
    pub email: String,
    pub xmpp: String,
}

/// Why a record cannot be taken: where (line of the file, column) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}{}: {reason}", column.as_ref().map(|c| format!(", column {c:?}")).unwrap_or_default())]
pub struct RowError {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

fn row_error(line: u64, column: Option<&str>, reason: impl Into<String>) -> RowError {
    RowError {
        line,
        column: column.map(str::to_owned),
        reason: reason.into(),
    }
}

/// Checks a phone number: digits with the usual separators (`+`, space, `-`, `.`, `(`, `)`,
/// `/`), at least one digit, at most 32 characters.
pub fn check_number(number: &str) -> Result<(), String> {
    let allowed = number
        .chars()
        .all(|c| c.is_ascii_digit() || " +-.()/".contains(c));
    if allowed && number.chars().any(|c| c.is_ascii_digit()) && number.len() <= 32 {
        Ok(())
    } else {
        Err(format!(
            "{number:?} is not a phone number (digits, spaces and + - . ( ) / only)"
        ))
    }
}

/// Checks an address of the form `local@domain` (email, XMPP).
fn check_address(address: &str) -> Result<(), String> {
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{address:?} is not an address of the form name@domain"
        )),
    }
}

impl Record {
    /// Checks the fields of a record a source produced (the CSV parser reports the line and
    /// column itself; the LDAP sync fails with this reason). Numbers are not checked here:
    /// each source checks them with [`check_number`] as it reads them, naming the field
    /// (extension, mobile, other numbers) they came from.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.external_id.is_empty() {
            return Err(("id", "the stable id is empty".into()));
        }
        if self.name.is_empty() {
            return Err(("name", "the name is empty".into()));
        }
        if let Some(username) = &self.username {
            check_username(username).map_err(|reason| ("username", reason))?;
        }
        for (column, address) in [("email", &self.email), ("xmpp", &self.xmpp)] {
            if !address.is_empty() {
                check_address(address).map_err(|reason| (column, reason))?;
            }
        }
        Ok(())
    }
}

/// Line numbers of byte offsets, counted forward as the rows are read. The CSV reader's own
/// count goes wrong in a CRLF file with a line break inside a quoted cell (as Excel writes
/// them); a line here is what an editor shows: one more than the `\n` before it.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Bytes counted so far, and the line at that offset.
    counted: usize,
    line: u64,
}

impl Lines<'_> {
    /// The line of byte `offset` (offsets only grow, as the reader goes on).
    fn at(&mut self, offset: u64) -> u64 {
        let mut offset = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        // The reader may place a record after `\r` and before its `\n`; a record never
        // starts with a line break (empty lines are skipped).
        while matches!(self.bytes.get(offset), Some(b'\r' | b'\n')) {
            offset += 1;
        }
        if offset > self.counted {
            let breaks = self.bytes[self.counted..offset]
                .iter()
                .filter(|&&byte| byte == b'\n')
                .count();
            self.line += breaks as u64;
            self.counted = offset;
        }
        self.line
    }
}

/// Parses and checks a whole CSV file; the first bad row fails it all.
pub fn parse_csv(bytes: &[u8]) -> Result<Vec<Record>, RowError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(row_error(1, None, "the file is empty"));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|err| row_error(1, None, format!("unreadable header row: {err}")))?
        .clone();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (at, name) in header.iter().enumerate() {
        let name = std::str::from_utf8(name)
            .map_err(|_| row_error(1, None, "the header row is not UTF-8"))?
            .trim();
        let Some(known) = COLUMNS.iter().find(|column| **column == name) else {
            return Err(row_error(
                1,
                Some(name),
                format!("unknown column; the columns are {}", COLUMNS.join(", ")),
            ));
        };
        if index.insert(known, at).is_some() {
            return Err(row_error(1, Some(name), "the column appears twice"));
        }
    }
    for required in ["id", "name"] {
        if !index.contains_key(required) {
            return Err(row_error(1, Some(required), "this column is required"));
        }
    }
    let mut records = Vec::new();
    let mut lines = Lines {
        bytes,
        counted: 0,
        line: 1,
    };
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut usernames: HashMap<String, u64> = HashMap::new();
    for row in reader.byte_records() {
        let row = row.map_err(|err| {
            let line = err.position().map_or(0, |p| lines.at(p.byte()));
            let reason = match err.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!("{len} fields where the header has {expected_len}"),
                _ => err.to_string(),
            };
            row_error(line, None, reason)
        })?;
        let line = row.position().map_or(0, |p| lines.at(p.byte()));
        let field = |column: &str| -> Result<String, RowError> {
            let Some(&at) = index.get(column) else {
                return Ok(String::new());
            };
            let raw = row.get(at).unwrap_or_default();
            let text = std::str::from_utf8(raw)
                .map_err(|_| row_error(line, Some(column), "not valid UTF-8"))?
                .trim();
            if text.chars().count() > MAX_FIELD_CHARS {
                return Err(row_error(
                    line,
                    Some(column),
                    format!("longer than {MAX_FIELD_CHARS} characters"),
                ));
            }
            Ok(text.to_owned())
        };
        let username = field("username")?;
        let mut numbers = Vec::new();
        for column in ["extension", "mobile"] {
            let number = field(column)?;
            if !number.is_empty() {
                check_number(&number).map_err(|reason| row_error(line, Some(column), reason))?;
                numbers.push(number);
            }
        }
        for number in field("other_numbers")?.split(';').map(str::trim) {
            if !number.is_empty() {
                check_number(number)
                    .map_err(|reason| row_error(line, Some("other_numbers"), reason))?;
                numbers.push(number.to_owned());
            }
        }
        let record = Record {
            external_id: field("id")?,
            name: field("name")?,
            username: (!username.is_empty()).then_some(username),
            department: field("department")?,
            title: field("title")?,
            location: field("location")?,
            numbers,
            email: field("email")?,
            xmpp: field("xmpp")?,
        };
        record
            .check()
            .map_err(|(column, reason)| row_error(line, Some(column), reason))?;
        if let Some(first) = seen.insert(record.external_id.clone(), line) {
            return Err(row_error(
                line,
                Some("id"),
                format!("id {:?} is already on line {first}", record.external_id),
            ));
        }
        if let Some(username) = &record.username
            && let Some(first) = usernames.insert(username.clone(), line)
        {
            return Err(row_error(
                line,
                Some("username"),
                format!("username {username:?} is already on line {first}: one entry per account"),
            ));
        }
        records.push(record);
    }
    if records.is_empty() {
        // An import replaces the whole directory: a header alone would remove everyone.
        return Err(row_error(
            2,
            None,
            "the file has no rows; an import replaces the whole directory",
        ));
    }
    Ok(records)
}

/// An entry as stored, for comparing with a record.
struct Stored {
    id: i64,
    fields: Fields,
    removed: bool,
}

/// The fields a record sets, as stored.
#[derive(PartialEq, Eq)]
struct Fields {
    name: String,
    numbers: String,
    department: String,
    title: String,
    location: String,
    email: String,
    xmpp: String,
    user: Option<UserId>,
}

/// Deactivates the account of a removed entry, unless it is an admin's or already inactive;
/// the audit row makes running servers close its consoles.
async fn deactivate(
    tx: &mut sqlx::AnyConnection,
    actor: &str,
    user: UserId,
) -> Result<(), sqlx::Error> {
    let username: Option<String> = sqlx::query_scalar(
        "UPDATE users SET active = 0 WHERE id = $1 AND active = 1 AND role <> 'admin' \
         RETURNING username",
    )
    .bind(user)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(username) = username else {
        return Ok(());
    };
    accounts::end_sessions(tx, user).await?;
    let detail = format!("{username} (removed from the directory)");
    audit::record(&mut *tx, actor, "user.deactivate", &detail, Some(user)).await
}

/// The account of the XMPP user of an entry with an XMPP address and no username: a
/// federated contact ([`crate::federation`]), created at its first import. Nobody signs in
/// to it; its user name is `xmpp:` and the bare JID, which no typed user name can be.
async fn federated_account(
    tx: &mut sqlx::AnyConnection,
    users: &mut HashMap<String, UserId>,
    actor: &str,
    record: &Record,
) -> Result<UserId, sqlx::Error> {
    let jid = record.xmpp.to_lowercase();
    let username = format!("xmpp:{jid}");
    if let Some(&id) = users.get(&username) {
        return Ok(id);
    }
    let id: UserId = sqlx::query_scalar(
        "INSERT INTO users (username, display_name, xmpp) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(&username)
    .bind(&record.name)
    .bind(&jid)
    .fetch_one(&mut *tx)
    .await?;
    let detail = format!("{jid} (XMPP contact, from the directory)");
    audit::record(&mut *tx, actor, "user.federate", &detail, Some(id)).await?;
    users.insert(username, id);
    Ok(id)
}

/// Who applies a directory and how the audit log names it.
#[derive(Debug, Clone, Copy)]
pub struct Applier<'a> {
    /// Admin's username, `cli` or `ldap-sync`.
    pub actor: &'a str,
    /// `directory.import` or `directory.sync`.
    pub action: &'a str,
    /// Whether a record with an unknown username gets a new account; otherwise it is
    /// linked to no account.
    pub create_accounts: bool,
    /// Whether the account of a removed entry is deactivated (its sessions and consoles
    /// end); administrators' accounts never are.
    pub deactivate_removed: bool,
}

/// Makes the directory hold exactly `records` (in one transaction): new ids are added,
/// changed ones updated, tombstoned ones revived, and entries missing from `records`
/// tombstoned. With `dry_run` the same work is rolled back and only reported. The audit log
/// gets one row when something changed (and always for an import, which an admin ran).
pub async fn apply(
    db: &AnyPool,
    records: &[Record],
    by: Applier<'_>,
    dry_run: bool,
) -> Result<DirectoryDiff, AppError> {
    let mut tx = crate::storage::begin_write(db).await?;
    // Streamed: the rows are not all held at once (a 100,000-entry directory is hundreds
    // of megabytes of rows, a tenth of that as `Stored`).
    let mut stored: HashMap<String, Stored> = HashMap::new();
    {
        let mut rows = sqlx::query(
            "SELECT id, external_id, name, numbers, department, title, location, email, xmpp, \
             user_id, removed_at_ms FROM directory_entries WHERE external_id IS NOT NULL",
        )
        .fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let entry = Stored {
                id: row.get("id"),
                fields: Fields {
                    name: row.get("name"),
                    numbers: row.get("numbers"),
                    department: row.get("department"),
                    title: row.get("title"),
                    location: row.get("location"),
                    email: row.get("email"),
                    xmpp: row.get("xmpp"),
                    user: row.get("user_id"),
                },
                removed: row.get::<Option<i64>, _>("removed_at_ms").is_some(),
            };
            stored.insert(row.get("external_id"), entry);
        }
    }
    let mut users: HashMap<String, UserId> = sqlx::query("SELECT id, username FROM users")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| (row.get("username"), row.get("id")))
        .collect();
    let mut diff = DirectoryDiff::default();
    let mut kept = HashSet::new();
    let mut accounts_added = 0;
    for record in records {
        kept.insert(record.external_id.as_str());
        let user = match &record.username {
            None if !record.xmpp.is_empty() => {
                Some(federated_account(&mut tx, &mut users, by.actor, record).await?)
            }
            None => None,
            Some(username) => match users.get(username) {
                Some(&id) => Some(id),
                None if !by.create_accounts => None,
                None => {
                    let id: UserId = sqlx::query_scalar(
                        "INSERT INTO users (username, display_name) VALUES ($1, $2) RETURNING id",
                    )
                    .bind(username)
                    .bind(&record.name)
                    .fetch_one(&mut *tx)
                    .await?;
                    let detail = format!("{username} (user, from the directory; no password yet)");
                    audit::record(&mut *tx, by.actor, "user.add", &detail, Some(id)).await?;
                    users.insert(username.clone(), id);
                    accounts_added += 1;
                    Some(id)
                }
            },
        };
        let fields = Fields {
            name: record.name.clone(),
            numbers: serde_json::to_string(&record.numbers)
                .map_err(|err| AppError::Internal(format!("encoding numbers: {err}")))?,
            department: record.department.clone(),
            title: record.title.clone(),
            location: record.location.clone(),
            email: record.email.clone(),
            xmpp: record.xmpp.clone(),
            user,
        };
        let reference = EntryRef {
            external_id: record.external_id.clone(),
            name: record.name.clone(),
        };
        let id = match stored.remove(&record.external_id) {
            Some(old) if !old.removed && old.fields == fields => continue,
            Some(old) => {
                if old.removed {
                    diff.added.push(reference);
                } else {
                    diff.changed.push(reference);
                }
                Some(old.id)
            }
            None => {
                diff.added.push(reference);
                None
            }
        };
        // An entry seen before keeps its id (notes and calls refer to it); a new one gets one
        // from the database. Both statements take the same arguments (the INSERT names the
        // absent id, $1, only in a condition that holds).
        let sql = match id {
            Some(_) => {
                "UPDATE directory_entries SET external_id = $2, name = $3, numbers = $4, \
                 department = $5, title = $6, location = $7, email = $8, xmpp = $9, \
                 user_id = $10, removed_at_ms = NULL WHERE id = $1"
            }
            None => {
                "INSERT INTO directory_entries (external_id, name, numbers, department, title, \
                 location, email, xmpp, user_id) \
                 SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE $1 IS NULL"
            }
        };
        sqlx::query(sql)
            .bind(id)
            .bind(&record.external_id)
            .bind(&fields.name)
            .bind(&fields.numbers)
            .bind(&fields.department)
            .bind(&fields.title)
            .bind(&fields.location)
            .bind(&fields.email)
            .bind(&fields.xmpp)
            .bind(fields.user)
            .execute(&mut *tx)
            .await?;
    }
    let now = now_ms();
    let mut gone: Vec<(String, Stored)> = stored
        .into_iter()
        .filter(|(external_id, old)| !old.removed && !kept.contains(external_id.as_str()))
        .collect();
    gone.sort_by(|a, b| a.1.fields.name.cmp(&b.1.fields.name));
    for (external_id, old) in gone {
        sqlx::query("UPDATE directory_entries SET removed_at_ms = $1 WHERE id = $2")
            .bind(now)
            .bind(old.id)
            .execute(&mut *tx)
            .await?;
        if let Some(user) = old.fields.user.filter(|_| by.deactivate_removed) {
            deactivate(&mut tx, by.actor, user).await?;
        }
        diff.removed.push(EntryRef {
            external_id,
            name: old.fields.name,
        });
    }
    if dry_run {
        tx.rollback().await?;
        return Ok(diff);
    }
    let changes = diff.added.len() + diff.changed.len() + diff.removed.len();
    if changes > 0 || by.action == "directory.import" {
        let mut detail = format!(
            "{} added, {} changed, {} removed",
            diff.added.len(),
            diff.changed.len(),
            diff.removed.len()
        );
        if accounts_added > 0 {
            detail.push_str(&format!("; {accounts_added} accounts created"));
        }
        audit::record(&mut *tx, by.actor, by.action, &detail, None).await?;
    }
    tx.commit().await?;
    diff.applied = true;
    Ok(diff)
}
