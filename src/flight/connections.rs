//! Caps on the connections the Flight SQL server holds open: in total and per client address. Each open HTTP/2
//! connection costs the server about 20 KiB even when idle, and a client can hold thousands (ADBC's Go driver
//! leaves a connection open after every failed login, until its process exits: 3,000 of them in the soak
//! test). Past a cap, a new connection is closed at once; those already open are not affected.

use std::collections::HashMap;
use std::io::IoSlice;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tonic::transport::server::{Connected, TcpConnectInfo, TcpIncoming};

/// Connections open at once, in total and from one address.
pub const MAX_CONNECTIONS: usize = 2048;
pub const MAX_CONNECTIONS_PER_IP: usize = 256;

#[derive(Debug, Default)]
pub struct OpenConnections {
    by_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl OpenConnections {
    pub(crate) fn enter(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let mut by_ip = self.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        let total: usize = by_ip.values().sum();
        let mine = by_ip.get(&ip).copied().unwrap_or(0);
        if total >= MAX_CONNECTIONS || mine >= MAX_CONNECTIONS_PER_IP {
            return None;
        }
        by_ip.insert(ip, mine + 1);
        Some(Slot { open: self.clone(), ip })
    }

    /// Connections open now (for tests).
    pub fn count(&self) -> usize {
        self.by_ip.lock().unwrap_or_else(|p| p.into_inner()).values().sum()
    }
}

/// A place among the open connections, given back when the connection is dropped.
pub(crate) struct Slot {
    open: Arc<OpenConnections>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_ip = self.open.by_ip.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = by_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                by_ip.remove(&self.ip);
            }
        }
    }
}

/// A TCP connection that holds its [`Slot`] while open.
pub struct Counted {
    stream: TcpStream,
    _slot: Slot,
}

/// The accepted connections within the caps; the others are closed as they come.
pub fn within_caps(incoming: TcpIncoming, open: Arc<OpenConnections>) -> impl Stream<Item = std::io::Result<Counted>> {
    incoming.filter_map(move |accepted| {
        let open = open.clone();
        async move {
            match accepted {
                Err(e) => Some(Err(e)),
                Ok(stream) => {
                    let ip = stream.peer_addr().ok()?.ip();
                    // Over a cap: `stream` is dropped here, which closes it.
                    open.enter(ip).map(|slot| Ok(Counted { stream, _slot: slot }))
                }
            }
        }
    })
}

impl Connected for Counted {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Counted {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_address_and_slots_are_given_back() {
        let open = Arc::new(OpenConnections::default());
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let slots: Vec<Slot> = (0..MAX_CONNECTIONS_PER_IP).map(|_| open.enter(a).expect("within the cap")).collect();
        assert!(open.enter(a).is_none(), "one more from the same address is refused");
        let other = open.enter(b).expect("another address is not affected");
        assert_eq!(open.count(), MAX_CONNECTIONS_PER_IP + 1);
        drop(slots);
        drop(other);
        assert_eq!(open.count(), 0);
        assert!(open.enter(a).is_some(), "slots are given back on close");
    }
}
