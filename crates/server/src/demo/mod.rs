//! `--demo`: seeds a demo company, once (running it again changes nothing), and its bots.

pub mod bots;

use sqlx::AnyPool;

use crate::{auth::hash_password_off_thread, error::AppError};

/// The accounts people sign in to: (username = password, display name, department, title).
const ACCOUNTS: [(&str, &str, &str, &str); 5] = [
    ("operator", "Operator", "Reception", "Switchboard operator"),
    ("alice", "Alice Archer", "Sales", "Account manager"),
    ("bob", "Bob Baker", "Engineering", "Software engineer"),
    ("carol", "Carol Carter", "Finance", "Controller"),
    ("dave", "Dave Dalton", "Support", "Support lead"),
];

const FIRST_NAMES: [&str; 16] = [
    "Amelia", "Bruno", "Chloe", "Diego", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Keiko", "Liam", "Maya", "Noah", "Olga", "Priya",
];
const LAST_NAMES: [&str; 15] = [
    "Abbott",
    "Brennan",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
];
const DEPARTMENTS: [(&str, &str); 8] = [
    ("Sales", "Sales representative"),
    ("Engineering", "Engineer"),
    ("Finance", "Accountant"),
    ("Support", "Support specialist"),
    ("Marketing", "Marketing specialist"),
    ("Legal", "Counsel"),
    ("Human Resources", "HR partner"),
    ("Facilities", "Facilities coordinator"),
];
const LOCATIONS: [&str; 4] = [
    "Head office, floor 1",
    "Head office, floor 2",
    "Harbour site",
    "Remote",
];

/// Directory entries that belong to no user: blank presence, no IM option.
const SHARED_PHONES: [(&str, &str, &str); 3] = [
    ("Lobby Phone", "Facilities", "Head office, lobby"),
    (
        "Conference Room Atlas",
        "Facilities",
        "Head office, floor 2",
    ),
    ("Loading Dock", "Facilities", "Harbour site"),
];

/// The demo's administrator (password = user name); it has no directory entry.
const ADMIN: (&str, &str) = ("admin", "Administrator");

/// Seeds the demo company unless it is already there, then its roles (once: an admin may
/// change them later).
pub async fn seed(db: &AnyPool) -> Result<(), AppError> {
    let seeded: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE username = 'operator'")
            .fetch_optional(db)
            .await?;
    if seeded.is_none() {
        seed_company(db).await?;
    }
    let admin: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
        .bind(ADMIN.0)
        .fetch_optional(db)
        .await?;
    if admin.is_none() {
        let hash = hash_password_off_thread(ADMIN.0.to_owned()).await?;
        let mut tx = crate::storage::begin_write(db).await?;
        let id = insert_user(&mut tx, ADMIN.0, ADMIN.1, Some(&hash)).await?;
        sqlx::query("UPDATE users SET role = 'admin' WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE users SET role = 'operator' WHERE username = 'operator'")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn seed_company(db: &AnyPool) -> Result<(), AppError> {
    let mut hashes = Vec::with_capacity(ACCOUNTS.len());
    for (username, ..) in ACCOUNTS {
        hashes.push(hash_password_off_thread(username.to_owned()).await?);
    }

    let mut tx = crate::storage::begin_write(db).await?;
    let mut extension = 2000;
    for ((username, display_name, department, title), hash) in ACCOUNTS.into_iter().zip(hashes) {
        extension += 1;
        let user = insert_user(&mut tx, username, display_name, Some(&hash)).await?;
        let entry = Entry {
            name: display_name,
            department,
            title,
            location: LOCATIONS[0],
        };
        insert_entry(&mut tx, &entry, extension, Some(user)).await?;
    }
    // Colleagues who have accounts but never sign in to the demo: they show offline.
    for (i, (first, last)) in LAST_NAMES
        .iter()
        .flat_map(|last| FIRST_NAMES.iter().map(move |first| (first, last)))
        .enumerate()
    {
        extension += 1;
        let name = format!("{first} {last}");
        let username = format!("{}.{}", first.to_lowercase(), last.to_lowercase());
        let user = insert_user(&mut tx, &username, &name, None).await?;
        let (department, title) = DEPARTMENTS[i % DEPARTMENTS.len()];
        let entry = Entry {
            name: &name,
            department,
            title,
            location: LOCATIONS[i % LOCATIONS.len()],
        };
        insert_entry(&mut tx, &entry, extension, Some(user)).await?;
    }
    for (name, department, location) in SHARED_PHONES {
        extension += 1;
        let entry = Entry {
            name,
            department,
            title: "",
            location,
        };
        insert_entry(&mut tx, &entry, extension, None).await?;
    }
    tx.commit().await?;
    tracing::info!("demo company seeded");
    Ok(())
}

async fn insert_user(
    tx: &mut sqlx::AnyConnection,
    username: &str,
    display_name: &str,
    password_hash: Option<&str>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO users (username, display_name, password_hash) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(username)
    .bind(display_name)
    .bind(password_hash)
    .fetch_one(tx)
    .await
}

struct Entry<'a> {
    name: &'a str,
    department: &'a str,
    title: &'a str,
    location: &'a str,
}

async fn insert_entry(
    tx: &mut sqlx::AnyConnection,
    entry: &Entry<'_>,
    extension: u32,
    user: Option<i64>,
) -> Result<(), sqlx::Error> {
    let numbers = serde_json::json!([extension.to_string(), format!("+1 555 {extension:04}")]);
    sqlx::query(
        "INSERT INTO directory_entries (external_id, name, numbers, department, title, \
         location, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(format!("ext-{extension}"))
    .bind(entry.name)
    .bind(numbers.to_string())
    .bind(entry.department)
    .bind(entry.title)
    .bind(entry.location)
    .bind(user)
    .execute(tx)
    .await?;
    Ok(())
}

/// Password of every load-test account.
pub const BENCH_PASSWORD: &str = "bench";

/// Seeds accounts `bench1`..`bench{count}` that do not exist yet. They share one password
/// hash: hashing thousands of passwords would take minutes, and these accounts guard nothing.
pub async fn seed_bench_users(db: &AnyPool, count: u32) -> Result<(), AppError> {
    let hash = hash_password_off_thread(BENCH_PASSWORD.to_owned()).await?;
    let mut tx = crate::storage::begin_write(db).await?;
    for n in 1..=count {
        let username = format!("bench{n}");
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
            .bind(&username)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_some() {
            continue;
        }
        let name = format!("Bench User {n}");
        let user = insert_user(&mut tx, &username, &name, Some(&hash)).await?;
        let entry = Entry {
            name: &name,
            department: "Load test",
            title: "",
            location: "",
        };
        insert_entry(&mut tx, &entry, 100_000 + n, Some(user)).await?;
    }
    tx.commit().await?;
    tracing::info!(count, "bench users ready");
    Ok(())
}
