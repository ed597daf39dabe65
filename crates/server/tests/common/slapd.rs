//! A throwaway OpenLDAP server for the directory sync tests: slapd on 127.0.0.1 with its
//! database and TLS certificate in a temp dir (installed with apt-get when missing, killed when
//! dropped), helpers that change its entries, and a generated company to fill it.
//!
//! Like Active Directory it returns at most 1000 entries per search to the service account
//! the sync binds as, unless the search is paged.

use std::{
    collections::HashSet,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use ldap3::{Ldap, LdapConnAsync, Mod};
use switchboard_server::directory::ldap::LdapConfig;

const SLAPD: &str = "/usr/sbin/slapd";
const LDAPADD: &str = "/usr/bin/ldapadd";
pub const SUFFIX: &str = "dc=example,dc=com";
/// Where the people are.
pub const PEOPLE: &str = "ou=people,dc=example,dc=com";
const ROOT_DN: &str = "cn=admin,dc=example,dc=com";
const ROOT_PASSWORD: &str = "root-secret";
/// The service account the sync binds as: an ordinary user, so the size limit applies.
pub const SYNC_DN: &str = "cn=switchboard,dc=example,dc=com";
pub const SYNC_PASSWORD: &str = "sync-secret";
/// Longest wait for slapd to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// A running slapd; killed when dropped or [stopped](Slapd::stop).
pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `ldap://127.0.0.1:PORT` (StartTLS works on it too).
    pub url: String,
    /// `ldaps://127.0.0.1:PORT`.
    pub ldaps_url: String,
    /// PEM of the server's self-signed certificate (for 127.0.0.1 and localhost).
    pub ca_file: PathBuf,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ensure_installed() {
    super::debian::ensure_installed(&["slapd", "ldap-utils"], &[SLAPD, LDAPADD]);
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Slapd {
    /// Starts slapd with the base entries (the suffix, `ou=people`, the service account) and
    /// waits until it answers.
    pub async fn start() -> Self {
        tokio::task::spawn_blocking(ensure_installed).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let path = |name: &str| root.join(name);
        std::fs::create_dir(path("db")).unwrap();
        let names = ["127.0.0.1".to_owned(), "localhost".to_owned()];
        let made = rcgen::generate_simple_self_signed(names).unwrap();
        std::fs::write(path("cert.pem"), made.cert.pem()).unwrap();
        std::fs::write(path("key.pem"), made.signing_key.serialize_pem()).unwrap();
        std::fs::write(path("sync-password"), format!("{SYNC_PASSWORD}\n")).unwrap();
        let config = format!(
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             TLSCertificateFile {cert}\n\
             TLSCertificateKeyFile {key}\n\
             # As Active Directory's MaxPageSize: 1000 entries, unless the search is paged.\n\
             sizelimit size.soft=1000 size.hard=1000 size.prtotal=unlimited\n\
             database mdb\n\
             maxsize 1073741824\n\
             dbnosync\n\
             suffix \"{SUFFIX}\"\n\
             rootdn \"{ROOT_DN}\"\n\
             rootpw {ROOT_PASSWORD}\n\
             directory {db}\n\
             access to attrs=userPassword by anonymous auth by * none\n\
             access to * by users read by * none\n",
            cert = path("cert.pem").display(),
            key = path("key.pem").display(),
            db = path("db").display(),
        );
        std::fs::write(path("slapd.conf"), config).unwrap();

        let mut slapd = Slapd {
            ca_file: path("cert.pem"),
            child: None,
            url: String::new(),
            ldaps_url: String::new(),
            dir,
        };
        // A port taken between the probe and slapd's bind makes slapd exit: try again.
        for _attempt in 0..3 {
            slapd.url = format!("ldap://127.0.0.1:{}", free_port());
            slapd.ldaps_url = format!("ldaps://127.0.0.1:{}", free_port());
            let root = slapd.dir.path();
            let log = std::fs::File::create(root.join("slapd.log")).unwrap();
            let child = Command::new(SLAPD)
                .args(["-d", "0", "-h"])
                .arg(format!("{}/ {}/", slapd.url, slapd.ldaps_url))
                .arg("-f")
                .arg(root.join("slapd.conf"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("slapd starts");
            slapd.child = Some(child);
            if slapd.wait_until_answering().await {
                slapd.add_base().await;
                return slapd;
            }
            slapd.stop();
        }
        panic!("slapd did not start in 3 attempts");
    }

    /// Waits until slapd takes a bind; false if it exited (a port taken). Panics on timeout.
    async fn wait_until_answering(&mut self) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                let log = std::fs::read_to_string(self.dir.path().join("slapd.log"));
                eprintln!(
                    "slapd exited at start ({status}): {}",
                    log.unwrap_or_default()
                );
                return false;
            }
            if self.try_admin().await.is_some() {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "slapd did not answer within {START_TIMEOUT:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills slapd (a server that went away); its data stays until this is dropped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn try_admin(&self) -> Option<Ldap> {
        let (connection, mut ldap) = LdapConnAsync::new(&self.url).await.ok()?;
        tokio::spawn(async move {
            let _ = connection.drive().await;
        });
        ldap.with_timeout(Duration::from_secs(5))
            .simple_bind(ROOT_DN, ROOT_PASSWORD)
            .await
            .ok()?
            .success()
            .ok()?;
        Some(ldap)
    }

    /// A connection bound as the root DN.
    pub async fn admin(&self) -> Ldap {
        self.try_admin().await.expect("slapd takes the root bind")
    }

    async fn add_base(&self) {
        let organization = [
            ("objectClass", &["dcObject", "organization"][..]),
            ("dc", &["example"]),
            ("o", &["Example Inc."]),
        ];
        self.add(SUFFIX, &organization).await;
        let people = [
            ("objectClass", &["organizationalUnit"][..]),
            ("ou", &["people"]),
        ];
        self.add(PEOPLE, &people).await;
        let service = [
            (
                "objectClass",
                &["applicationProcess", "simpleSecurityObject"][..],
            ),
            ("cn", &["switchboard"]),
            ("userPassword", &[SYNC_PASSWORD]),
        ];
        self.add(SYNC_DN, &service).await;
    }

    /// Adds people (32 requests in flight at once on one connection).
    pub async fn add_people(&self, people: &[Person]) {
        let ldap = self.admin().await;
        let results: Vec<_> = stream::iter(people)
            .map(|person| {
                let mut ldap = ldap.clone();
                async move {
                    let result = ldap.add(&person.dn(), person.attributes()).await;
                    (person.dn(), result.and_then(|r| r.success()))
                }
            })
            .buffer_unordered(32)
            .collect()
            .await;
        for (dn, result) in results {
            result.unwrap_or_else(|err| panic!("adding {dn}: {err}"));
        }
    }

    /// Adds an entry with these attributes (e.g. a person with a malformed value).
    pub async fn add(&self, dn: &str, attributes: &[(&str, &[&str])]) {
        let attributes = attributes
            .iter()
            .map(|(name, values)| (*name, values.iter().copied().collect()))
            .collect();
        let result = self.admin().await.add(dn, attributes).await;
        result
            .and_then(|r| r.success())
            .unwrap_or_else(|err| panic!("adding {dn}: {err}"));
    }

    /// Replaces the values of one attribute of an entry.
    pub async fn replace(&self, dn: &str, attribute: &str, values: &[&str]) {
        let values: HashSet<&str> = values.iter().copied().collect();
        let result = self
            .admin()
            .await
            .modify(dn, vec![Mod::Replace(attribute, values)])
            .await;
        result
            .and_then(|r| r.success())
            .unwrap_or_else(|err| panic!("modifying {dn}: {err}"));
    }

    /// Deletes an entry.
    pub async fn delete(&self, dn: &str) {
        let result = self.admin().await.delete(dn).await;
        result
            .and_then(|r| r.success())
            .unwrap_or_else(|err| panic!("deleting {dn}: {err}"));
    }

    /// A file in this server's temp dir holding `text` (e.g. a wrong password).
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The sync's configuration for this server: bound as the service account, people under
    /// [`PEOPLE`], default attributes; `extra` is more TOML (e.g. `create_accounts = true`).
    pub fn config(&self, extra: &str) -> LdapConfig {
        let toml = format!(
            "url = \"{url}\"\nbind_dn = \"{SYNC_DN}\"\npassword_file = \"{password}\"\n\
             base_dn = \"{PEOPLE}\"\ninterval_seconds = 10\n{extra}\n",
            url = self.url,
            password = self.dir.path().join("sync-password").display(),
        );
        let config: LdapConfig = toml::from_str(&toml).unwrap();
        config.check().unwrap();
        config
    }
}

/// A person of the generated company, with the attributes of an OpenLDAP `inetOrgPerson`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub uid: String,
    pub cn: String,
    pub sn: String,
    pub ou: String,
    pub title: String,
    pub l: String,
    pub telephone_number: String,
    pub mobile: String,
    pub mail: String,
}

impl Person {
    pub fn dn(&self) -> String {
        format!("uid={},{PEOPLE}", self.uid)
    }

    fn attributes(&self) -> Vec<(&str, HashSet<&str>)> {
        [
            ("objectClass", "inetOrgPerson"),
            ("uid", self.uid.as_str()),
            ("cn", self.cn.as_str()),
            ("sn", self.sn.as_str()),
            ("ou", self.ou.as_str()),
            ("title", self.title.as_str()),
            ("l", self.l.as_str()),
            ("telephoneNumber", self.telephone_number.as_str()),
            ("mobile", self.mobile.as_str()),
            ("mail", self.mail.as_str()),
        ]
        .into_iter()
        .map(|(name, value)| (name, HashSet::from([value])))
        .collect()
    }
}

const FIRST: [&str; 20] = [
    "Ada", "Ben", "Chloe", "Dan", "Eva", "Finn", "Gina", "Hugo", "Iris", "Jon", "Kara", "Liam",
    "Mia", "Nils", "Olga", "Paul", "Quinn", "Rosa", "Sven", "Tara",
];
const LAST: [&str; 20] = [
    "Adams", "Brook", "Clark", "Dorn", "Ellis", "Frost", "Grant", "Hale", "Ives", "Jung", "Kemp",
    "Lund", "Moss", "Nash", "Orr", "Price", "Quist", "Reed", "Stone", "Todd",
];
const DEPARTMENTS: [&str; 8] = [
    "Sales",
    "Support",
    "Engineering",
    "Finance",
    "Legal",
    "Marketing",
    "Operations",
    "People",
];
const TITLES: [&str; 6] = [
    "Assistant",
    "Specialist",
    "Engineer",
    "Manager",
    "Director",
    "Consultant",
];
const LOCATIONS: [&str; 5] = ["Berlin", "Boston", "Lyon", "Oslo", "Porto"];

/// Person number `n` of the generated company: unique uid, name, number and address.
pub fn person(n: usize) -> Person {
    let initial = char::from(b'A' + (n / FIRST.len() % 26) as u8);
    let last = LAST[n / (FIRST.len() * 26) % LAST.len()];
    // Unique for the first 10,400 people; a number after the name keeps the rest unique.
    let round = n / (FIRST.len() * 26 * LAST.len());
    let suffix = if round > 0 {
        format!(" {round}")
    } else {
        String::new()
    };
    let uid = format!("p{n:05}");
    Person {
        cn: format!("{} {initial}. {last}{suffix}", FIRST[n % FIRST.len()]),
        sn: last.to_owned(),
        ou: DEPARTMENTS[n % DEPARTMENTS.len()].to_owned(),
        title: TITLES[n % TITLES.len()].to_owned(),
        l: LOCATIONS[n % LOCATIONS.len()].to_owned(),
        telephone_number: format!("{}", 20_000 + n),
        mobile: format!("+1 555 {n:07}"),
        mail: format!("{uid}@example.com"),
        uid,
    }
}

/// The first `count` people of the generated company.
pub fn company(count: usize) -> Vec<Person> {
    (0..count).map(person).collect()
}
