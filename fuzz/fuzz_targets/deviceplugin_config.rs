//! Arbitrary text as the device plugin's configuration file: it may reject (naming the
//! resource and key), never panic; an accepted file has unique, valid resource names.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    match sriov_deviceplugin::config::Config::parse(text, "intel.com") {
        Ok(config) => {
            let mut names: Vec<String> = config.resources.iter().map(|r| r.full_name()).collect();
            let count = names.len();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), count, "resource names are unique");
            assert!(count > 0);
        }
        Err(e) => assert!(e.to_string().starts_with("config: ")),
    }
});
