//! The room store in Redis, shared by every `ranat serve` of a deployment.
//!
//! Keys, all under the deployment's prefix:
//! - `PREFIX:room:CODE`: the host holding the room, `INSTANCE@ADDRESS`
//!   (its rendezvous address, where other hosts carry novices). Claimed
//!   with `SET NX PX` (one room per code across hosts; the TTL is the
//!   room's lifetime and a grace period, so a crashed host's codes come
//!   back by themselves), freed by compare-and-delete.
//! - `PREFIX:limit:create:SOURCE`, `PREFIX:limit:join:SOURCE`: each
//!   source's buckets, as the generic cell rate algorithm's theoretical
//!   arrival time in milliseconds of Redis's own clock (`TIME`), expiring
//!   once full again.
//! - `PREFIX:forward-key`: the key hosts prove a carried connection with.
//!
//! Every change is one Lua script (`EVALSHA`), which Redis runs atomically:
//! no other command runs between its reads and writes.

use std::net::SocketAddr;
use std::time::Duration;

use rand::RngCore;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
use tokio::sync::watch;

use super::RoomStore;
use crate::proto::rendezvous::{
    Action, Answer, Code, ForwardKey, Question, Rate, RendezvousError, Source, SourceLimits,
};

/// How long past its lifetime a room's code stays claimed: the holding
/// host frees it when the room ends, so this only matters for a host that
/// died.
const GRACE: Duration = Duration::from_secs(60);

/// How long connecting to Redis, and each reply, may take before the store
/// counts as unreachable for this request.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The generic cell rate algorithm (ITU-T I.371), as in the memory
/// store: `KEYS[1]` is the bucket, `ARGV[1]` the burst, `ARGV[2]` the
/// interval in ms. Defines `take()`, true if one was taken.
const TAKE: &str = r"
local function take()
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local burst = tonumber(ARGV[1])
  local every = tonumber(ARGV[2])
  local tat = tonumber(redis.call('GET', KEYS[1])) or now
  if tat < now then tat = now end
  if burst < 1 or tat - now > every * (burst - 1) then return false end
  redis.call('SET', KEYS[1], tat + every, 'PX', math.max(1, tat + every - now))
  return true
end
";

/// Takes a creation, then claims the first free code of `KEYS[2..]` for
/// the owner `ARGV[3]` for `ARGV[4]` ms (`SET NX PX`).
const CREATE: &str = r"
if not take() then return {'limited'} end
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[3], 'NX', 'PX', ARGV[4]) then
    return {'created', tostring(i - 2)}
  end
end
return {'full'}
";

/// Takes a join, then says who holds the room `KEYS[2]`.
const JOIN: &str = r"
if not take() then return {'limited'} end
local owner = redis.call('GET', KEYS[2])
if not owner then return {'unknown'} end
return {'held', owner}
";

/// Deletes each of `KEYS` that `ARGV[1]` holds, and only those.
const RELEASE: &str = r"
local freed = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then freed = freed + redis.call('DEL', KEYS[i]) end
end
return freed
";

/// Claims each free code of `KEYS` for the owner `ARGV[1]`, for `ARGV[i + 1]`
/// ms (`SET NX PX`); leaves alone those another host holds.
const RECLAIM: &str = r"
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[i + 1])
end
return #KEYS
";

/// Sets the deployment's forward key unless one is set; returns it.
const FORWARD_KEY: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
";

/// Why `--store` names no usable Redis.
#[derive(Debug, thiserror::Error)]
pub enum StoreUrlError {
    #[error("the room store must be redis://HOST[:PORT][/DB], not {0:?}")]
    Scheme(String),
    #[error("cannot use the room store {url:?}: {source}")]
    Url {
        url: String,
        source: redis::RedisError,
    },
}

/// Whether the store answered lately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreHealth {
    Reachable,
    /// The last request failed, for this reason.
    Unreachable(String),
}

/// Rooms and per-source counts in Redis.
pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    owner: String,
    limits: SourceLimits,
    create: Script,
    join: Script,
    release: Script,
    reclaim: Script,
    forward_key: Script,
    health: watch::Sender<StoreHealth>,
}

impl RedisStore {
    /// A store at `url` (`redis://HOST[:PORT][/DB]`) for the host whose
    /// rendezvous listens at `host`, its keys under `prefix`. It connects
    /// on first use, and again by itself after Redis is lost.
    pub fn new(
        url: &str,
        prefix: &str,
        host: SocketAddr,
        limits: SourceLimits,
    ) -> Result<Self, StoreUrlError> {
        if !url.starts_with("redis://") {
            return Err(StoreUrlError::Scheme(url.to_string()));
        }
        let url_error = |source| StoreUrlError::Url {
            url: url.to_string(),
            source,
        };
        let client = Client::open(url).map_err(url_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(url_error)?;
        let instance = rand::rng().next_u64();
        Ok(Self {
            connection,
            prefix: prefix.to_string(),
            owner: format!("{instance:016x}@{host}"),
            limits,
            create: Script::new(&format!("{TAKE}{CREATE}")),
            join: Script::new(&format!("{TAKE}{JOIN}")),
            release: Script::new(RELEASE),
            reclaim: Script::new(RECLAIM),
            forward_key: Script::new(FORWARD_KEY),
            health: watch::Sender::new(StoreHealth::Reachable),
        })
    }

    /// Follows the store's health: each change from reachable to not and
    /// back.
    pub fn health(&self) -> watch::Receiver<StoreHealth> {
        self.health.subscribe()
    }

    fn limit_key(&self, action: Action, source: Source) -> String {
        let (action, _) = self.rate(action);
        let source = match source {
            Source::V4(bits) => format!("4:{bits:08x}"),
            Source::V6(bits) => format!("6:{bits:016x}"),
        };
        format!("{}:limit:{action}:{source}", self.prefix)
    }

    fn rate(&self, action: Action) -> (&'static str, Rate) {
        match action {
            Action::Create => ("create", self.limits.creations),
            Action::Join => ("join", self.limits.joins),
        }
    }

    fn room_key(&self, code: Code) -> String {
        format!("{}:room:{code}", self.prefix)
    }

    /// Records whether the last request reached Redis.
    fn report<T>(&self, result: redis::RedisResult<T>) -> Option<T> {
        let health = match &result {
            Ok(_) => StoreHealth::Reachable,
            Err(e) => StoreHealth::Unreachable(e.to_string()),
        };
        self.health.send_if_modified(|now| {
            let changed = *now != health;
            *now = health;
            changed
        });
        result.ok()
    }

    async fn ask(&self, question: &Question) -> Result<Answer, BadReply> {
        let (script, action, source, codes, extra): (_, _, _, Vec<Code>, Vec<String>) =
            match question {
                Question::Create {
                    source,
                    candidates,
                    lifetime,
                } => {
                    let ttl = lifetime.saturating_add(GRACE).as_millis().max(1);
                    let extra = vec![self.owner.clone(), ttl.to_string()];
                    (
                        &self.create,
                        Action::Create,
                        source,
                        candidates.clone(),
                        extra,
                    )
                }
                Question::Join { source, code } => {
                    (&self.join, Action::Join, source, vec![*code], Vec::new())
                }
            };
        let (_, rate) = self.rate(action);
        let mut invocation = script.key(self.limit_key(action, *source));
        for code in &codes {
            invocation.key(self.room_key(*code));
        }
        invocation
            .arg(rate.burst)
            .arg(rate.every.as_millis().max(1).to_string());
        for arg in extra {
            invocation.arg(arg);
        }
        let mut connection = self.connection.clone();
        let reply = invocation
            .invoke_async::<Vec<String>>(&mut connection)
            .await;
        let reply = self.report(reply).ok_or(BadReply::Unreachable)?;
        match reply
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["limited"] => Ok(Answer::Refused(RendezvousError::TooManyRequests)),
            ["full"] => Ok(Answer::Refused(RendezvousError::ServerFull)),
            ["unknown"] => Ok(Answer::Refused(RendezvousError::UnknownCode)),
            ["created", index] => index
                .parse::<usize>()
                .ok()
                .and_then(|i| codes.get(i))
                .map(|code| Answer::Created(*code))
                .ok_or(BadReply::Shape),
            ["held", owner] if *owner == self.owner => Ok(Answer::Here),
            ["held", owner] => owner
                .split_once('@')
                .and_then(|(_, addr)| addr.parse().ok())
                .map(Answer::Elsewhere)
                .ok_or(BadReply::Shape),
            _ => Err(BadReply::Shape),
        }
    }
}

/// A request that got no usable reply.
enum BadReply {
    Unreachable,
    /// A reply of a shape the scripts never give: another program wrote
    /// the keys.
    Shape,
}

impl RoomStore for RedisStore {
    async fn answer(&self, question: Question) -> Answer {
        match self.ask(&question).await {
            Ok(answer) => answer,
            Err(BadReply::Unreachable) => Answer::Refused(RendezvousError::StoreUnavailable),
            Err(BadReply::Shape) => {
                self.report::<()>(Err(redis::RedisError::from((
                    redis::ErrorKind::Parse,
                    "a reply of an unexpected shape (does another program use the key prefix?)",
                ))));
                Answer::Refused(RendezvousError::StoreUnavailable)
            }
        }
    }

    async fn release(&self, codes: Vec<Code>) {
        if codes.is_empty() {
            return;
        }
        let mut invocation = self.release.arg(&self.owner);
        for code in codes {
            invocation.key(self.room_key(code));
        }
        let mut connection = self.connection.clone();
        let result = invocation.invoke_async::<i64>(&mut connection).await;
        self.report(result);
    }

    async fn reclaim(&self, rooms: Vec<(Code, Duration)>) {
        if rooms.is_empty() {
            return;
        }
        let mut invocation = self.reclaim.arg(&self.owner);
        for (code, left) in &rooms {
            invocation.key(self.room_key(*code));
            let ttl = left.saturating_add(GRACE).as_millis().max(1);
            invocation.arg(ttl.to_string());
        }
        let mut connection = self.connection.clone();
        let result = invocation.invoke_async::<i64>(&mut connection).await;
        self.report(result);
    }

    async fn forward_key(&self) -> Option<ForwardKey> {
        let mut fresh = [0u8; 32];
        rand::rng().fill_bytes(&mut fresh);
        let fresh: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
        let mut connection = self.connection.clone();
        let result = self
            .forward_key
            .key(format!("{}:forward-key", self.prefix))
            .arg(fresh)
            .invoke_async::<Vec<u8>>(&mut connection)
            .await;
        self.report(result).map(ForwardKey::new)
    }
}
