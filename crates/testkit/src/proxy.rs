//! A TCP proxy a test can cut and restore: the distributed stack reaches Redis through
//! it, so a test can simulate a Redis outage without touching the shared server.

use std::net::SocketAddr;

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

pub struct TcpProxy {
    pub addr: SocketAddr,
    target: String,
    /// Owns the listener and every forwarding task: aborting it closes the port and
    /// all open connections at once.
    running: Option<tokio::task::JoinHandle<()>>,
}

impl TcpProxy {
    /// Forwards a free local port to `target` (`host:port`).
    pub async fn start(target: &str) -> anyhow::Result<TcpProxy> {
        let mut proxy = TcpProxy {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            target: target.to_owned(),
            running: None,
        };
        proxy.resume().await?;
        Ok(proxy)
    }

    /// Outage: new connections refused, open ones closed.
    pub async fn cut(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        let socket = TcpSocket::new_v4()?;
        // Rebinding right after closing must not wait for TIME_WAIT.
        socket.set_reuseaddr(true)?;
        socket.bind(self.addr)?;
        let listener = socket.listen(256)?;
        self.addr = listener.local_addr()?;
        let target = self.target.clone();
        self.running = Some(tokio::spawn(async move {
            let mut links = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                while links.try_join_next().is_some() {}
                let target = target.clone();
                links.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
        }
    }
}
