//! The room store of `ranat serve`'s rendezvous: the directory the
//! [`Rendezvous`] machine asks about each Hello (which host holds a room,
//! which codes are free, what each source may still do), behind one trait.
//! [`MemoryStore`] keeps it in this process, for a host alone (the
//! default: nothing to install); [`RedisStore`] keeps it in Redis, for any
//! number of hosts behind one name.
//!
//! [`Rendezvous`]: crate::proto::rendezvous::Rendezvous

mod memory;
mod redis;

use std::future::Future;
use std::time::Duration;

use crate::proto::rendezvous::{Answer, Code, ForwardKey, Question};

pub use memory::MemoryStore;
pub use redis::{RedisStore, StoreHealth, StoreUrlError};

/// Where the rooms of a deployment are kept.
pub trait RoomStore: Send + Sync + 'static {
    /// Answers the machine's `question` about a Hello. A store that cannot
    /// be reached answers `Refused(StoreUnavailable)`.
    fn answer(&self, question: Question) -> impl Future<Output = Answer> + Send;

    /// Frees each of `codes` this host holds.
    fn release(&self, codes: Vec<Code>) -> impl Future<Output = ()> + Send;

    /// Claims again, for the time each has left, the codes of the rooms
    /// this host holds that no room holds in the store: after a store
    /// restarted empty, they are this host's again.
    fn reclaim(&self, rooms: Vec<(Code, Duration)>) -> impl Future<Output = ()> + Send;

    /// The key that proves a connection was carried here by another host
    /// of the deployment; `None` when no other host exists (or the store
    /// cannot be reached), and then no carried connection is accepted.
    fn forward_key(&self) -> impl Future<Output = Option<ForwardKey>> + Send;
}
