//! Arbitrary text through the manifest reader: it may reject, never panic, and whatever it
//! accepts must serialize back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(documents) = sriov_core::manifest::read_str(text) {
        for document in documents.into_iter().flatten() {
            let _ = document
                .object
                .to_value()
                .expect("an accepted object serializes");
            for field in &document.unknown_fields {
                let _ = field.to_string();
            }
        }
    }
});
