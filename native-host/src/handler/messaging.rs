//! The native-messaging loop: one reader, one writer, each request answered on the blocking
//! pool so answers may overtake each other (they carry the request's id).
//!
//! At most [`MAX_IN_FLIGHT`] requests are being answered or waiting to be written at once: the
//! reader waits for a slot before it reads on, so a flood of requests slows the browser down
//! instead of exhausting the blocking pool that stdin and stdout themselves run on.
//!
//! Frames: a 4-byte native-endian length, then the JSON body; at most 1 MiB each way. EOF at a
//! frame boundary ends the loop cleanly; a frame that cannot be read (over the cap, truncated)
//! ends it with an error, after every answer already decided has been written.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use profile_core::wire::MAX_FRAME;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

use crate::handler::Host;

/// Requests answered concurrently, at most.
pub const MAX_IN_FLIGHT: usize = 32;

/// Chrome's framing as a codec.
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder().length_field_length(4).native_endian().max_frame_length(MAX_FRAME).new_codec()
}

/// Why the loop stopped early.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("unreadable frame from the browser: {0}")]
    Frame(std::io::Error),
}

/// Serves requests from `input` until EOF, writing answers to `output`.
pub async fn serve<R, W>(host: Arc<Host>, input: R, output: W) -> Result<(), LoopError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // Each answer carries its slot until written, so the channel never holds more than
    // MAX_IN_FLIGHT answers and `blocking_send` never waits.
    let (answers, mut pending) = mpsc::channel::<(Vec<u8>, OwnedSemaphorePermit)>(MAX_IN_FLIGHT);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let writer = tokio::spawn(async move {
        let mut sink = FramedWrite::new(output, codec());
        while let Some((body, _slot)) = pending.recv().await {
            if let Err(e) = sink.send(Bytes::from(body)).await {
                // The browser went away; nobody is left to answer.
                tracing::debug!("cannot write an answer: {e}");
                break;
            }
        }
    });

    let mut frames = FramedRead::new(input, codec());
    let outcome = loop {
        match frames.next().await {
            None => break Ok(()),
            Some(Err(e)) => break Err(LoopError::Frame(e)),
            Some(Ok(frame)) => {
                let Ok(slot) = slots.clone().acquire_owned().await else { break Ok(()) };
                let host = host.clone();
                let answers = answers.clone();
                tokio::task::spawn_blocking(move || {
                    let body = host.handle_frame(&frame).to_frame_body();
                    let _ = answers.blocking_send((body, slot));
                });
            }
        }
    };
    drop(answers);
    let _ = writer.await;
    outcome
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use proptest::prelude::*;
    use tokio_util::codec::Decoder;

    use super::*;

    proptest! {
        /// Any byte stream decodes to frames or a clean error; never a panic, never a frame over
        /// the cap. Every decoded frame then parses to a request or a failure.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut codec = codec();
            let mut buffer = BytesMut::new();
            'outer: for chunk in chunks {
                buffer.extend_from_slice(&chunk);
                loop {
                    match codec.decode(&mut buffer) {
                        Ok(Some(frame)) => {
                            prop_assert!(frame.len() <= MAX_FRAME);
                            let _ = profile_core::wire::parse_request(&frame);
                        }
                        Ok(None) => break,
                        Err(_) => break 'outer,
                    }
                }
            }
            let _ = codec.decode_eof(&mut buffer);
        }

        #[test]
        fn lengths_over_the_cap_are_refused(extra in 1usize..1000) {
            let mut buffer = BytesMut::from(&((MAX_FRAME + extra) as u32).to_ne_bytes()[..]);
            prop_assert!(codec().decode(&mut buffer).is_err());
        }
    }
}
