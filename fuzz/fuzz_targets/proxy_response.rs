//! Arbitrary bytes from a backend as a response head and a chunked body
//! (`modules::proxy::response`): no panic, and the result does not depend
//! on how the bytes arrived.
//!
//! * `parse` answers "incomplete" for every prefix shorter than the head
//!   and, once complete, the same head (status, headers, framing) however
//!   much of what follows was already read, leaving exactly the bytes
//!   after the head in the buffer.
//! * The chunked decoder gives the same body bytes, end, error and
//!   trailers whether it is fed everything at once or in pieces.
//!
//! Input: `[flags, cut seed, bytes...]`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wick::modules::proxy::response::{Dechunker, Step, parse};

/// What a decoder made of `data` fed in `pieces`: the body, and how it
/// ended (`Some(true)` done, `Some(false)` error, `None` wants more), and
/// the trailers.
fn dechunk(data: &[u8], cuts: &[usize]) -> (Vec<u8>, Option<bool>, Vec<u8>) {
    let mut d = Dechunker::default();
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut pos = 0;
    for &end in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = end.min(data.len());
        if end < pos {
            continue;
        }
        buf.extend_from_slice(&data[pos..end]);
        pos = end;
        loop {
            match d.step(&mut buf) {
                Ok(Step::Data(b)) => {
                    assert!(!b.is_empty(), "empty data piece");
                    body.extend_from_slice(&b);
                }
                Ok(Step::More) => break,
                Ok(Step::Done) => return (body, Some(true), d.trailers().to_vec()),
                Err(_) => return (body, Some(false), Vec::new()),
            }
        }
    }
    (body, None, d.trailers().to_vec())
}

fuzz_target!(|data: &[u8]| {
    let [flags, seed, ref input @ ..] = *data else {
        return;
    };
    let head_request = flags & 1 == 1;

    // The head, all at once.
    let mut all = BytesMut::from(input);
    let whole = parse(&mut all, head_request, None);
    if let Ok(Some(h)) = &whole {
        let used = input.len() - all.len();
        assert_eq!(&input[used..], &all[..], "the bytes after the head changed");
        // Every shorter prefix is incomplete.
        let step = (used / 64).max(1);
        for n in (0..used).step_by(step) {
            let mut part = BytesMut::from(&input[..n]);
            match parse(&mut part, head_request, None) {
                Ok(None) => {}
                other => panic!("prefix of {n} of a {used}-byte head: {other:?}"),
            }
        }
        // The head alone gives the same answer as the head with more.
        let mut exact = BytesMut::from(&input[..used]);
        let alone = parse(&mut exact, head_request, None);
        let Ok(Some(a)) = alone else {
            panic!("the head alone: {alone:?}");
        };
        assert!(exact.is_empty());
        assert_eq!(a.status, h.status);
        assert_eq!(a.headers, h.headers);
        assert_eq!(a.framing, h.framing);
        assert_eq!(a.reusable, h.reusable);
    }

    // The same bytes as a chunked body.
    let once = dechunk(input, &[]);
    let mut x = u32::from(seed) | 0x100;
    let mut cuts = Vec::new();
    let mut at = 0usize;
    while at < input.len() {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        at += (x >> 16) as usize % 41;
        cuts.push(at);
    }
    let split = dechunk(input, &cuts);
    assert_eq!(once, split, "the chunked body depends on how it arrived");
});
