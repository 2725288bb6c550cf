//! A TCP proxy in front of Redis that a test can cut and restore, to simulate an
//! outage without touching the shared Redis itself.

use std::net::SocketAddr;

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

pub struct Proxy {
    pub addr: SocketAddr,
    target: String,
    /// The accept loop; it owns the listener and every forwarding task, so aborting
    /// it closes the port and all open connections at once.
    running: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    /// Starts forwarding a free local port to `target`.
    pub async fn start(target: &str) -> Self {
        let mut proxy = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            target: target.to_owned(),
            running: None,
        };
        proxy.resume().await;
        proxy
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Outage: connection refused for new clients, open connections closed.
    pub async fn cut(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) {
        let socket = TcpSocket::new_v4().unwrap();
        // Rebinding the port right after closing it must not wait for TIME_WAIT.
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(64).unwrap();
        self.addr = listener.local_addr().unwrap();
        let target = self.target.clone();
        self.running = Some(tokio::spawn(async move {
            let mut links = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                // Reap finished links so a long run does not accumulate them.
                while links.try_join_next().is_some() {}
                let target = target.clone();
                links.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        }));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.running.take() {
            task.abort();
        }
    }
}
