//! A TCP proxy in front of Redis that a test can cut and restore, to simulate an
//! outage without touching the shared Redis itself.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

pub struct Proxy {
    pub addr: SocketAddr,
    target: String,
    /// The accept loop; it owns the listener and every forwarding task, so aborting
    /// it closes the port and all open connections at once.
    running: Option<tokio::task::JoinHandle<()>>,
    /// `*` bytes sent by clients: each RESP command is an array, which starts with
    /// `*`, so with keys and values free of `*` this counts the commands sent.
    stars: Arc<AtomicU64>,
}

impl Proxy {
    /// Starts forwarding a free local port to `target`.
    pub async fn start(target: &str) -> Self {
        let mut proxy = Self {
            addr: "127.0.0.1:0".parse().unwrap(),
            target: target.to_owned(),
            running: None,
            stars: Arc::default(),
        };
        proxy.resume().await;
        proxy
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Commands sent through the proxy so far (see `stars`).
    pub fn commands(&self) -> u64 {
        self.stars.load(Ordering::SeqCst)
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
        let stars = self.stars.clone();
        self.running = Some(tokio::spawn(async move {
            let mut links = JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                // Reap finished links so a long run does not accumulate them.
                while links.try_join_next().is_some() {}
                let target = target.clone();
                let stars = stars.clone();
                links.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        let (mut client_in, mut client_out) = client.split();
                        let (mut server_in, mut server_out) = server.into_split();
                        let up = async {
                            let mut buf = vec![0u8; 16 * 1024];
                            while let Ok(n @ 1..) = client_in.read(&mut buf).await {
                                let seen = buf[..n].iter().filter(|b| **b == b'*').count();
                                stars.fetch_add(seen as u64, Ordering::SeqCst);
                                if server_out.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        };
                        let down = tokio::io::copy(&mut server_in, &mut client_out);
                        tokio::select! {
                            () = up => {}
                            _ = down => {}
                        }
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
