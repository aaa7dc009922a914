//! The HTTP server's connection loop, over any [`axum::serve::Listener`] (plain TCP or [`super::tls`]). It
//! replaces `axum::serve` for the limits that one does not set: a connection must send each request header
//! within [`HEADER_TIMEOUT`] (which also closes keep-alive connections idle that long), and the connections
//! open at once are capped, in total and per client address, so a client holding connections open cannot
//! starve the others. Each request carries its peer address as axum's `ConnectInfo<SocketAddr>`.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;
use tower::ServiceExt;

/// Time to receive a request's header, counted from when the server waits for it (so also the keep-alive
/// idle time between requests).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// Connections served at once, in total and from one client address; past them new connections are closed.
pub const MAX_CONNECTIONS: usize = 1024;
pub const MAX_CONNECTIONS_PER_IP: usize = 128;
/// hyper's read buffer: bounds a request header (bodies are streamed).
const MAX_BUF: usize = 64 * 1024;

/// What an accept error costs: a connection-level error (the client went away) nothing, anything else (out of
/// file descriptors) a pause so the loop does not spin.
pub async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::*;
    if !matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Open connections per client address.
#[derive(Default)]
struct Slots {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// One open connection's place in [`Slots`], given back when dropped.
struct Slot {
    slots: Arc<Mutex<Slots>>,
    ip: IpAddr,
}

fn take_slot(slots: &Arc<Mutex<Slots>>, ip: IpAddr) -> Option<Slot> {
    let mut s = slots.lock().unwrap_or_else(|p| p.into_inner());
    let here = s.by_ip.get(&ip).copied().unwrap_or(0);
    if s.total >= MAX_CONNECTIONS || here >= MAX_CONNECTIONS_PER_IP {
        return None;
    }
    s.total += 1;
    s.by_ip.insert(ip, here + 1);
    Some(Slot { slots: slots.clone(), ip })
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut s = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        s.total = s.total.saturating_sub(1);
        if let Some(n) = s.by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                s.by_ip.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets the requests in flight finish.
pub async fn serve<L>(mut listener: L, app: Router, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = Arc::new(Mutex::new(Slots::default()));
    let mut shutdown = pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            conn = listener.accept() => conn,
            () = &mut shutdown => break,
        };
        let Some(slot) = take_slot(&slots, peer.ip()) else { continue };
        let app = app.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request.map(Body::new))
            });
            let mut builder = http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT).keep_alive(true).max_buf_size(MAX_BUF);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(io), service));
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = stop.changed(), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    // Every connection task holds a receiver: this resolves when the last one ended.
    stop_tx.closed().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_ip_and_given_back() {
        let slots = Arc::new(Mutex::new(Slots::default()));
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        let held: Vec<Slot> = (0..MAX_CONNECTIONS_PER_IP).filter_map(|_| take_slot(&slots, ip)).collect();
        assert_eq!(held.len(), MAX_CONNECTIONS_PER_IP);
        assert!(take_slot(&slots, ip).is_none());
        assert!(take_slot(&slots, "192.0.2.2".parse().expect("ip")).is_some());
        drop(held);
        assert!(take_slot(&slots, ip).is_some());
        assert_eq!(slots.lock().expect("lock").by_ip.len(), 0, "dropped slots are forgotten");
    }
}
