//! Chaos test across the XMPP bridge: consoles and XMPP users, in pairs, chat both ways at a
//! fixed total rate while Prosody and then the Switchboard server are killed (SIGKILL) and
//! restarted. Every message either side had acknowledged must arrive exactly once: a
//! console's (acknowledged by `chat_ack`) at its XMPP user, once after de-duplication by
//! origin-id as XMPP clients do (copies sent again after a lost link are counted apart); an
//! XMPP user's (acknowledged by its delivery receipt) stored once by Switchboard. Talks only
//! to 127.0.0.1; bounded in time.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use clap::Parser;
use rand::{SeedableRng, rngs::StdRng};
use sqlx::Row;
use switchboard_loadgen::{
    client::{self, Connection},
    console::BENCH_PASSWORD,
    server::ServerProcess,
    xmpp::{Federation, XmppClient, switchboard_user, wait_for_link},
};
use switchboard_protocol::{ClientFrame, ServerFrame, UserId};
use tokio::{
    sync::watch,
    time::{Instant, MissedTickBehavior},
};

/// Chaos test of the XMPP bridge across crashes of either server.
#[derive(Debug, Parser)]
struct Args {
    /// Pairs of a console and an XMPP user who chat with each other.
    #[arg(long, default_value_t = 20)]
    pairs: u32,
    /// Messages per second offered by everyone together (half each way), open loop.
    #[arg(long, default_value_t = 40)]
    rate: u32,
    /// Seconds of chatting; Prosody is killed at a third, Switchboard at two thirds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The server binary.
    #[arg(long, env = "SWITCHBOARD_SERVER_BIN")]
    server: PathBuf,
}

/// Time for late deliveries after the chatting (offline messages, resends).
const DRAIN: Duration = Duration::from_secs(15);
/// Prosody stays down this long.
const XMPP_OUTAGE: Duration = Duration::from_secs(2);

/// What both sides saw.
#[derive(Default)]
struct Ledger {
    /// Console messages acknowledged by Switchboard (client_msg_id).
    console_acked: HashSet<String>,
    /// Console messages as XMPP users received them: origin-id -> copies.
    xmpp_received: HashMap<String, u32>,
    /// XMPP messages whose receipt came back (stanza id = body).
    xmpp_acked: HashSet<String>,
    console_sent: u64,
    xmpp_sent: u64,
}

/// Which server is down: the pairs reconnect when it is back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outage {
    None,
    Xmpp,
    Switchboard,
}

struct Pair {
    n: u32,
    username: String,
    contact: UserId,
    addr: std::net::SocketAddr,
    c2s_port: u16,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("chaos-xmpp: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let mut federation = Federation::start(&args.server, args.pairs, args.pairs).await?;
    let contacts = federation.contacts.clone();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let (outage_tx, outage) = watch::channel(Outage::None);
    let start = Instant::now();
    let stop_at = start + Duration::from_secs(args.seconds);
    let every = Duration::from_secs_f64(f64::from(args.pairs) / f64::from(args.rate.max(1)));
    let mut tasks = Vec::new();
    for n in 1..=args.pairs {
        let pair = Pair {
            n,
            username: format!("bench{n}"),
            contact: contacts[n as usize - 1],
            addr: federation.server.addr,
            c2s_port: federation.prosody.c2s_port,
        };
        tasks.push(tokio::spawn(chat(
            pair,
            every,
            stop_at,
            outage.clone(),
            ledger.clone(),
        )));
    }

    tokio::time::sleep_until(start + Duration::from_secs(args.seconds) / 3).await;
    println!("killing Prosody (SIGKILL) for {XMPP_OUTAGE:?}");
    outage_tx.send_replace(Outage::Xmpp);
    federation.prosody.stop();
    tokio::time::sleep(XMPP_OUTAGE).await;
    federation.prosody.restart().await;
    outage_tx.send_replace(Outage::None);

    tokio::time::sleep_until(start + Duration::from_secs(args.seconds) * 2 / 3).await;
    println!("killing Switchboard (SIGKILL)");
    outage_tx.send_replace(Outage::Switchboard);
    federation.server.kill().await?;
    federation.server.start().await?;
    wait_for_link(&federation.server).await?;
    outage_tx.send_replace(Outage::None);

    for task in tasks {
        task.await??;
    }
    let ledger = Arc::into_inner(ledger)
        .context("a pair still holds the ledger")?
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a pair panicked while writing the ledger"))?;
    report(&federation.server, &ledger, &contacts).await
}

/// One pair chatting until `stop_at`, then draining; each side reconnects after an outage of
/// its server, and the console resends what was not acknowledged, as the console does.
async fn chat(
    pair: Pair,
    every: Duration,
    stop_at: Instant,
    mut outage: watch::Receiver<Outage>,
    ledger: Arc<Mutex<Ledger>>,
) -> anyhow::Result<()> {
    let mut rng = StdRng::from_os_rng();
    let cookie = client::sign_in(pair.addr, &pair.username, BENCH_PASSWORD).await?;
    let mut console = Some(Connection::open(pair.addr, &cookie).await?.0);
    let mut xmpp = Some(
        XmppClient::connect(pair.c2s_port, &format!("x{}", pair.n))
            .await
            .map_err(anyhow::Error::msg)?,
    );
    let me = switchboard_user(&pair.username);
    // Console messages not acknowledged yet: id -> body.
    let mut unacked: Vec<(String, String)> = Vec::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut count = 0u64;
    let drain_until = stop_at + DRAIN;
    while Instant::now() < drain_until {
        let chatting = Instant::now() < stop_at;
        tokio::select! {
            () = tokio::time::sleep_until(drain_until) => break,
            _ = tick.tick(), if chatting => {
                count += 1;
                if count.is_multiple_of(2) {
                    let id = client::message_id(&mut rng);
                    unacked.push((id.clone(), format!("from bench{} #{count}", pair.n)));
                    ledger.lock().unwrap().console_sent += 1;
                    if let Some(connection) = console.as_mut() {
                        let frame = ClientFrame::ChatSend { client_msg_id: id, to: pair.contact, body: unacked.last().unwrap().1.clone() };
                        if connection.send(&frame).await.is_err() {
                            console = None;
                        }
                    }
                } else if let Some(client) = xmpp.as_mut() {
                    let id = format!("x{}-{count}", pair.n);
                    client.say(&me, &id, &id).await;
                    ledger.lock().unwrap().xmpp_sent += 1;
                }
            }
            frame = async { console.as_mut().unwrap().recv(Duration::from_secs(3600)).await }, if console.is_some() => {
                match frame {
                    Ok(Some(ServerFrame::ChatAck { client_msg_id, .. })) => {
                        unacked.retain(|(id, _)| *id != client_msg_id);
                        ledger.lock().unwrap().console_acked.insert(client_msg_id);
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => console = None,
                }
            }
            message = async { xmpp.as_mut().unwrap().next_message(Duration::from_secs(3600)).await }, if xmpp.is_some() => {
                match message {
                    Some(message) => {
                        let mut ledger = ledger.lock().unwrap();
                        if let Some(id) = message.received {
                            ledger.xmpp_acked.insert(id);
                        }
                        if let (Some(_), Some(origin)) = (message.body, message.origin_id) {
                            *ledger.xmpp_received.entry(origin).or_default() += 1;
                        }
                    }
                    None => xmpp = None,
                }
            }
            changed = outage.changed() => {
                if changed.is_err() {
                    break;
                }
                match *outage.borrow_and_update() {
                    Outage::Xmpp => xmpp = None,
                    Outage::Switchboard => console = None,
                    Outage::None => {}
                }
            }
            () = tokio::time::sleep(Duration::from_millis(200)), if console.is_none() || xmpp.is_none() => {
                let down = *outage.borrow();
                if console.is_none() && down != Outage::Switchboard
                    && let Ok((mut connection, _)) = Connection::open(pair.addr, &cookie).await
                {
                    let mut ok = true;
                    for (id, body) in &unacked {
                        let frame = ClientFrame::ChatSend { client_msg_id: id.clone(), to: pair.contact, body: body.clone() };
                        ok &= connection.send(&frame).await.is_ok();
                    }
                    if ok {
                        console = Some(connection);
                    }
                }
                if xmpp.is_none() && down != Outage::Xmpp {
                    xmpp = XmppClient::connect(pair.c2s_port, &format!("x{}", pair.n)).await.ok();
                }
            }
        }
    }
    if let Some(client) = xmpp {
        client.quit().await;
    }
    Ok(())
}

/// Checks both directions; prints the figures; true when nothing was lost or duplicated.
async fn report(
    server: &ServerProcess,
    ledger: &Ledger,
    contacts: &[UserId],
) -> anyhow::Result<bool> {
    let db = sqlx::SqlitePool::connect(&server.database_url()).await?;
    let mut stored_console: HashSet<String> = HashSet::new();
    let mut stored_xmpp: HashMap<String, u32> = HashMap::new();
    let federated: HashSet<UserId> = contacts.iter().copied().collect();
    for row in sqlx::query("SELECT sender, body, client_msg_id FROM messages")
        .fetch_all(&db)
        .await?
    {
        let sender: UserId = row.get("sender");
        if federated.contains(&sender) {
            *stored_xmpp.entry(row.get("body")).or_default() += 1;
        } else {
            stored_console.insert(row.get("client_msg_id"));
        }
    }
    db.close().await;

    let console_lost = ledger
        .console_acked
        .iter()
        .filter(|id| !ledger.xmpp_received.contains_key(*id))
        .count();
    let console_unstored = ledger
        .console_acked
        .iter()
        .filter(|id| !stored_console.contains(*id))
        .count();
    let resent_copies: u32 = ledger.xmpp_received.values().map(|copies| copies - 1).sum();
    let xmpp_lost = ledger
        .xmpp_acked
        .iter()
        .filter(|id| !stored_xmpp.contains_key(*id))
        .count();
    let xmpp_duplicated = stored_xmpp.values().filter(|&&count| count > 1).count();
    println!(
        "console -> XMPP: {} sent, {} acknowledged, {} lost, {} not stored; {} copies sent again \
         after a lost link (dropped by origin-id)",
        ledger.console_sent,
        ledger.console_acked.len(),
        console_lost,
        console_unstored,
        resent_copies
    );
    println!(
        "XMPP -> console: {} sent, {} acknowledged (receipt), {} lost, {} stored twice",
        ledger.xmpp_sent,
        ledger.xmpp_acked.len(),
        xmpp_lost,
        xmpp_duplicated
    );
    let ok = console_lost == 0
        && console_unstored == 0
        && xmpp_lost == 0
        && xmpp_duplicated == 0
        && !ledger.console_acked.is_empty()
        && !ledger.xmpp_acked.is_empty();
    println!("{}", if ok { "PASS" } else { "FAIL" });
    Ok(ok)
}
