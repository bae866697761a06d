//! The host's frame decoder on an arbitrary byte stream, each frame then parsed as a request.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use profile_core::wire::{MAX_FRAME, parse_request};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = profile_host::handler::messaging::codec();
    let mut buffer = BytesMut::from(data);
    loop {
        match codec.decode_eof(&mut buffer) {
            Ok(Some(frame)) => {
                assert!(frame.len() <= MAX_FRAME);
                let _ = parse_request(&frame);
            }
            Ok(None) | Err(_) => break,
        }
    }
});
