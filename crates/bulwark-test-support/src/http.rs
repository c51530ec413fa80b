//! A small static-file HTTP/1.1 server on 127.0.0.1 for hermetic tests.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

/// A failure to inject for requests whose path ends with a suffix.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and an empty body.
    Status(u16),
    /// Announce the full length, send only this many bytes, then close.
    Truncate(usize),
    /// Like `Truncate`, for the first matching request only.
    TruncateOnce(usize),
}

#[derive(Default)]
struct State {
    faults: Vec<(String, Fault)>,
    /// (path fragment, Content-Type) for files served from matching paths.
    content_types: Vec<(String, String)>,
    hits: HashMap<String, usize>,
}

/// Serves a directory until dropped.
pub struct HttpServer {
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("url", &self.url)
            .finish()
    }
}

impl HttpServer {
    pub fn serve(root: &Path) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let (st, sp) = (state.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (root, st) = (root.clone(), st.clone());
                thread::spawn(move || {
                    let _ = handle(conn, &root, &st);
                });
            }
        });
        HttpServer {
            url: format!("http://{addr}"),
            state,
            stop,
            addr,
        }
    }

    /// Injects `fault` for every request whose path ends with `suffix`.
    pub fn fault(&self, suffix: &str, fault: Fault) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((suffix.into(), fault));
    }
    /// Serves files whose path contains `fragment` with this Content-Type.
    pub fn content_type(&self, fragment: &str, content_type: &str) {
        self.state
            .lock()
            .unwrap()
            .content_types
            .push((fragment.into(), content_type.into()));
    }
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }
    /// How many requests reached paths containing `suffix`.
    pub fn hits(&self, suffix: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .hits
            .iter()
            .filter(|(k, _)| k.contains(suffix))
            .map(|(_, v)| v)
            .sum()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn handle(conn: TcpStream, root: &Path, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut conn = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_owned();
        let path = parts.next().unwrap_or("/").to_owned();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
                break;
            }
        }
        let path = path.split('?').next().unwrap_or("/").to_owned();
        let (fault, content_type) = {
            let mut s = state.lock().unwrap();
            *s.hits.entry(path.clone()).or_default() += 1;
            let at = s
                .faults
                .iter()
                .position(|(suf, _)| path.ends_with(suf.as_str()));
            let fault = match at.map(|i| s.faults[i].1.clone()) {
                Some(Fault::TruncateOnce(n)) => {
                    s.faults.remove(at.unwrap_or_default());
                    Some(Fault::Truncate(n))
                }
                other => other,
            };
            let ct = s
                .content_types
                .iter()
                .find(|(frag, _)| path.contains(frag.as_str()))
                .map(|(_, c)| format!("Content-Type: {c}\r\n"))
                .unwrap_or_default();
            (fault, ct)
        };
        let file: Option<PathBuf> = if path.split('/').any(|c| c == "..") {
            None
        } else {
            Some(root.join(path.trim_start_matches('/')))
        };
        let body = file
            .filter(|f| f.is_file())
            .and_then(|f| std::fs::read(f).ok());
        match (fault, body) {
            (Some(Fault::Status(code)), _) => {
                write!(
                    conn,
                    "HTTP/1.1 {code} Injected\r\nContent-Length: 0\r\n\r\n"
                )?;
            }
            (Some(Fault::Truncate(n)), Some(body)) => {
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )?;
                conn.write_all(&body[..n.min(body.len())])?;
                conn.flush()?;
                return Ok(());
            }
            (_, Some(body)) => {
                write!(
                    conn,
                    "HTTP/1.1 200 OK\r\n{content_type}Content-Length: {}\r\n\r\n",
                    body.len()
                )?;
                if method != "HEAD" {
                    conn.write_all(&body)?;
                }
            }
            (_, None) => {
                write!(conn, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
            }
        }
        conn.flush()?;
    }
}
