//! The directory synced from LDAP / Active Directory: a paged search mapped to [`Record`]s and
//! applied like an import ([`import::apply`]), at start, every `interval_seconds` and on
//! "Sync now".
//!
//! A sync is all or nothing: an unreachable server, a refused bind, a search that ends early
//! (a size limit) or a single entry that cannot be taken leaves the directory as it was, and
//! the reason is in [`SyncStatus::error`].

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use ldap3::{
    LdapConnAsync, LdapConnSettings, Scope, SearchEntry,
    adapters::{Adapter, EntriesOnly, PagedResults},
};
use serde::Deserialize;
use sqlx::{AnyPool, Row};
use switchboard_protocol::SyncStatus;
use tokio::sync::Notify;
use tokio_rustls::rustls::{
    ClientConfig, RootCertStore,
    crypto::ring,
    pki_types::{CertificateDer, pem::PemObject},
};
use tokio_util::sync::CancellationToken;

use super::import::{self, Applier, MAX_FIELD_CHARS, Record, check_number};
use crate::{clock::now_ms, error::AppError};

/// Shortest interval between two syncs, in seconds.
pub const MIN_INTERVAL_SECONDS: u64 = 10;
/// Longest wait for the connection (TCP and TLS), the bind and each search reply.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Entries per page of the search: below Active Directory's `MaxPageSize` of 1000.
const PAGE_SIZE: i32 = 500;

/// `[directory.ldap]` of the config file: where the people are and how their attributes map
/// to directory fields. For Active Directory, for example:
///
/// ```toml
/// [directory.ldap]
/// url = "ldaps://dc1.example.com"
/// bind_dn = "CN=switchboard,OU=Service Accounts,DC=example,DC=com"
/// password_file = "/etc/switchboard/ldap-password"
/// base_dn = "OU=Staff,DC=example,DC=com"
/// # People whose account is not disabled.
/// filter = "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
/// ```
///
/// with the `[directory.ldap.attributes]` shown at [`AttributeMap`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LdapConfig {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// The DN to bind as; none binds anonymously.
    pub bind_dn: Option<String>,
    /// File holding the bind password, read at each sync (a trailing newline is dropped): the
    /// password stays out of the config file and can change without a restart.
    pub password_file: Option<PathBuf>,
    /// Where the search starts (it covers the whole subtree).
    pub base_dn: String,
    /// Which entries are people.
    #[serde(default = "default_filter")]
    pub filter: String,
    /// Seconds between two syncs, at least [`MIN_INTERVAL_SECONDS`].
    #[serde(default = "default_interval_seconds")]
    pub interval_seconds: u64,
    /// Upgrade an `ldap://` connection to TLS with StartTLS before binding.
    #[serde(default)]
    pub starttls: bool,
    /// PEM file of the certificate authorities to trust for `ldaps://` and StartTLS (an
    /// in-house CA); none: the system's trusted roots.
    pub ca_file: Option<PathBuf>,
    /// Whether the sync manages accounts: an entry whose username has no account gets one
    /// (which cannot sign in until an administrator sets its password), and the account of
    /// an entry removed from LDAP is deactivated (admins' excepted). Otherwise entries are
    /// only linked to existing accounts, and removals touch no account.
    #[serde(default)]
    pub create_accounts: bool,
    /// The attribute read for each directory field.
    #[serde(default)]
    pub attributes: AttributeMap,
}

fn default_filter() -> String {
    "(objectClass=inetOrgPerson)".into()
}

fn default_interval_seconds() -> u64 {
    300
}

/// The LDAP attribute read for each directory field; an empty name leaves that field empty.
/// Names match case-insensitively. Multi-valued attributes give their first value, except the
/// numbers. The defaults suit OpenLDAP's `inetOrgPerson`; Active Directory needs:
///
/// ```toml
/// [directory.ldap.attributes]
/// id = "objectGUID"        # binary: taken as its usual text form, 3f2504e0-4f89-11d3-9a0c-0305e82c3301
/// name = "displayName"
/// username = "sAMAccountName"
/// department = "department"
/// title = "title"
/// location = "physicalDeliveryOfficeName"
/// extension = "telephoneNumber"
/// mobile = "mobile"
/// other_numbers = "otherTelephone"
/// email = "mail"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributeMap {
    /// The stable id that tells a changed person from a new one (required): `entryUUID` (an
    /// operational attribute, which the search asks for by name) or `objectGUID`.
    pub id: String,
    /// The name shown in the directory (required).
    pub name: String,
    /// Links the entry to the account of that username, lowercased (LDAP and AD compare
    /// usernames case-insensitively).
    pub username: String,
    /// `ou` by default; `departmentNumber` is another common choice.
    pub department: String,
    pub title: String,
    pub location: String,
    /// The first number of the entry (its first value; further values come after the mobile).
    pub extension: String,
    pub mobile: String,
    /// Every value, after the extension and the mobile.
    pub other_numbers: String,
    pub email: String,
    /// None by default.
    pub xmpp: String,
}

impl Default for AttributeMap {
    fn default() -> Self {
        AttributeMap {
            id: "entryUUID".into(),
            name: "cn".into(),
            username: "uid".into(),
            department: "ou".into(),
            title: "title".into(),
            location: "l".into(),
            extension: "telephoneNumber".into(),
            mobile: "mobile".into(),
            other_numbers: "homePhone".into(),
            email: "mail".into(),
            xmpp: String::new(),
        }
    }
}

impl AttributeMap {
    /// Each field's name (as `Record::check` names it) and its attribute.
    fn fields(&self) -> [(&'static str, &str); 11] {
        [
            ("id", &self.id),
            ("name", &self.name),
            ("username", &self.username),
            ("department", &self.department),
            ("title", &self.title),
            ("location", &self.location),
            ("extension", &self.extension),
            ("mobile", &self.mobile),
            ("other_numbers", &self.other_numbers),
            ("email", &self.email),
            ("xmpp", &self.xmpp),
        ]
    }

    /// The attributes the search asks for, each once.
    fn requested(&self) -> Vec<String> {
        let mut requested: Vec<String> = Vec::new();
        for (_, attribute) in self.fields() {
            if !attribute.is_empty() && !requested.iter().any(|a| a.eq_ignore_ascii_case(attribute))
            {
                requested.push(attribute.to_owned());
            }
        }
        requested
    }

    /// The attribute read for a field `Record::check` named.
    fn attribute_of(&self, field: &str) -> &str {
        self.fields()
            .into_iter()
            .find(|(name, _)| *name == field)
            .map_or("", |(_, attribute)| attribute)
    }
}

impl LdapConfig {
    /// Checks the values at start; each message names the key and the fix.
    pub fn check(&self) -> Result<(), String> {
        let (tls, rest) = if let Some(rest) = self.url.strip_prefix("ldaps://") {
            (true, rest)
        } else if let Some(rest) = self.url.strip_prefix("ldap://") {
            (false, rest)
        } else {
            return Err(format!(
                "directory.ldap.url {:?} must start with ldap:// or ldaps:// \
                 (e.g. \"ldaps://dc1.example.com\")",
                self.url
            ));
        };
        if rest.split('/').next().unwrap_or_default().is_empty() {
            return Err(format!(
                "directory.ldap.url {:?} has no host (e.g. \"ldap://ldap.example.com:389\")",
                self.url
            ));
        }
        if tls && self.starttls {
            return Err(
                "directory.ldap.starttls is for ldap:// URLs; an ldaps:// URL is TLS already: \
                 remove one of them"
                    .into(),
            );
        }
        if self.ca_file.is_some() && !tls && !self.starttls {
            return Err(
                "directory.ldap.ca_file is used only with an ldaps:// URL or starttls = true; \
                 set one of them or remove ca_file"
                    .into(),
            );
        }
        match (&self.bind_dn, &self.password_file) {
            (Some(dn), _) if dn.trim().is_empty() => {
                return Err(
                    "directory.ldap.bind_dn is empty: give the DN to bind as, or remove it to \
                     bind anonymously"
                        .into(),
                );
            }
            (Some(_), None) => {
                return Err(
                    "directory.ldap.password_file is required with bind_dn: the file holding \
                     the bind password"
                        .into(),
                );
            }
            (None, Some(_)) => {
                return Err(
                    "directory.ldap.password_file is set but bind_dn is not: add the DN to \
                     bind as, or remove password_file to bind anonymously"
                        .into(),
                );
            }
            _ => {}
        }
        if self.base_dn.trim().is_empty() {
            return Err(
                "directory.ldap.base_dn is empty: give the DN the search starts at \
                 (e.g. \"ou=people,dc=example,dc=com\")"
                    .into(),
            );
        }
        if ldap3::parse_filter(&self.filter).is_err() {
            return Err(format!(
                "directory.ldap.filter {:?} is not an LDAP filter \
                 (e.g. \"(objectClass=inetOrgPerson)\")",
                self.filter
            ));
        }
        if self.interval_seconds < MIN_INTERVAL_SECONDS {
            return Err(format!(
                "directory.ldap.interval_seconds must be at least {MIN_INTERVAL_SECONDS} \
                 (it is {})",
                self.interval_seconds
            ));
        }
        for (field, attribute) in self.attributes.fields() {
            if attribute.is_empty() {
                if matches!(field, "id" | "name") {
                    return Err(format!(
                        "directory.ldap.attributes.{field} must name an attribute: it is \
                         required (default {:?})",
                        AttributeMap::default().attribute_of(field)
                    ));
                }
                continue;
            }
            let valid = attribute.starts_with(|c: char| c.is_ascii_alphanumeric())
                && attribute
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !valid {
                return Err(format!(
                    "directory.ldap.attributes.{field} {attribute:?} is not an attribute name \
                     (letters, digits and '-', or an OID)"
                ));
            }
        }
        Ok(())
    }
}

/// Why a sync failed; the text goes to [`SyncStatus::error`] and the log, and the directory
/// keeps its last good state.
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    /// The server cannot be reached, or the TLS handshake failed.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        url: String,
        source: Box<ldap3::LdapError>,
    },
    /// `ca_file` or the system's trusted roots cannot be used.
    #[error("{0}")]
    Tls(String),
    /// The password file cannot be read or is empty.
    #[error("cannot use directory.ldap.password_file {path}: {reason}")]
    PasswordFile { path: PathBuf, reason: String },
    /// The server refused the bind (wrong DN or password, locked account).
    #[error("bind as {dn:?} refused: {source}")]
    Bind {
        dn: String,
        source: Box<ldap3::LdapError>,
    },
    /// The search failed or ended early (no such base, a size or time limit).
    #[error("search under {base:?} failed: {source}")]
    Search {
        base: String,
        source: Box<ldap3::LdapError>,
    },
    /// The server sent an entry that is not a well-formed LDAP entry.
    #[error("search under {base:?} failed: the server sent a malformed entry")]
    Malformed { base: String },
    /// The search found nobody: taken for a wrong base or filter rather than an empty company.
    #[error(
        "the search under {base:?} with filter {filter} found no entries; the directory is left \
         as it was (check directory.ldap.base_dn and filter)"
    )]
    NoEntries { base: String, filter: String },
    /// An entry lacks a required attribute or has a value the directory cannot take.
    #[error("entry {dn:?}: {column}: {reason}")]
    Entry {
        dn: String,
        /// The field and its attribute, e.g. `email (mail)`.
        column: String,
        reason: String,
    },
}

/// Reads every person the configuration selects; fails as a whole on the first problem.
pub async fn fetch(config: &LdapConfig) -> Result<Vec<Record>, LdapError> {
    let password = match (&config.bind_dn, &config.password_file) {
        (Some(_), Some(path)) => Some(read_password(path).await?),
        _ => None,
    };
    let tls = config.url.starts_with("ldaps://") || config.starttls;
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(TIMEOUT)
        .set_starttls(config.starttls);
    if tls {
        settings = settings.set_config(tls_config(config)?);
    }
    let connect = |source: ldap3::LdapError| LdapError::Connect {
        url: config.url.clone(),
        source: Box::new(source),
    };
    // ldap3's connection timeout covers TCP only; this one bounds TLS and StartTLS too.
    let (connection, mut ldap) = tokio::time::timeout(
        TIMEOUT * 2,
        LdapConnAsync::with_settings(settings, &config.url),
    )
    .await
    .map_err(|elapsed| connect(elapsed.into()))?
    .map_err(connect)?;
    tokio::spawn(async move {
        if let Err(err) = connection.drive().await {
            tracing::debug!(%err, "LDAP connection ended");
        }
    });
    if let (Some(dn), Some(password)) = (&config.bind_dn, &password) {
        let bind = |source: ldap3::LdapError| LdapError::Bind {
            dn: dn.clone(),
            source: Box::new(source),
        };
        ldap.with_timeout(TIMEOUT)
            .simple_bind(dn, password)
            .await
            .and_then(|result| result.success())
            .map_err(bind)?;
    }
    let records = search(&mut ldap, config).await?;
    if let Err(err) = ldap.unbind().await {
        tracing::debug!(%err, "LDAP unbind");
    }
    Ok(records)
}

/// The paged search and the mapping of its entries.
async fn search(ldap: &mut ldap3::Ldap, config: &LdapConfig) -> Result<Vec<Record>, LdapError> {
    let base = &config.base_dn;
    let failed = |source: ldap3::LdapError| LdapError::Search {
        base: base.clone(),
        source: Box::new(source),
    };
    // Entries only: Active Directory also answers with referrals to other partitions.
    let adapters: Vec<Box<dyn Adapter<_, _>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(PAGE_SIZE)),
    ];
    let mut stream = ldap
        .with_timeout(TIMEOUT)
        .streaming_search_with(
            adapters,
            base,
            Scope::Subtree,
            &config.filter,
            config.attributes.requested(),
        )
        .await
        .map_err(failed)?;
    let mut records = Vec::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    while let Some(raw) = stream.next().await.map_err(failed)? {
        // `construct` panics on an entry that is not one; a server must not crash the sync.
        let entry = std::panic::catch_unwind(move || SearchEntry::construct(raw))
            .map_err(|_| LdapError::Malformed { base: base.clone() })?;
        let record = record_from_entry(&entry, &config.attributes)?;
        if let Some(first) = seen.insert(record.external_id.clone(), entry.dn.clone()) {
            return Err(LdapError::Entry {
                column: format!("id ({})", config.attributes.id),
                reason: format!(
                    "{:?} is also the id of {first:?}: ids must be unique",
                    record.external_id
                ),
                dn: entry.dn,
            });
        }
        records.push(record);
    }
    // A size or time limit ends the stream early with an error code here: never take a part
    // of the company for the whole of it.
    stream.finish().await.success().map_err(failed)?;
    if records.is_empty() {
        return Err(LdapError::NoEntries {
            base: base.clone(),
            filter: config.filter.clone(),
        });
    }
    Ok(records)
}

async fn read_password(path: &std::path::Path) -> Result<String, LdapError> {
    let failed = |reason: String| LdapError::PasswordFile {
        path: path.into(),
        reason,
    };
    let text = tokio::fs::read_to_string(path)
        .await
        .map_err(|err| failed(err.to_string()))?;
    let password = text.strip_suffix('\n').unwrap_or(&text);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        // An empty password makes a bind "unauthenticated": it would succeed as nobody.
        return Err(failed("the file is empty".into()));
    }
    Ok(password.to_owned())
}

/// rustls settings trusting `ca_file`, or else the system's roots.
fn tls_config(config: &LdapConfig) -> Result<Arc<ClientConfig>, LdapError> {
    let mut roots = RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let unusable = |reason: String| {
                LdapError::Tls(format!(
                    "directory.ldap.ca_file {}: {reason}",
                    path.display()
                ))
            };
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|err| unusable(err.to_string()))?;
            if certs.is_empty() {
                return Err(unusable(
                    "holds no certificate (a PEM file with `BEGIN CERTIFICATE` blocks)".into(),
                ));
            }
            for cert in certs {
                roots.add(cert).map_err(|err| unusable(err.to_string()))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            for err in &found.errors {
                tracing::debug!(%err, "loading the system's trusted roots");
            }
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(LdapError::Tls(
                    "this system has no trusted root certificates: set directory.ldap.ca_file"
                        .into(),
                ));
            }
        }
    }
    // The provider is named rather than taken from the process default, as for the server's
    // own TLS.
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|err| LdapError::Tls(format!("TLS settings: {err}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Every value of `attribute` as bytes: text or binary, whichever way the server sent it.
fn values<'e>(entry: &'e SearchEntry, attribute: &str) -> Vec<&'e [u8]> {
    if attribute.is_empty() {
        return Vec::new();
    }
    let text = entry
        .attrs
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .flat_map(|(_, values)| values.iter().map(String::as_bytes));
    let binary = entry
        .bin_attrs
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(attribute))
        .flat_map(|(_, values)| values.iter().map(Vec::as_slice));
    text.chain(binary).collect()
}

/// Active Directory's text form of an `objectGUID`: the first three groups little-endian.
fn guid_text(bytes: &[u8; 16]) -> String {
    let hex = |range: &[u8]| range.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let reversed = |range: &[u8]| hex(&range.iter().rev().copied().collect::<Vec<u8>>());
    format!(
        "{}-{}-{}-{}-{}",
        reversed(&bytes[0..4]),
        reversed(&bytes[4..6]),
        reversed(&bytes[6..8]),
        hex(&bytes[8..10]),
        hex(&bytes[10..16])
    )
}

/// Maps one search entry to a record and checks it; the error names the entry's DN, the
/// field and its attribute.
fn record_from_entry(entry: &SearchEntry, map: &AttributeMap) -> Result<Record, LdapError> {
    let bad = |field: &str, reason: String| LdapError::Entry {
        dn: entry.dn.clone(),
        column: format!("{field} ({})", map.attribute_of(field)),
        reason,
    };
    // Every value of a field as trimmed text, the empty ones left out.
    let texts = |field: &str| -> Result<Vec<String>, LdapError> {
        let mut texts = Vec::new();
        for value in values(entry, map.attribute_of(field)) {
            let text = std::str::from_utf8(value)
                .map_err(|_| bad(field, "a value is not text (UTF-8)".into()))?
                .trim();
            if text.chars().count() > MAX_FIELD_CHARS {
                return Err(bad(
                    field,
                    format!("longer than {MAX_FIELD_CHARS} characters"),
                ));
            }
            if !text.is_empty() {
                texts.push(text.to_owned());
            }
        }
        Ok(texts)
    };
    let first = |field: &str| -> Result<String, LdapError> {
        Ok(texts(field)?.into_iter().next().unwrap_or_default())
    };

    let id = match values(entry, &map.id).first() {
        None => return Err(bad("id", "the entry has no such attribute".into())),
        Some(value) if map.id.eq_ignore_ascii_case("objectGUID") => {
            match <&[u8; 16]>::try_from(*value) {
                Ok(guid) => guid_text(guid),
                Err(_) => {
                    return Err(bad(
                        "id",
                        format!("{} bytes where a GUID has 16", value.len()),
                    ));
                }
            }
        }
        Some(value) => match std::str::from_utf8(value) {
            Ok(text) => text.trim().to_owned(),
            Err(_) => value.iter().map(|b| format!("{b:02x}")).collect(),
        },
    };
    let name = first("name")?;
    if name.is_empty() {
        return Err(bad("name", "the entry has no such attribute".into()));
    }
    let username = first("username")?.to_lowercase();

    // The extension first, then the mobile, then the extension's further values and the
    // others; each number once.
    let mut extensions = texts("extension")?.into_iter();
    let mut ordered: Vec<(&str, String)> = Vec::new();
    ordered.extend(extensions.next().map(|n| ("extension", n)));
    ordered.extend(texts("mobile")?.into_iter().map(|n| ("mobile", n)));
    ordered.extend(extensions.map(|n| ("extension", n)));
    for number in texts("other_numbers")? {
        ordered.push(("other_numbers", number));
    }
    let mut numbers: Vec<String> = Vec::new();
    for (field, number) in ordered {
        check_number(&number).map_err(|reason| bad(field, reason))?;
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }

    let record = Record {
        external_id: id,
        name,
        username: (!username.is_empty()).then_some(username),
        department: first("department")?,
        title: first("title")?,
        location: first("location")?,
        numbers,
        email: first("email")?,
        xmpp: first("xmpp")?,
    };
    record
        .check()
        .map_err(|(field, reason)| bad(field, reason))?;
    Ok(record)
}

/// Fetches and applies the directory once, stores the outcome in `directory_sync` and
/// returns it. On any error the directory is untouched.
pub async fn sync_once(db: &AnyPool, config: &LdapConfig) -> SyncStatus {
    let started = Instant::now();
    let outcome = match fetch(config).await {
        Err(err) => Err(err.to_string()),
        Ok(records) => {
            let by = Applier {
                actor: "ldap-sync",
                action: "directory.sync",
                create_accounts: config.create_accounts,
                deactivate_removed: config.create_accounts,
            };
            import::apply(db, &records, by, false)
                .await
                .map(|diff| (diff, records.len()))
                .map_err(|err| match err {
                    AppError::Database(err) => format!("storing the directory failed: {err}"),
                    AppError::Internal(reason) => format!("storing the directory failed: {reason}"),
                    err => err.to_string(),
                })
        }
    };
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let mut status = SyncStatus {
        configured: true,
        finished_at_ms: Some(now_ms()),
        ..SyncStatus::default()
    };
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match outcome {
        Ok((diff, entries)) => {
            status.added = count(diff.added.len());
            status.changed = count(diff.changed.len());
            status.removed = count(diff.removed.len());
            tracing::info!(
                entries,
                added = status.added,
                changed = status.changed,
                removed = status.removed,
                elapsed_ms,
                "directory synced from LDAP"
            );
        }
        Err(error) => {
            tracing::warn!(
                %error,
                elapsed_ms,
                "directory sync from LDAP failed; the directory keeps its last good state"
            );
            status.error = Some(error);
        }
    }
    if let Err(err) = store(db, &status).await {
        tracing::error!(%err, "storing the LDAP sync status");
    }
    status
}

async fn store(db: &AnyPool, status: &SyncStatus) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO directory_sync (id, finished_at_ms, added, changed, removed, error) \
         VALUES (1, $1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET finished_at_ms = excluded.finished_at_ms, \
         added = excluded.added, changed = excluded.changed, removed = excluded.removed, \
         error = excluded.error",
    )
    .bind(status.finished_at_ms.unwrap_or_else(now_ms))
    .bind(i64::from(status.added))
    .bind(i64::from(status.changed))
    .bind(i64::from(status.removed))
    .bind(&status.error)
    .execute(db)
    .await?;
    Ok(())
}

/// A stored count (a BIGINT on every database).
fn count(row: &sqlx::any::AnyRow, column: &str) -> Result<u32, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    value.try_into().map_err(|err| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(err),
    })
}

/// The last sync's outcome as stored; an empty status before the first.
pub async fn last_status(db: &AnyPool, configured: bool) -> Result<SyncStatus, sqlx::Error> {
    let row = sqlx::query(
        "SELECT finished_at_ms, added, changed, removed, error FROM directory_sync WHERE id = 1",
    )
    .fetch_optional(db)
    .await?;
    let Some(row) = row else {
        return Ok(SyncStatus {
            configured,
            ..SyncStatus::default()
        });
    };
    Ok(SyncStatus {
        configured,
        finished_at_ms: Some(row.try_get("finished_at_ms")?),
        added: count(&row, "added")?,
        changed: count(&row, "changed")?,
        removed: count(&row, "removed")?,
        error: row.try_get("error")?,
    })
}

/// Syncs at start, then every `interval_seconds` after the last sync ended, and at once when
/// `now` is notified ("Sync now"; a notification during a sync brings one more after it).
/// Returns on shutdown, abandoning a sync in progress (its transaction is rolled back).
pub async fn run(db: AnyPool, config: LdapConfig, now: Arc<Notify>, shutdown: CancellationToken) {
    let every = Duration::from_secs(config.interval_seconds.max(MIN_INTERVAL_SECONDS));
    tracing::info!(
        url = %config.url,
        base_dn = %config.base_dn,
        every_s = every.as_secs(),
        "syncing the directory from LDAP"
    );
    loop {
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = sync_once(&db, &config) => {}
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return,
            _ = now.notified() => tracing::info!("LDAP sync asked for"),
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> LdapConfig {
        toml::from_str(toml).unwrap()
    }

    const MINIMAL: &str = "url = \"ldap://127.0.0.1:389\"\nbase_dn = \"dc=example,dc=com\"\n";

    fn entry(dn: &str, attrs: &[(&str, &[&str])]) -> SearchEntry {
        SearchEntry {
            dn: dn.into(),
            attrs: attrs
                .iter()
                .map(|(name, values)| {
                    let values = values.iter().map(|v| (*v).to_owned()).collect();
                    ((*name).to_owned(), values)
                })
                .collect(),
            bin_attrs: HashMap::new(),
        }
    }

    fn person() -> SearchEntry {
        entry(
            "uid=ann,ou=people,dc=example,dc=com",
            &[
                ("entryUUID", &["5d3b2a4e-1c0f-103f-8a8e-9b1d1f7c0a01"]),
                ("cn", &["Ann Arbor", "Annie"]),
                ("uid", &["Ann.A"]),
                ("ou", &["Sales"]),
                ("title", &["Head of Sales"]),
                ("l", &["Berlin"]),
                ("telephoneNumber", &["4711", "+49 30 1234"]),
                ("mobile", &["+49 170 555"]),
                ("homePhone", &["+49 30 999", "4711"]),
                ("mail", &["ann@example.com"]),
            ],
        )
    }

    #[test]
    fn defaults_suit_openldap_inetorgperson() {
        let config = config(MINIMAL);
        assert_eq!(config.filter, "(objectClass=inetOrgPerson)");
        assert_eq!(config.interval_seconds, 300);
        assert!(!config.starttls && !config.create_accounts);
        assert_eq!(config.attributes, AttributeMap::default());
        assert_eq!(config.attributes.id, "entryUUID");
        assert!(config.attributes.xmpp.is_empty());
        config.check().unwrap();
        let requested = config.attributes.requested();
        assert!(requested.contains(&"entryUUID".to_owned()), "{requested:?}");
        assert_eq!(requested.len(), 10, "{requested:?}");
    }

    #[test]
    fn attributes_can_be_changed_one_by_one() {
        let config = config(&format!(
            "{MINIMAL}[attributes]\nname = \"displayName\"\nxmpp = \"jabberID\"\nmobile = \"\"\n"
        ));
        assert_eq!(config.attributes.name, "displayName");
        assert_eq!(config.attributes.xmpp, "jabberID");
        assert_eq!(config.attributes.mobile, "");
        assert_eq!(config.attributes.id, "entryUUID");
        config.check().unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<LdapConfig>(&format!("{MINIMAL}intervall = 60\n")).is_err());
        let typo = format!("{MINIMAL}[attributes]\nphone = \"telephoneNumber\"\n");
        assert!(toml::from_str::<LdapConfig>(&typo).is_err());
    }

    #[test]
    fn check_names_the_key_and_the_fix() {
        let cases = [
            (
                "interval_seconds = 5\n",
                "directory.ldap.interval_seconds must be at least 10",
            ),
            (
                "filter = \"objectClass=person)\"\n",
                "directory.ldap.filter",
            ),
            (
                "bind_dn = \"cn=sync,dc=example,dc=com\"\n",
                "directory.ldap.password_file is required",
            ),
            ("password_file = \"/run/pw\"\n", "bind_dn is not"),
            (
                "bind_dn = \"\"\npassword_file = \"/run/pw\"\n",
                "directory.ldap.bind_dn is empty",
            ),
            (
                "ca_file = \"/etc/ca.pem\"\n",
                "directory.ldap.ca_file is used only with",
            ),
            (
                "[attributes]\nid = \"\"\n",
                "directory.ldap.attributes.id must name",
            ),
            (
                "[attributes]\nname = \"\"\n",
                "directory.ldap.attributes.name must name",
            ),
            ("[attributes]\nmail = \"x\"\n", ""),
            (
                "[attributes]\nemail = \"e mail\"\n",
                "directory.ldap.attributes.email",
            ),
        ];
        for (extra, wanted) in cases {
            let Ok(config) = toml::from_str::<LdapConfig>(&format!("{MINIMAL}{extra}")) else {
                assert!(wanted.is_empty(), "{extra} should parse");
                continue;
            };
            let err = config.check().unwrap_err();
            assert!(err.contains(wanted), "{extra}: {err}");
        }
        let url = |url: &str| LdapConfig {
            url: url.into(),
            ..config(MINIMAL)
        };
        assert!(
            url("http://x")
                .check()
                .unwrap_err()
                .contains("directory.ldap.url")
        );
        assert!(url("ldap://").check().unwrap_err().contains("no host"));
        let both = LdapConfig {
            starttls: true,
            ..url("ldaps://dc1.example.com")
        };
        assert!(
            both.check()
                .unwrap_err()
                .contains("directory.ldap.starttls")
        );
        let base = LdapConfig {
            base_dn: " ".into(),
            ..config(MINIMAL)
        };
        assert!(base.check().unwrap_err().contains("directory.ldap.base_dn"));
    }

    #[test]
    fn an_inetorgperson_becomes_a_record() {
        let record = record_from_entry(&person(), &AttributeMap::default()).unwrap();
        assert_eq!(
            record,
            Record {
                external_id: "5d3b2a4e-1c0f-103f-8a8e-9b1d1f7c0a01".into(),
                name: "Ann Arbor".into(),
                username: Some("ann.a".into()),
                department: "Sales".into(),
                title: "Head of Sales".into(),
                location: "Berlin".into(),
                // Extension, mobile, the extension's other value, the others (once each).
                numbers: vec![
                    "4711".into(),
                    "+49 170 555".into(),
                    "+49 30 1234".into(),
                    "+49 30 999".into()
                ],
                email: "ann@example.com".into(),
                xmpp: String::new(),
            }
        );
    }

    #[test]
    fn attribute_names_match_whatever_their_case() {
        let mut entry = person();
        let uuid = entry.attrs.remove("entryUUID").unwrap();
        entry.attrs.insert("entryuuid".into(), uuid);
        let name = entry.attrs.remove("cn").unwrap();
        entry.attrs.insert("CN".into(), name);
        let record = record_from_entry(&entry, &AttributeMap::default()).unwrap();
        assert_eq!(record.name, "Ann Arbor");
        assert!(!record.external_id.is_empty());
    }

    #[test]
    fn optional_attributes_may_be_missing() {
        let entry = entry(
            "cn=Lobby,dc=example,dc=com",
            &[
                ("entryUUID", &["lobby-1"]),
                ("cn", &["Lobby Phone"]),
                ("telephoneNumber", &["100"]),
            ],
        );
        let record = record_from_entry(&entry, &AttributeMap::default()).unwrap();
        assert_eq!(record.username, None);
        assert_eq!(record.numbers, ["100"]);
        assert_eq!(record.email, "");
    }

    #[test]
    fn a_bad_entry_is_named_with_its_field_and_attribute() {
        let map = AttributeMap::default();
        let failure = |entry: &SearchEntry| match record_from_entry(entry, &map) {
            Err(err @ LdapError::Entry { .. }) => err.to_string(),
            other => panic!("not an entry error: {other:?}"),
        };
        let dn = "uid=ann,ou=people,dc=example,dc=com";

        let mut no_name = person();
        no_name.attrs.remove("cn");
        let err = failure(&no_name);
        assert!(err.contains(dn) && err.contains("name (cn)"), "{err}");

        let mut no_id = person();
        no_id.attrs.remove("entryUUID");
        assert!(failure(&no_id).contains("id (entryUUID)"));

        let mut bad_phone = person();
        bad_phone
            .attrs
            .insert("mobile".into(), vec!["call me".into()]);
        let err = failure(&bad_phone);
        assert!(
            err.contains("mobile (mobile)") && err.contains("call me"),
            "{err}"
        );

        let mut bad_mail = person();
        bad_mail
            .attrs
            .insert("mail".into(), vec!["ann at example".into()]);
        assert!(failure(&bad_mail).contains("email (mail)"));

        let mut bad_username = person();
        bad_username
            .attrs
            .insert("uid".into(), vec!["ann arbor".into()]);
        assert!(failure(&bad_username).contains("username (uid)"));

        let mut binary_title = person();
        binary_title
            .bin_attrs
            .insert("title".into(), vec![vec![0xff, 0xfe]]);
        binary_title.attrs.remove("title");
        assert!(failure(&binary_title).contains("title (title)"));

        let mut long = person();
        long.attrs.insert("l".into(), vec!["x".repeat(501)]);
        assert!(failure(&long).contains("location (l)"));
    }

    #[test]
    fn an_active_directory_user_becomes_a_record() {
        let map = AttributeMap {
            id: "objectGUID".into(),
            name: "displayName".into(),
            username: "sAMAccountName".into(),
            department: "department".into(),
            location: "physicalDeliveryOfficeName".into(),
            other_numbers: "otherTelephone".into(),
            ..AttributeMap::default()
        };
        // The GUID Microsoft documents as {3F2504E0-4F89-11D3-9A0C-0305E82C3301}.
        let guid = vec![
            0xe0, 0x04, 0x25, 0x3f, 0x89, 0x4f, 0xd3, 0x11, 0x9a, 0x0c, 0x03, 0x05, 0xe8, 0x2c,
            0x33, 0x01,
        ];
        let mut user = entry(
            "CN=Bob Baker,OU=Staff,DC=example,DC=com",
            &[
                ("displayName", &["Bob Baker"]),
                ("sAMAccountName", &["BBaker"]),
                ("department", &["Support"]),
                ("physicalDeliveryOfficeName", &["Room 12"]),
                ("telephoneNumber", &["2001"]),
                ("otherTelephone", &["+1 555 0101"]),
            ],
        );
        user.bin_attrs.insert("objectGUID".into(), vec![guid]);
        let record = record_from_entry(&user, &map).unwrap();
        assert_eq!(record.external_id, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
        assert_eq!(record.username.as_deref(), Some("bbaker"));
        assert_eq!(record.location, "Room 12");
        assert_eq!(record.numbers, ["2001", "+1 555 0101"]);

        // A GUID whose bytes happen to be UTF-8 arrives as text: the same id all the same.
        let ascii: Vec<u8> = (0x30..0x40).collect();
        user.bin_attrs.clear();
        let text = String::from_utf8(ascii.clone()).unwrap();
        user.attrs.insert("objectguid".into(), vec![text]);
        let record = record_from_entry(&user, &map).unwrap();
        assert_eq!(record.external_id, guid_text(&ascii.try_into().unwrap()));
        assert_eq!(record.external_id, "33323130-3534-3736-3839-3a3b3c3d3e3f");

        user.attrs.insert("objectguid".into(), vec!["short".into()]);
        let err = record_from_entry(&user, &map).unwrap_err().to_string();
        assert!(
            err.contains("id (objectGUID)") && err.contains("16"),
            "{err}"
        );
    }
}
