//! Arbitrary text through every identifier parser: anything accepted prints back to a
//! string that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sriov_core::ids::{PciAddress, PfSelector, ResourceName, VfRange};

fn round_trips<T>(text: &str)
where
    T: std::str::FromStr + std::fmt::Display + PartialEq + std::fmt::Debug,
{
    if let Ok(value) = text.parse::<T>() {
        let printed = value.to_string();
        let again: T = printed.parse().ok().expect("printed form parses");
        assert_eq!(again, value, "{text:?} -> {printed:?}");
    }
}

fuzz_target!(|text: &str| {
    round_trips::<PciAddress>(text);
    round_trips::<VfRange>(text);
    round_trips::<PfSelector>(text);
    round_trips::<ResourceName>(text);
});
