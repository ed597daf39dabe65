//! A small client of the Asterisk REST Interface: the REST calls the adapter makes and the
//! events it reads, typed. Reference: the ARI pages of the Asterisk 22 documentation.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};

/// Longest a REST call may take: ARI answers at once, only a broken link takes longer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong talking to ARI.
#[derive(Debug, thiserror::Error)]
pub enum AriError {
    #[error("Asterisk refused {what}: {status} {message}")]
    Refused {
        what: String,
        status: u16,
        message: String,
    },
    #[error("Asterisk is unreachable ({0})")]
    Unreachable(String),
}

/// A channel as ARI describes it (the fields the adapter reads).
#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    pub id: String,
    #[serde(default)]
    pub caller: CallerId,
    #[serde(default)]
    pub dialplan: Dialplan,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallerId {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub number: String,
}

/// Where in the dialplan a channel is: `exten` is the number it dialled, `app_name` and
/// `app_data` say whether it sits in a Stasis application.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Dialplan {
    #[serde(default)]
    pub exten: String,
    #[serde(default)]
    pub app_name: String,
    #[serde(default)]
    pub app_data: String,
}

/// A bridge and the channels in it.
#[derive(Debug, Clone, Deserialize)]
pub struct Bridge {
    pub id: String,
    #[serde(default)]
    pub channels: Vec<String>,
}

/// A device's state (`NOT_INUSE`, `INUSE`, `RINGING`, ...).
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceState {
    pub name: String,
    pub state: String,
}

/// The events of the application's stream the adapter acts on.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    /// A channel entered the application: a caller, or a leg the adapter originated.
    StasisStart {
        channel: Channel,
        #[serde(default)]
        args: Vec<String>,
    },
    /// A channel left the application (hung up, or continued in the dialplan).
    StasisEnd {
        channel: Channel,
    },
    /// A channel is gone (also one that never entered the application: an unanswered leg).
    ChannelDestroyed {
        channel: Channel,
    },
    DeviceStateChanged {
        device_state: DeviceState,
    },
    #[serde(other)]
    Other,
}

/// Where ARI is and who the switchboard is there.
#[derive(Clone)]
pub struct Ari {
    http: reqwest::Client,
    /// `http://host:port/ari`, no trailing slash.
    base: String,
    user: String,
    password: String,
    pub app: String,
    /// Seconds a line the switchboard dials may ring before Asterisk gives up.
    ring_secs: String,
}

impl Ari {
    pub fn new(url: &str, user: &str, password: &str, app: &str, ring_secs: u32) -> Self {
        Ari {
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .unwrap_or_default(),
            base: format!("{}/ari", url.trim_end_matches('/')),
            user: user.to_owned(),
            password: password.to_owned(),
            app: app.to_owned(),
            ring_secs: ring_secs.to_string(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<reqwest::Response, AriError> {
        let what = format!("{method} {path}");
        tracing::debug!(%what, ?query, "ARI");
        let response = self
            .http
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.user, Some(&self.password))
            .query(query)
            .send()
            .await
            .map_err(|err| AriError::Unreachable(err.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        // ARI explains a refusal in {"message": "..."}.
        let message = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|body| body["message"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(AriError::Refused {
            what,
            status: status.as_u16(),
            message,
        })
    }

    async fn post(&self, path: &str, query: &[(&str, &str)]) -> Result<(), AriError> {
        self.call(reqwest::Method::POST, path, query)
            .await
            .map(drop)
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, AriError> {
        self.call(reqwest::Method::GET, path, &[])
            .await?
            .json()
            .await
            .map_err(|err| AriError::Unreachable(err.to_string()))
    }

    pub async fn channels(&self) -> Result<Vec<Channel>, AriError> {
        self.get("/channels").await
    }

    pub async fn bridges(&self) -> Result<Vec<Bridge>, AriError> {
        self.get("/bridges").await
    }

    pub async fn device_state(&self, device: &str) -> Result<DeviceState, AriError> {
        self.get(&format!("/deviceStates/{}", encode(device))).await
    }

    pub async fn answer(&self, channel: &str) -> Result<(), AriError> {
        self.post(&format!("/channels/{channel}/answer"), &[]).await
    }

    /// Hangs a channel up; one already gone counts as done.
    pub async fn hang_up(&self, channel: &str) -> Result<(), AriError> {
        match self
            .call(
                reqwest::Method::DELETE,
                &format!("/channels/{channel}"),
                &[],
            )
            .await
        {
            Err(AriError::Refused { status: 404, .. }) | Ok(_) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Dials `endpoint` as channel `id`; once answered it enters the application with `args`.
    pub async fn originate(
        &self,
        id: &str,
        endpoint: &str,
        args: &str,
        caller_id: &str,
    ) -> Result<(), AriError> {
        let query = [
            ("endpoint", endpoint),
            ("app", self.app.as_str()),
            ("appArgs", args),
            ("callerId", caller_id),
            ("timeout", self.ring_secs.as_str()),
        ];
        self.post(&format!("/channels/{id}"), &query).await
    }

    /// Dials `endpoint` and, once answered, runs `extension` of `context` in the dialplan
    /// (a call back: the operator's telephone first, then the caller's number).
    pub async fn dial_to_extension(
        &self,
        endpoint: &str,
        context: &str,
        extension: &str,
        caller_id: &str,
    ) -> Result<(), AriError> {
        let query = [
            ("endpoint", endpoint),
            ("context", context),
            ("extension", extension),
            ("priority", "1"),
            ("callerId", caller_id),
            ("timeout", self.ring_secs.as_str()),
        ];
        self.post("/channels", &query).await
    }

    /// Sets a global dialplan variable (`${name}` in extensions.conf).
    pub async fn set_global(&self, name: &str, value: &str) -> Result<(), AriError> {
        let query = [("variable", name), ("value", value)];
        self.post("/asterisk/variable", &query).await
    }

    /// Sends a channel out of the application to `extension` of `context` (a blind transfer).
    pub async fn continue_to(
        &self,
        channel: &str,
        context: &str,
        extension: &str,
    ) -> Result<(), AriError> {
        let query = [
            ("context", context),
            ("extension", extension),
            ("priority", "1"),
        ];
        self.post(&format!("/channels/{channel}/continue"), &query)
            .await
    }

    /// Creates bridge `id` of `kind` (`holding` or `mixing`), or finds it.
    pub async fn bridge(&self, id: &str, kind: &str) -> Result<(), AriError> {
        match self
            .post(&format!("/bridges/{id}"), &[("type", kind)])
            .await
        {
            Err(AriError::Refused { status: 409, .. }) | Ok(()) => Ok(()),
            Err(err) => Err(err),
        }
    }

    pub async fn add(&self, bridge: &str, channel: &str) -> Result<(), AriError> {
        self.post(
            &format!("/bridges/{bridge}/addChannel"),
            &[("channel", channel)],
        )
        .await
    }

    /// Takes a channel out of a bridge; one not in it counts as done.
    pub async fn remove(&self, bridge: &str, channel: &str) -> Result<(), AriError> {
        match self
            .post(
                &format!("/bridges/{bridge}/removeChannel"),
                &[("channel", channel)],
            )
            .await
        {
            Err(AriError::Refused {
                status: 404 | 422, ..
            })
            | Ok(()) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Plays music on hold to a bridge's channels.
    pub async fn music_on_hold(&self, bridge: &str) -> Result<(), AriError> {
        self.post(&format!("/bridges/{bridge}/moh"), &[]).await
    }

    /// Destroys a bridge; one already gone counts as done.
    pub async fn destroy(&self, bridge: &str) -> Result<(), AriError> {
        match self
            .call(reqwest::Method::DELETE, &format!("/bridges/{bridge}"), &[])
            .await
        {
            Err(AriError::Refused { status: 404, .. }) | Ok(_) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Asks for the state changes of `devices` on the application's event stream.
    pub async fn watch_devices(&self, devices: &[String]) -> Result<(), AriError> {
        let sources: Vec<String> = devices
            .iter()
            .map(|device| format!("deviceState:{device}"))
            .collect();
        // Many devices: several requests, each URL of a sensible length.
        for chunk in sources.chunks(50) {
            self.post(
                &format!("/applications/{}/subscription", self.app),
                &[("eventSource", &chunk.join(","))],
            )
            .await?;
        }
        Ok(())
    }

    /// Opens the application's event stream; the application exists in Asterisk while it is
    /// open. Wrong credentials fail here with 401.
    pub async fn events(
        &self,
    ) -> Result<impl futures_util::Stream<Item = Result<Event, String>> + use<>, AriError> {
        let url = format!(
            "{}/events?app={}&subscribeAll=false",
            self.base.replacen("http", "ws", 1),
            encode(&self.app)
        );
        let mut request = url
            .into_client_request()
            .map_err(|err| AriError::Unreachable(err.to_string()))?;
        let credentials = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", self.user, self.password),
        );
        let header = HeaderValue::from_str(&format!("Basic {credentials}"))
            .map_err(|err| AriError::Unreachable(err.to_string()))?;
        request.headers_mut().insert("authorization", header);
        let connect = tokio_tungstenite::connect_async(request);
        let (socket, _) = match tokio::time::timeout(REQUEST_TIMEOUT, connect).await {
            Err(_) => return Err(AriError::Unreachable("no answer in 5 s".into())),
            Ok(Err(tungstenite::Error::Http(response))) => {
                return Err(AriError::Refused {
                    what: "the event stream".into(),
                    status: response.status().as_u16(),
                    message: match response.status().as_u16() {
                        401 => "wrong user or password".into(),
                        _ => String::new(),
                    },
                });
            }
            Ok(Err(err)) => return Err(AriError::Unreachable(err.to_string())),
            Ok(Ok(connected)) => connected,
        };
        Ok(socket.filter_map(|message| async move {
            match message {
                Ok(tungstenite::Message::Text(text)) => match serde_json::from_str(&text) {
                    Ok(event) => Some(Ok(event)),
                    Err(err) => {
                        tracing::warn!(%err, "unreadable ARI event");
                        None
                    }
                },
                Ok(tungstenite::Message::Close(_)) => Some(Err("closed by Asterisk".into())),
                Ok(_) => None,
                Err(err) => Some(Err(err.to_string())),
            }
        }))
    }
}

/// Percent-encodes a path segment or query value (device names hold `/` and `@`).
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}
