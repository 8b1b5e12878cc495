//! A TCP gate in front of a real peer: open, it passes every byte both
//! ways; closed, nothing listens on its port any more (connections are
//! refused, pooled ones are cut), as when a host goes down. Opened again,
//! it listens on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

pub struct Gate {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    /// The accept loop and every connection it passes, while open.
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Gate {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let gate = Self { addr, upstream, tasks: Arc::default() };
        gate.serve(listener);
        gate
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let pipe = tokio::spawn(async move {
                    if let Ok(mut peer) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut peer).await;
                    }
                });
                tasks.lock().unwrap().push(pipe);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Go down: stop listening and cut every connection.
    pub fn close(&self) {
        for t in self.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }

    /// Come back on the same port.
    pub async fn open(&self) {
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the gate's port {} could not be bound again", self.addr);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.close();
    }
}
