//! A proxy in front of a real peer that forwards a request, lets the peer
//! act on it, and then cuts the connection before the answer reaches the
//! client: the moment where a client that takes "the connection broke" for
//! "nothing happened" sends a reboot twice.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct CuttingProxy {
    pub addr: SocketAddr,
    /// Requests containing the trigger that reached the peer.
    forwarded: Arc<AtomicU64>,
}

impl CuttingProxy {
    /// Forward everything to `upstream`; the first request whose body
    /// contains `trigger` reaches the peer, but its answer is never passed on.
    pub async fn start(upstream: SocketAddr, trigger: &'static str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let forwarded = Arc::new(AtomicU64::new(0));
        let cut_done = Arc::new(AtomicBool::new(false));
        let count = forwarded.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (count, cut_done) = (count.clone(), cut_done.clone());
                tokio::spawn(async move {
                    let _ = serve(client, upstream, trigger, count, cut_done).await;
                });
            }
        });
        Self { addr, forwarded }
    }

    /// How many requests carrying the trigger reached the peer.
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::SeqCst)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// One request per client connection (the peer's answer says "close").
async fn serve(mut client: TcpStream, upstream: SocketAddr, trigger: &str, count: Arc<AtomicU64>, cut_done: Arc<AtomicBool>) -> std::io::Result<()> {
    let Some((head, body)) = read_request(&mut client).await? else { return Ok(()) };
    // One request per upstream connection, and say so, so the peer's answer
    // ends with the connection and the client never reuses it.
    let head = close_connection(&head);
    let mut peer = TcpStream::connect(upstream).await?;
    peer.write_all(head.as_bytes()).await?;
    peer.write_all(&body).await?;
    let mut answer = Vec::new();
    peer.read_to_end(&mut answer).await?;
    if String::from_utf8_lossy(&body).contains(trigger) {
        count.fetch_add(1, Ordering::SeqCst);
        if !cut_done.swap(true, Ordering::SeqCst) {
            // The peer acted; the client hears nothing.
            return Ok(());
        }
    }
    client.write_all(&answer).await
}

fn close_connection(head: &str) -> String {
    let mut lines: Vec<&str> = head.split("\r\n").filter(|l| !l.to_ascii_lowercase().starts_with("connection:")).collect();
    lines.retain(|l| !l.is_empty());
    format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"))
}

async fn read_request(sock: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buf[..end + 4]).to_string();
        let len =
            head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))).unwrap_or(0);
        while buf.len() < end + 4 + len {
            let n = sock.read(&mut chunk).await?;
            if n == 0 {
                return Ok(None);
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        return Ok(Some((head, buf[end + 4..end + 4 + len].to_vec())));
    }
}
