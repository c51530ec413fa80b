//! A bounded pipe between threads: chunks of bytes through a channel that
//! holds at most a fixed number of them, read as one stream. Pipelines that
//! overlap download, hashing, inflation and parsing use it, so the memory in
//! flight is bounded whatever the input's size.

use std::io::{self, Read, Write};
use std::sync::mpsc;

type Chunk = io::Result<Vec<u8>>;

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
    (
        PipeWriter { tx },
        PipeReader {
            rx,
            current: Vec::new(),
            pos: 0,
        },
    )
}

/// The sending end; dropping it ends the stream.
#[derive(Debug, Clone)]
pub struct PipeWriter {
    tx: mpsc::SyncSender<Chunk>,
}

impl PipeWriter {
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
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
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
}
