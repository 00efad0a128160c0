//! libFuzzer entry point of the `archive` target: [`cis490_fuzz::archive`] on each input
//! (built by `cargo xtask fuzz`; the body lives in the library so that
//! `cargo test` replays saved inputs without instrumentation).

#![no_main]
// libFuzzer calls the exported entry point that the macro defines.
#![allow(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cis490_fuzz::archive(data));
