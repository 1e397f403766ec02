//! Arbitrary bytes as a CNI plugin's stdin (and arbitrary CNI_ARGS): the configuration
//! reader and its ADD checks may reject, never panic; a rejection is a CNI error with a
//! code the specification knows or ours (100+) and a message.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&[u8], &str)| {
    let (stdin, args) = input;
    match sriov_cni::conf::NetConf::parse(stdin) {
        Ok(conf) => {
            let _ = conf.validate_for_add();
            let pairs: Vec<(String, String)> = args
                .split(';')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            if let Ok(Some(mac)) = conf.effective_mac(&pairs) {
                assert_eq!(mac, mac.to_ascii_lowercase());
            }
        }
        Err(e) => {
            assert!(!e.msg.is_empty());
            assert!(e.code >= 1 && e.code <= 106, "{e:?}");
            let json: serde_json::Value =
                serde_json::from_str(&e.to_json("1.1.0")).expect("error JSON");
            assert_eq!(json["code"], e.code);
        }
    }
});
