//! libFuzzer target: scenario bytes (as UTF-8, invalid sequences replaced) into
//! `cellsim_models::compile`. Errors must be located and render; a compiled scenario goes
//! through the cheap `Spec` queries. A panic is a crash.
#![no_main]

use cellsim_models::features::{Features, Paths};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match cellsim_models::compile("fuzz.toml", &text) {
        Err(errors) => {
            assert!(!errors.is_empty());
            for e in &errors {
                assert!(e.line >= 1 && !e.message.is_empty(), "an unlocated error: {e:?}");
                let _ = e.to_string();
            }
        }
        Ok(spec) => {
            let _ = Features::of(&spec).tier();
            let _ = Paths::of(&spec, true);
            let _ = spec.offered_load();
        }
    }
});
