//! Properties of the identifier types: printing and parsing are inverses, and no input
//! makes a parser panic.

use proptest::prelude::*;
use sriov_core::ids::{PciAddress, PfSelector, ResourceName, VfRange};

proptest! {
    #[test]
    fn pci_addresses_print_and_parse_back(
        domain in 0u32..=0xffff_ffff,
        bus: u8,
        device in 0u8..=0x1f,
        function in 0u8..=7,
    ) {
        let addr = PciAddress::new(domain, bus, device, function).unwrap();
        let text = addr.to_string();
        prop_assert_eq!(text.parse::<PciAddress>().unwrap(), addr);
        prop_assert_eq!(text.to_uppercase().parse::<PciAddress>().unwrap(), addr);
    }

    #[test]
    fn vf_ranges_print_and_parse_back_and_overlap_symmetrically(
        a: u16, b: u16, c: u16, d: u16,
    ) {
        let r1 = VfRange::new(a.min(b), a.max(b)).unwrap();
        let r2 = VfRange::new(c.min(d), c.max(d)).unwrap();
        prop_assert_eq!(r1.to_string().parse::<VfRange>().unwrap(), r1);
        prop_assert_eq!(r1.overlaps(&r2), r2.overlaps(&r1));
        let shared = (r1.first()..=r1.last()).any(|i| r2.contains(i));
        prop_assert_eq!(r1.overlaps(&r2), shared);
    }

    #[test]
    fn pf_selectors_print_and_parse_back(
        name in "[a-z][a-z0-9]{0,14}",
        range in proptest::option::of((0u16..512, 0u16..512)),
    ) {
        let text = match range {
            Some((a, b)) => format!("{name}#{}-{}", a.min(b), a.max(b)),
            None => name.clone(),
        };
        let selector: PfSelector = text.parse().unwrap();
        prop_assert_eq!(selector.name(), name.as_str());
        prop_assert_eq!(selector.to_string(), text);
    }

    #[test]
    fn resource_names_accept_exactly_the_upstream_pattern(text in "[a-zA-Z0-9_.-]{0,70}") {
        let bytes = text.as_bytes();
        let expected = !text.is_empty()
            && text.len() <= 63
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-')
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric();
        prop_assert_eq!(text.parse::<ResourceName>().is_ok(), expected);
    }

    #[test]
    fn parsers_never_panic(text in ".{0,40}") {
        let _ = text.parse::<PciAddress>();
        let _ = text.parse::<VfRange>();
        let _ = text.parse::<PfSelector>();
        let _ = text.parse::<ResourceName>();
    }
}
