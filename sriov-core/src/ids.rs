//! Domain identifiers: PCI addresses, VF ranges, PF selectors and resource names.
//!
//! The raw API types keep these as strings, exactly as the CRDs do; code that makes
//! decisions parses them into these types first, so a malformed value is rejected once, with
//! an error that names the input and the reason, and never reaches rendering.
//!
//! Every type implements `FromStr` and `Display` (the two round-trip), and serializes as its
//! string form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, PfSelectorProblem, ResourceNameProblem, VfRangeProblem};

/// Implements `Serialize`/`Deserialize` through `Display`/`FromStr`.
macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A PCI function address in the kernel's sysfs spelling, `dddd:bb:dd.f`
/// (for example `0000:86:00.1`).
///
/// Parsing accepts upper- or lower-case hex and domains of 4 to 8 hex digits (Intel VMD
/// domains such as `10000` have five); `Display` prints the kernel's lower-case form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddress {
    domain: u32,
    bus: u8,
    device: u8,
    function: u8,
}

impl PciAddress {
    /// Builds an address from its parts; `None` when the device is above 0x1f or the function
    /// above 7.
    pub fn new(domain: u32, bus: u8, device: u8, function: u8) -> Option<Self> {
        (device <= 0x1f && function <= 7).then_some(Self {
            domain,
            bus,
            device,
            function,
        })
    }

    /// The PCI domain (segment).
    pub fn domain(&self) -> u32 {
        self.domain
    }

    /// The bus number.
    pub fn bus(&self) -> u8 {
        self.bus
    }

    /// The device (slot) number, 0..=0x1f.
    pub fn device(&self) -> u8 {
        self.device
    }

    /// The function number, 0..=7.
    pub fn function(&self) -> u8 {
        self.function
    }
}

fn hex_field(text: &str, min: usize, max: usize) -> Option<u32> {
    let ok = (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u32::from_str_radix(text, 16).ok()).flatten()
}

impl FromStr for PciAddress {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| Error::PciAddress {
            input: input.to_owned(),
            reason,
        };
        let mut colon = input.split(':');
        let (Some(domain), Some(bus), Some(slot), None) =
            (colon.next(), colon.next(), colon.next(), colon.next())
        else {
            return Err(fail(
                "expected domain:bus:device.function, e.g. 0000:86:00.1",
            ));
        };
        let Some((device, function)) = slot.split_once('.') else {
            return Err(fail("expected a '.' between device and function"));
        };
        let domain =
            hex_field(domain, 4, 8).ok_or_else(|| fail("domain must be 4 to 8 hex digits"))?;
        let bus = hex_field(bus, 2, 2).ok_or_else(|| fail("bus must be 2 hex digits"))?;
        let device = hex_field(device, 2, 2)
            .filter(|d| *d <= 0x1f)
            .ok_or_else(|| fail("device must be 2 hex digits, at most 1f"))?;
        let function = hex_field(function, 1, 1)
            .filter(|f| *f <= 7)
            .ok_or_else(|| fail("function must be one digit, 0 to 7"))?;
        // The filters above bound each value to its field width.
        Ok(Self {
            domain,
            bus: bus as u8,
            device: device as u8,
            function: function as u8,
        })
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

string_serde!(PciAddress);

/// An inclusive range of VF indices on one PF, written `first-last` (for example `0-3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VfRange {
    first: u16,
    last: u16,
}

impl VfRange {
    /// The range `first..=last`; `None` when `last < first`.
    pub fn new(first: u16, last: u16) -> Option<Self> {
        (first <= last).then_some(Self { first, last })
    }

    /// The range covering a whole PF with `num_vfs` VFs (`0-(num_vfs-1)`); `None` for 0 VFs.
    pub fn whole(num_vfs: u16) -> Option<Self> {
        num_vfs.checked_sub(1).map(|last| Self { first: 0, last })
    }

    /// The first VF index.
    pub fn first(&self) -> u16 {
        self.first
    }

    /// The last VF index (inclusive).
    pub fn last(&self) -> u16 {
        self.last
    }

    /// Whether the range reaches beyond the VFs a PF with `num_vfs` VFs has (its last
    /// index is `num_vfs - 1`; with no VFs every range does): rule P16.
    pub fn exceeds(&self, num_vfs: i64) -> bool {
        i64::from(self.last) >= num_vfs
    }

    /// How many VFs the range covers.
    pub fn len(&self) -> u32 {
        u32::from(self.last) - u32::from(self.first) + 1
    }

    /// Always false: a range holds at least one VF. Present for API symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `index` lies inside the range.
    pub fn contains(&self, index: u16) -> bool {
        (self.first..=self.last).contains(&index)
    }

    /// Whether the two ranges share at least one VF index.
    pub fn overlaps(&self, other: &Self) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

fn vf_index(text: &str, problem: VfRangeProblem) -> Result<u16, VfRangeProblem> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(problem);
    }
    text.parse().map_err(|_| problem)
}

impl FromStr for VfRange {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let parse = || {
            let mut parts = input.split('-');
            let (Some(first), Some(last), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(VfRangeProblem::Format);
            };
            let first = vf_index(first, VfRangeProblem::Start)?;
            let last = vf_index(last, VfRangeProblem::End)?;
            Self::new(first, last).ok_or(VfRangeProblem::EndBeforeStart)
        };
        parse().map_err(|problem| Error::VfRange {
            input: input.to_owned(),
            problem,
        })
    }
}

impl fmt::Display for VfRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

string_serde!(VfRange);

/// Longest alternative interface name the kernel accepts (`ALTIFNAMSIZ` - 1).
const MAX_IFNAME_LEN: usize = 127;

/// One `nicSelector.pfNames` entry: a PF name (or alt-name), optionally restricted to a VF
/// range with `#first-last`, as in `ens1f0#2-7`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PfSelector {
    name: String,
    range: Option<VfRange>,
}

impl PfSelector {
    /// The interface name part (before `#`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The VF range after `#`, if any.
    pub fn range(&self) -> Option<VfRange> {
        self.range
    }
}

fn valid_ifname(name: &str) -> bool {
    (1..=MAX_IFNAME_LEN).contains(&name.len())
        && !name
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '/' | ':' | '#'))
}

impl FromStr for PfSelector {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |problem| Error::PfSelector {
            input: input.to_owned(),
            problem,
        };
        let mut parts = input.split('#');
        let name = parts.next().unwrap_or_default();
        let range = parts.next();
        if parts.next().is_some() {
            return Err(fail(PfSelectorProblem::Separator));
        }
        if !valid_ifname(name) {
            return Err(fail(PfSelectorProblem::Name));
        }
        let range = match range {
            None => None,
            Some(text) => Some(text.parse::<VfRange>().map_err(|e| match e {
                Error::VfRange { problem, .. } => fail(PfSelectorProblem::Range(problem)),
                other => other,
            })?),
        };
        Ok(Self {
            name: name.to_owned(),
            range,
        })
    }
}

impl fmt::Display for PfSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.range {
            Some(range) => write!(f, "{}#{range}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

string_serde!(PfSelector);

/// Longest resource name the device plugin and the webhook accept.
pub const MAX_RESOURCE_NAME_LEN: usize = 63;

/// A device-plugin resource name without its prefix (`intel-sriov-netdevice`), checked
/// against upstream's rule: at most 63 characters of `[A-Za-z0-9_-]`, starting and ending
/// with an alphanumeric character.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceName(String);

impl ResourceName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ResourceName {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |problem| Error::ResourceName { problem };
        let bytes = input.as_bytes();
        let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
            return Err(fail(ResourceNameProblem::Empty));
        };
        if input.len() > MAX_RESOURCE_NAME_LEN {
            return Err(fail(ResourceNameProblem::TooLong(input.to_owned())));
        }
        let inner_ok = bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
        if !inner_ok || !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
            return Err(fail(ResourceNameProblem::Invalid(input.to_owned())));
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for ResourceName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

string_serde!(ResourceName);

/// A VF's index on its PF: the `N` of sysfs `virtfnN` and of `ip link set PF vf N`.
///
/// The CRDs carry it as an integer (`vfID`); code that addresses a VF takes this type, so an
/// index is never confused with a VF count or an MTU. It serializes as the bare number.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct VfIndex(u16);

impl VfIndex {
    /// The index `n`.
    pub const fn new(n: u16) -> Self {
        Self(n)
    }

    /// The index as a number.
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Every index of a PF with `num_vfs` VFs, in order.
    pub fn all(num_vfs: u16) -> impl Iterator<Item = Self> {
        (0..num_vfs).map(Self)
    }
}

impl From<u16> for VfIndex {
    fn from(n: u16) -> Self {
        Self(n)
    }
}

impl From<VfIndex> for u32 {
    fn from(index: VfIndex) -> Self {
        u32::from(index.0)
    }
}

impl From<VfIndex> for i32 {
    fn from(index: VfIndex) -> Self {
        i32::from(index.0)
    }
}

impl TryFrom<u32> for VfIndex {
    type Error = std::num::TryFromIntError;

    fn try_from(n: u32) -> Result<Self, Self::Error> {
        u16::try_from(n).map(Self)
    }
}

impl TryFrom<i32> for VfIndex {
    type Error = std::num::TryFromIntError;

    fn try_from(n: i32) -> Result<Self, Self::Error> {
        u16::try_from(n).map(Self)
    }
}

impl FromStr for VfIndex {
    type Err = std::num::ParseIntError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        input.parse().map(Self)
    }
}

impl fmt::Display for VfIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest network interface name the kernel accepts (`IFNAMSIZ` - 1).
pub const MAX_NETDEV_NAME_LEN: usize = 15;

/// A kernel network interface name (`ens1f0`, `net1`), checked as the kernel's
/// `dev_valid_name` does: 1 to 15 bytes, not `.` or `..`, and no `/`, `:` or white space.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfName(String);

impl IfName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for IfName {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason| Error::InterfaceName {
            input: input.to_owned(),
            reason,
        };
        if input.is_empty() {
            return Err(fail("it is empty"));
        }
        if input.len() > MAX_NETDEV_NAME_LEN {
            return Err(fail("it is longer than 15 bytes"));
        }
        if input == "." || input == ".." {
            return Err(fail("`.` and `..` are not interface names"));
        }
        if input
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == ':')
        {
            return Err(fail("it contains `/`, `:` or white space"));
        }
        Ok(Self(input.to_owned()))
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IfName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

string_serde!(IfName);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_address_round_trips_the_kernel_spelling() {
        let addr: PciAddress = "0000:86:00.1".parse().unwrap();
        assert_eq!(
            (addr.domain(), addr.bus(), addr.device(), addr.function()),
            (0, 0x86, 0, 1)
        );
        assert_eq!(addr.to_string(), "0000:86:00.1");
    }

    #[test]
    fn pci_address_accepts_upper_case_and_vmd_domains_and_prints_lower_case() {
        assert_eq!(
            "0000:AF:1F.7".parse::<PciAddress>().unwrap().to_string(),
            "0000:af:1f.7"
        );
        assert_eq!(
            "10000:01:00.0".parse::<PciAddress>().unwrap().to_string(),
            "10000:01:00.0"
        );
    }

    #[test]
    fn pci_address_rejects_each_malformed_part_with_its_reason() {
        for (input, reason) in [
            (
                "86:00.1",
                "expected domain:bus:device.function, e.g. 0000:86:00.1",
            ),
            (
                "0000:86:00:1",
                "expected domain:bus:device.function, e.g. 0000:86:00.1",
            ),
            ("0000:86:001", "expected a '.' between device and function"),
            ("000:86:00.1", "domain must be 4 to 8 hex digits"),
            ("0000:8g:00.1", "bus must be 2 hex digits"),
            ("0000:86:20.1", "device must be 2 hex digits, at most 1f"),
            ("0000:86:00.8", "function must be one digit, 0 to 7"),
            ("0000:86:00.", "function must be one digit, 0 to 7"),
            ("", "expected domain:bus:device.function, e.g. 0000:86:00.1"),
        ] {
            let err = input.parse::<PciAddress>().unwrap_err();
            assert_eq!(
                err,
                Error::PciAddress {
                    input: input.to_owned(),
                    reason
                },
                "input {input:?}"
            );
        }
    }

    #[test]
    fn interface_names_follow_the_kernel_rule() {
        assert_eq!("ens1f0".parse::<IfName>().unwrap().as_str(), "ens1f0");
        assert!("a23456789012345".parse::<IfName>().is_ok());
        for (input, reason) in [
            ("", "it is empty"),
            ("a234567890123456", "it is longer than 15 bytes"),
            ("..", "`.` and `..` are not interface names"),
            ("net/1", "it contains `/`, `:` or white space"),
            ("eth0:1", "it contains `/`, `:` or white space"),
            ("eth 0", "it contains `/`, `:` or white space"),
        ] {
            assert_eq!(
                input.parse::<IfName>().unwrap_err(),
                Error::InterfaceName {
                    input: input.to_owned(),
                    reason
                },
                "input {input:?}"
            );
        }
    }

    #[test]
    fn vf_indexes_convert_only_within_range() {
        assert_eq!(VfIndex::try_from(7_i32).unwrap().get(), 7);
        assert!(VfIndex::try_from(-1_i32).is_err());
        assert!(VfIndex::try_from(70_000_u32).is_err());
        assert_eq!(
            VfIndex::all(3).map(u32::from).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(serde_json::to_string(&VfIndex::new(4)).unwrap(), "4");
    }

    #[test]
    fn vf_range_parses_displays_and_compares() {
        let r: VfRange = "2-7".parse().unwrap();
        assert_eq!((r.first(), r.last(), r.len()), (2, 7, 6));
        assert_eq!(r.to_string(), "2-7");
        assert!(r.contains(2) && r.contains(7) && !r.contains(8));
        assert!(r.overlaps(&"7-9".parse().unwrap()));
        assert!(!r.overlaps(&"8-9".parse().unwrap()));
        assert!(
            "0-0"
                .parse::<VfRange>()
                .unwrap()
                .overlaps(&"0-3".parse().unwrap())
        );
        assert_eq!(VfRange::whole(8), VfRange::new(0, 7));
        assert_eq!(VfRange::whole(0), None);
    }

    #[test]
    fn vf_range_errors_use_upstream_wording() {
        for (input, problem) in [
            ("3", VfRangeProblem::Format),
            ("1-2-3", VfRangeProblem::Format),
            ("a-3", VfRangeProblem::Start),
            ("-3", VfRangeProblem::Start),
            ("+1-3", VfRangeProblem::Start),
            ("1-", VfRangeProblem::End),
            ("1-70000", VfRangeProblem::End),
            ("5-3", VfRangeProblem::EndBeforeStart),
        ] {
            let err = input.parse::<VfRange>().unwrap_err();
            assert_eq!(
                err,
                Error::VfRange {
                    input: input.to_owned(),
                    problem
                },
                "input {input:?}"
            );
        }
        assert_eq!(
            "5-3".parse::<VfRange>().unwrap_err().to_string(),
            "invalid VF range \"5-3\": end range shall not be smaller than start range"
        );
    }

    #[test]
    fn pf_selector_splits_name_and_range() {
        let s: PfSelector = "ens1f0#2-7".parse().unwrap();
        assert_eq!((s.name(), s.range()), ("ens1f0", VfRange::new(2, 7)));
        assert_eq!(s.to_string(), "ens1f0#2-7");
        let whole: PfSelector = "enp134s0f1np1".parse().unwrap();
        assert_eq!((whole.name(), whole.range()), ("enp134s0f1np1", None));
        assert_eq!(whole.to_string(), "enp134s0f1np1");
    }

    #[test]
    fn pf_selector_rejects_bad_separators_names_and_ranges() {
        let problem = |input: &str| match input.parse::<PfSelector>() {
            Err(Error::PfSelector { problem, .. }) => problem,
            other => panic!("{input:?} gave {other:?}"),
        };
        assert_eq!(problem("ens1#0-1#2-3"), PfSelectorProblem::Separator);
        assert_eq!(problem("#0-3"), PfSelectorProblem::Name);
        assert_eq!(problem("ens 1"), PfSelectorProblem::Name);
        assert_eq!(problem(""), PfSelectorProblem::Name);
        assert_eq!(
            problem("ens1#3"),
            PfSelectorProblem::Range(VfRangeProblem::Format)
        );
        assert_eq!(
            problem("ens1#4-2"),
            PfSelectorProblem::Range(VfRangeProblem::EndBeforeStart)
        );
        assert_eq!(
            "ens1#x-2".parse::<PfSelector>().unwrap_err().to_string(),
            "invalid PF selector \"ens1#x-2\": start range is incorrect"
        );
    }

    #[test]
    fn resource_name_follows_the_upstream_rule() {
        for ok in ["intel-sriov-netdevice", "a", "A_b-9", &"x".repeat(63)] {
            assert_eq!(ok.parse::<ResourceName>().unwrap().as_str(), ok);
        }
        let problem = |input: &str| match input.parse::<ResourceName>() {
            Err(Error::ResourceName { problem }) => problem,
            other => panic!("{input:?} gave {other:?}"),
        };
        assert_eq!(problem(""), ResourceNameProblem::Empty);
        let long = "x".repeat(64);
        assert_eq!(problem(&long), ResourceNameProblem::TooLong(long.clone()));
        for bad in ["-a", "a-", "_a", "a.b", "a/b", "ä"] {
            assert_eq!(
                problem(bad),
                ResourceNameProblem::Invalid(bad.to_owned()),
                "{bad:?}"
            );
        }
        assert_eq!(problem("").to_string(), "resource name must not be empty");
    }

    #[test]
    fn identifiers_serialize_as_their_strings() {
        let addr: PciAddress = serde_json::from_str("\"0000:3b:00.0\"").unwrap();
        assert_eq!(serde_json::to_string(&addr).unwrap(), "\"0000:3b:00.0\"");
        let err = serde_json::from_str::<VfRange>("\"7-2\"").unwrap_err();
        assert!(
            err.to_string().contains("end range shall not be smaller"),
            "{err}"
        );
    }
}
