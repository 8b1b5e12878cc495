//! A tiny HTTP server for the hostile-world tests: every request is answered
//! by a handler the test can swap at any time (well-behaved first, then a
//! web page, another operation's answer, …). It records what it was asked.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A request as received: the request line and headers, and the body.
#[derive(Debug, Clone)]
pub struct Request {
    pub head: String,
    pub body: String,
}

impl Request {
    /// The value of a request header, as received ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_string())).unwrap_or_default()
    }
}

/// The full raw HTTP answer (status line, headers, body).
pub type Handler = Arc<dyn Fn(&Request) -> String + Send + Sync>;

#[derive(Clone)]
pub struct Canned {
    pub addr: SocketAddr,
    handler: Arc<Mutex<Handler>>,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

/// `HTTP/1.1 {status}` with a body of `content_type`, closing the connection.
pub fn answer(status: &str, content_type: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}

impl Canned {
    pub async fn start(handler: Handler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let me = Self { addr, handler: Arc::new(Mutex::new(handler)), requests: Arc::default() };
        let server = me.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let server = server.clone();
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut sock).await else { return };
                    server.requests.lock().unwrap().push(req.clone());
                    let handler = server.handler.lock().unwrap().clone();
                    let _ = sock.write_all(handler(&req).as_bytes()).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        me
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// From now on, answer with this.
    pub fn set(&self, handler: Handler) {
        *self.handler.lock().unwrap() = handler;
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let len =
            head.lines().find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0))).unwrap_or(0);
        while buf.len() < end + 4 + len {
            let n = sock.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
        return Some(Request { head, body });
    }
}
