//! The message parser on one arbitrary frame body: a request or a failure, never a panic; a
//! failure always serializes to a frame under the cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_core::wire::{MAX_FRAME, Response, parse_request};

fuzz_target!(|data: &[u8]| {
    if let Err((id, error)) = parse_request(data) {
        assert!(Response::failure(id, error).to_frame_body().len() <= MAX_FRAME);
    }
});
