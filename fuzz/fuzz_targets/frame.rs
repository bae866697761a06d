//! The host's frame reader on an arbitrary byte stream, each frame then parsed as a request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_core::wire::{MAX_FRAME, parse_request};
use profile_host::handler::messaging::FrameReader;

fuzz_target!(|data: &[u8]| {
    let mut frames = FrameReader::new(data);
    while let Ok(Some(frame)) = frames.next_frame() {
        assert!(frame.len() <= MAX_FRAME);
        let _ = parse_request(&frame);
    }
});
