//! Every integration test, in one binary (as jj builds its tests): the support code compiles
//! once, and the tests link once. Each module is one area; `every_test_file_is_a_module` keeps
//! a new file from being left out.
//!
//! Modules marked `not(wasm)` start processes (moto, the binary, Python oracles): the
//! WebAssembly run of the core's tests leaves them out.
#![allow(clippy::unwrap_used)]

#[cfg(not(target_family = "wasm"))]
#[path = "../support/moto.rs"]
mod moto;

#[cfg(feature = "cli")]
#[macro_use]
mod common;

mod cli;
mod cli_output;
mod completion;
mod fleet;
mod fleet_cycle;
mod fleet_encrypt;
mod fleet_notify;
mod fleet_org;
mod fleet_org_core;
mod fleet_seal_core;
mod fleet_simulation;
mod fleet_stages;
mod fleet_transcripts;
mod harness_selftest;
mod ini;
mod pickup;
mod pickup_moto;
mod plan;
mod platform;
mod profile;
mod render_oracle;
mod render_yaml;
mod simulation;
mod terminal;
mod transcripts;

/// Each `.rs` file beside this one is declared above.
#[cfg(not(target_family = "wasm"))]
#[test]
#[allow(clippy::disallowed_methods)] // a test reads its own sources
fn every_test_file_is_a_module() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let main = std::fs::read_to_string(dir.join("main.rs")).expect("main.rs");
    for entry in std::fs::read_dir(&dir).expect("tests/it") {
        let path = entry.expect("an entry").path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".rs"))
        else {
            continue;
        };
        if name != "main" {
            assert!(
                main.contains(&format!("mod {name};\n")),
                "tests/it/{name}.rs is not declared in tests/it/main.rs: add `mod {name};`"
            );
        }
    }
}
