//! The native-messaging loop: the thread that reads frames answers the calls that need no
//! network and no slow disk work itself, at once, and hands every other call to a thread of its
//! own, so answers may overtake each other (they carry the request's id).
//!
//! A quick answer costs no thread hop: the round trip of a `getDeviceId` is the pipe's, a few
//! system calls, an HMAC and the ledger record's seal. At most [`MAX_IN_FLIGHT`] slow calls are
//! being answered at once: the reader waits for a slot before it reads on, so a flood of
//! requests slows the browser down instead of exhausting the machine.
//!
//! Frames: a 4-byte native-endian length, then the JSON body; at most 1 MiB each way. EOF at a
//! frame boundary ends the loop cleanly; a frame that cannot be read (over the cap, truncated)
//! ends it with an error, after every answer already decided has been written.

use std::io::{self, BufReader, Read, Write};
use std::sync::{Arc, Condvar, Mutex};

use profile_core::wire::{MAX_FRAME, Response, parse_request};
use profile_core::{ErrorCode, WireError};

use super::Host;

/// Slow calls answered concurrently, at most.
pub const MAX_IN_FLIGHT: usize = 32;

/// Why the loop stopped early.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("unreadable frame from the browser: {0}")]
    Frame(io::Error),
}

/// Reads Chrome's frames from a byte stream.
#[derive(Debug)]
pub struct FrameReader<R>(R);

impl<R: Read> FrameReader<R> {
    pub fn new(input: R) -> Self {
        Self(input)
    }

    /// The next frame's body; `None` at EOF on a frame boundary. A length over [`MAX_FRAME`] or
    /// a stream that ends inside a frame is an error.
    pub fn next_frame(&mut self) -> io::Result<Option<Vec<u8>>> {
        let mut len = [0u8; 4];
        let mut got = 0;
        while got < len.len() {
            match self.0.read(&mut len[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the stream ended inside a length")),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let len = u32::from_ne_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("a frame of {len} bytes is over the cap")));
        }
        let mut body = vec![0u8; len];
        self.0.read_exact(&mut body)?;
        Ok(Some(body))
    }
}

/// Writes whole frames, one at a time, from any thread; after a failed write (the browser went
/// away) the rest are dropped.
struct FrameWriter<W> {
    output: Mutex<Option<W>>,
}

impl<W: Write> FrameWriter<W> {
    fn write(&self, body: &[u8]) {
        let mut output = self.output.lock().unwrap_or_else(|p| p.into_inner());
        let Some(out) = output.as_mut() else { return };
        let mut frame = Vec::with_capacity(4 + body.len());
        frame.extend_from_slice(&(body.len() as u32).to_ne_bytes());
        frame.extend_from_slice(body);
        if let Err(e) = out.write_all(&frame).and_then(|()| out.flush()) {
            // The browser went away; nobody is left to answer.
            tracing::debug!("cannot write an answer: {e}");
            *output = None;
        }
    }
}

/// Counts slow calls in flight.
#[derive(Default)]
struct Slots {
    busy: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn take(&self) {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy >= MAX_IN_FLIGHT {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
        *busy += 1;
    }

    fn give_back(&self) {
        *self.busy.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.freed.notify_all();
    }

    fn wait_idle(&self) {
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        while *busy > 0 {
            busy = self.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Serves requests from `input` until EOF, writing answers to `output`.
pub fn serve<R, W>(host: Arc<Host>, input: R, output: W) -> Result<(), LoopError>
where
    R: Read,
    W: Write + Send + 'static,
{
    let writer = Arc::new(FrameWriter { output: Mutex::new(Some(output)) });
    let slots = Arc::new(Slots::default());
    let mut frames = FrameReader::new(BufReader::with_capacity(64 * 1024, input));
    let outcome = loop {
        let frame = match frames.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(LoopError::Frame(e)),
        };
        let request = match parse_request(&frame) {
            Ok(request) => request,
            Err((id, error)) => {
                writer.write(&Response::failure(id, error).to_frame_body());
                continue;
            }
        };
        if host.answers_at_once(&request.call) {
            writer.write(&host.handle(request).to_frame_body());
            continue;
        }
        slots.take();
        let id = request.id;
        let (host, answers, done) = (host.clone(), writer.clone(), slots.clone());
        let spawned = std::thread::Builder::new().name("profile-host call".into()).spawn(move || {
            answers.write(&host.handle(request).to_frame_body());
            done.give_back();
        });
        if let Err(e) = spawned {
            tracing::warn!("cannot start a thread for a call: {e}");
            slots.give_back();
            let busy = WireError::new(ErrorCode::Internal, "the host is out of threads; try again");
            writer.write(&Response::failure(Some(id), busy).to_frame_body());
        }
    };
    slots.wait_idle();
    outcome
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any byte stream reads as frames or a clean error; never a panic, never a frame over
        /// the cap. Every frame then parses to a request or a failure.
        #[test]
        fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut frames = FrameReader::new(bytes.as_slice());
            while let Ok(Some(frame)) = frames.next_frame() {
                prop_assert!(frame.len() <= MAX_FRAME);
                let _ = parse_request(&frame);
            }
        }

        #[test]
        fn lengths_over_the_cap_are_refused(extra in 1usize..1000) {
            let bytes = ((MAX_FRAME + extra) as u32).to_ne_bytes();
            prop_assert!(FrameReader::new(&bytes[..]).next_frame().is_err());
        }
    }

    #[test]
    fn a_stream_that_ends_inside_a_frame_is_an_error_and_a_clean_end_is_not() {
        assert!(FrameReader::new(&[][..]).next_frame().unwrap().is_none());
        assert!(FrameReader::new(&[5, 0][..]).next_frame().is_err());
        let mut truncated = 10u32.to_ne_bytes().to_vec();
        truncated.extend_from_slice(b"abc");
        assert!(FrameReader::new(truncated.as_slice()).next_frame().is_err());
    }
}
