//! CancelRequest: a client opens a second connection with the key it got at login, and the query running on
//! its first connection stops (its stream ends with "canceling statement due to user request"). The key is
//! random per connection; a wrong one does nothing, as in Postgres.
//!
//! pgwire's own cancel slot covers a query's planning only; ours also covers the rows streaming out, which is
//! where a BI tool's long fetch spends its time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use datafusion_postgres::pgwire;
use pgwire::api::cancel::CancelHandler;
use pgwire::messages::cancel::CancelRequest;
use pgwire::messages::startup::SecretKey;
use tokio::sync::watch;

type Key = (i32, Bytes);

/// The open connections' cancel slots.
#[derive(Default)]
pub struct Cancels {
    slots: Mutex<HashMap<Key, Arc<watch::Sender<u64>>>>,
}

/// A connection's place in [`Cancels`], kept in its session extensions; dropped with the connection.
pub struct Registration {
    cancels: Arc<Cancels>,
    key: Key,
    slot: Arc<watch::Sender<u64>>,
}

impl Cancels {
    pub fn register(self: &Arc<Self>, pid: i32, secret: &SecretKey) -> Registration {
        let key = (pid, secret.to_bytes());
        let slot = Arc::new(watch::Sender::new(0u64));
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone(), slot.clone());
        Registration { cancels: self.clone(), key, slot }
    }

    fn cancel(&self, pid: i32, secret: &SecretKey) -> bool {
        let slot = self.slots.lock().unwrap_or_else(|p| p.into_inner()).get(&(pid, secret.to_bytes())).cloned();
        match slot {
            Some(s) => {
                s.send_modify(|n| *n = n.wrapping_add(1));
                true
            }
            None => false,
        }
    }

    /// Connections registered now (for tests).
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Registration {
    /// A watch that changes when this connection's current query is cancelled (call it as the query starts:
    /// a cancel sent before does not count).
    pub fn watch(&self) -> watch::Receiver<u64> {
        let mut rx = self.slot.subscribe();
        rx.mark_unchanged();
        rx
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.cancels.slots.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

pub struct CancelRequests(pub Arc<Cancels>);

#[async_trait::async_trait]
impl CancelHandler for CancelRequests {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.0.cancel(request.pid, &request.secret_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_right_key_cancels_and_a_closed_connection_leaves() {
        let cancels = Arc::new(Cancels::default());
        let reg = cancels.register(7, &SecretKey::I32(42));
        let rx = reg.watch();
        assert!(!cancels.cancel(7, &SecretKey::I32(41)));
        assert!(!rx.has_changed().unwrap());
        assert!(cancels.cancel(7, &SecretKey::I32(42)));
        assert!(rx.has_changed().unwrap());
        drop(reg);
        assert!(cancels.is_empty());
        assert!(!cancels.cancel(7, &SecretKey::I32(42)));
    }
}
