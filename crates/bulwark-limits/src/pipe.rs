//! A bounded pipe between threads: chunks of bytes through a channel that
//! holds at most a fixed number of them, read as one stream. Pipelines that
//! overlap download, hashing, inflation and parsing use it, so the memory in
//! flight is bounded whatever the input's size.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, PoisonError, mpsc};

type Chunk = io::Result<Vec<u8>>;

/// Spent chunks the reader hands back for the writer to fill again: a fresh
/// buffer costs a memset and a page fault per 4 KiB, on the thread that is
/// usually the pipeline's bottleneck.
type Spent = Arc<Mutex<Vec<Vec<u8>>>>;

/// A pipe that holds at most `chunks` chunks in flight.
///
/// ```
/// use std::io::{Read as _, Write as _};
/// let (mut w, mut r) = bulwark_limits::pipe(2);
/// let t = std::thread::spawn(move || {
///     w.write_all(b"hello ").unwrap();
///     w.send(b"pipe".to_vec());
/// });
/// let mut s = String::new();
/// r.read_to_string(&mut s).unwrap();
/// t.join().unwrap();
/// assert_eq!(s, "hello pipe");
/// ```
#[must_use]
pub fn pipe(chunks: usize) -> (PipeWriter, PipeReader) {
    let (tx, rx) = mpsc::sync_channel(chunks);
    let spent = Spent::default();
    (
        PipeWriter {
            tx,
            spent: spent.clone(),
        },
        PipeReader {
            rx,
            current: Vec::new(),
            pos: 0,
            spent,
            keep: chunks + 2,
        },
    )
}

/// The sending end; dropping it ends the stream.
#[derive(Debug, Clone)]
pub struct PipeWriter {
    tx: mpsc::SyncSender<Chunk>,
    spent: Spent,
}

impl PipeWriter {
    /// A buffer of `len` bytes to fill and [`send`](Self::send): one the
    /// reader is done with when there is one (its old contents are left in
    /// place), else a new one.
    #[must_use]
    pub fn buffer(&self, len: usize) -> Vec<u8> {
        let mut v = self
            .spent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        v.resize(len, 0);
        v
    }

    /// Sends a chunk, waiting while the pipe is full. False when the reader
    /// is gone (the caller should stop producing).
    pub fn send(&self, chunk: Vec<u8>) -> bool {
        self.tx.send(Ok(chunk)).is_ok()
    }

    /// Passes an error to the reader, which returns it from `read`.
    pub fn fail(&self, e: io::Error) {
        let _ = self.tx.send(Err(e));
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.send(buf.to_vec()) {
            Ok(buf.len())
        } else {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reading end of the pipe is gone",
            ))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The receiving end, as a reader: the end of the stream is when every
/// writer has been dropped.
#[derive(Debug)]
pub struct PipeReader {
    rx: mpsc::Receiver<Chunk>,
    current: Vec<u8>,
    pos: usize,
    spent: Spent,
    /// Spent buffers kept at most.
    keep: usize,
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let old = std::mem::replace(&mut self.current, chunk);
                    self.pos = 0;
                    let mut spent = self.spent.lock().unwrap_or_else(PoisonError::into_inner);
                    if old.capacity() > 0 && spent.len() < self.keep {
                        spent.push(old);
                    }
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn errors_pass_through_and_a_gone_reader_stops_the_writer() {
        let (w, mut r) = pipe(1);
        w.send(b"ab".to_vec());
        let t = std::thread::spawn(move || w.fail(io::Error::other("broke")));
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        assert_eq!(r.read(&mut buf).unwrap_err().to_string(), "broke");
        t.join().unwrap();
        let (mut w, r) = pipe(1);
        drop(r);
        assert!(!w.send(vec![1]));
        assert_eq!(w.write(b"x").unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn spent_buffers_come_back_to_the_writer() {
        let (w, mut r) = pipe(2);
        let mut a = w.buffer(4);
        a.copy_from_slice(b"abcd");
        w.send(a);
        w.send(b"ef".to_vec());
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 4);
        assert_eq!(r.read(&mut buf).unwrap(), 2);
        // The first chunk was handed back when the second was taken.
        let again = w.buffer(6);
        assert_eq!(&again[..4], b"abcd");
        assert_eq!(again.len(), 6);
    }
}
