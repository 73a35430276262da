//! `mantle check` on arbitrary bytes: parse, expand composed subsystems,
//! validate, and render the expansion and the diagram of whatever passes.
//! Any panic is a bug. Run: `cargo +nightly fuzz run check` in `tool/`
//! (seeds: `fuzz/corpus/check/`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = mantle::check_bytes("fuzz.system", data);
    if let Ok((sys, _)) = mantle::sdf::load_bytes("fuzz.system", data, &[]) {
        let _ = mantle::sdf::write::write(&sys, "fuzz.system");
        let g = mantle::diagram::graph(&sys, "fuzz");
        let _ = mantle::diagram::dot::write(&g);
        let _ = mantle::diagram::svg::write(&g);
        let _ = mantle::sdf::compose::configs(&sys, None);
    }
});
