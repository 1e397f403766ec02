//! InfiniBand VF GUIDs: the 64-bit identifiers the subnet manager keys partitions (PKeys)
//! on, and the static pool file that assigns them (`/etc/sriov-operator/infiniband/guids`,
//! upstream's `ib-vf-configuration` design).
//!
//! The pool file is a JSON list; each entry names one PF, by `pciAddress` or `pfGuid`
//! (upstream's documentation spells them `pci_address` and `pf_guid`; both are read), and
//! gives its VF GUIDs as a `guids` list or an inclusive `guidsRange {start, end}`. VF `i`
//! takes the `i`-th GUID. The first entry for a PF wins.
//!
//! Without a pool entry, a VF's GUID is derived from its PF's GUID (or PCI address) and its
//! index: stable across reconfigurations and reboots, unlike upstream's random GUIDs, so
//! PKey assignments made for a VF keep holding.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// A 64-bit InfiniBand GUID, written as eight colon-separated hex bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guid(pub u64);

impl serde::Serialize for Guid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The GUID a VF has before one is assigned.
pub const ZERO: Guid = Guid(0);

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.to_be_bytes();
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Why a GUID did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid GUID {input:?}: expected 8 hex bytes like 02:00:00:00:00:00:00:01")]
pub struct GuidError {
    /// The rejected text.
    pub input: String,
}

impl FromStr for Guid {
    type Err = GuidError;

    /// Accepts `xx:xx:xx:xx:xx:xx:xx:xx` (as the pool file and `ip link` write it) and
    /// `xxxx:xxxx:xxxx:xxxx` (as sysfs `node_guid` writes it).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || GuidError {
            input: s.to_owned(),
        };
        let parts: Vec<&str> = s.split(':').collect();
        let digits_per_part = match parts.len() {
            8 => 2,
            4 => 4,
            _ => return Err(err()),
        };
        let mut value = 0u64;
        for part in parts {
            if part.len() != digits_per_part || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(err());
            }
            let v = u64::from_str_radix(part, 16).map_err(|_| err())?;
            value = (value << (4 * digits_per_part)) | v;
        }
        Ok(Guid(value))
    }
}

/// The GUID for VF `index` of a PF without a pool entry: a hash of the PF's identity (its
/// GUID when known, else its PCI address) and the index, with the locally administered bit
/// set so it never collides with a vendor-assigned GUID. Never [`ZERO`].
pub fn derived(pf_identity: &str, index: u16) -> Guid {
    // FNV-1a: small, stable across releases and platforms (unlike std's hasher).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in pf_identity.bytes().chain([b'/']).chain(index.to_be_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Locally administered (bit 1 of the first byte), unicast (bit 0 clear).
    let value = (hash & !(0x01 << 56)) | (0x02 << 56);
    Guid(value)
}

/// Why the pool file was rejected; `entry` is its index in the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GuidPoolError {
    /// Not a JSON list of entries.
    #[error("GUID pool file is not a JSON list of entries: {0}")]
    Json(String),
    /// An entry names its PF twice or not at all.
    #[error("GUID pool entry {entry}: {reason}")]
    Entry {
        /// Index in the list.
        entry: usize,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    #[serde(rename = "pciAddress", alias = "pci_address")]
    pci_address: Option<String>,
    #[serde(rename = "pfGuid", alias = "pf_guid")]
    pf_guid: Option<String>,
    guids: Option<Vec<String>>,
    #[serde(rename = "guidsRange", alias = "guids_range")]
    guids_range: Option<RawRange>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    start: String,
    end: String,
}

/// Which PF an entry is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PfKey {
    /// By PCI address.
    PciAddress(String),
    /// By the PF's port GUID.
    Guid(Guid),
}

/// One PF's GUIDs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuidSource {
    /// An explicit list; VF `i` takes item `i`.
    List(Vec<Guid>),
    /// An inclusive range; VF `i` takes `start + i`.
    Range {
        /// First GUID.
        start: Guid,
        /// Last GUID (inclusive).
        end: Guid,
    },
}

impl GuidSource {
    /// The GUID of VF `index`, if the source has that many.
    pub fn get(&self, index: u16) -> Option<Guid> {
        match self {
            Self::List(list) => list.get(usize::from(index)).copied(),
            Self::Range { start, end } => start
                .0
                .checked_add(u64::from(index))
                .filter(|v| *v <= end.0)
                .map(Guid),
        }
    }

    /// How many GUIDs the source holds (saturating).
    pub fn len(&self) -> u64 {
        match self {
            Self::List(list) => list.len() as u64,
            Self::Range { start, end } => (end.0 - start.0).saturating_add(1),
        }
    }

    /// Whether the source holds no GUID.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The parsed pool file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuidPool {
    entries: Vec<(PfKey, GuidSource)>,
}

impl GuidPool {
    /// Parses the pool file's text. Every problem names the entry and the field.
    pub fn parse(text: &str) -> Result<Self, GuidPoolError> {
        let raw: Vec<RawEntry> =
            serde_json::from_str(text).map_err(|e| GuidPoolError::Json(e.to_string()))?;
        let mut entries = Vec::with_capacity(raw.len());
        for (entry, raw) in raw.into_iter().enumerate() {
            let bad = |reason: String| GuidPoolError::Entry { entry, reason };
            let guid = |field: &str, text: &str| {
                text.parse::<Guid>()
                    .map_err(|e| bad(format!("{field}: {e}")))
            };
            let key = match (raw.pci_address, raw.pf_guid) {
                (Some(_), Some(_)) => {
                    return Err(bad("pciAddress and pfGuid cannot both be set".to_owned()));
                }
                (None, None) => return Err(bad("needs pciAddress or pfGuid".to_owned())),
                (Some(pci), None) => {
                    let pci = pci
                        .parse::<crate::ids::PciAddress>()
                        .map_err(|e| bad(format!("pciAddress: {e}")))?;
                    PfKey::PciAddress(pci.to_string())
                }
                (None, Some(g)) => PfKey::Guid(guid("pfGuid", &g)?),
            };
            let source = match (raw.guids, raw.guids_range) {
                (Some(_), Some(_)) => {
                    return Err(bad("guids and guidsRange cannot both be set".to_owned()));
                }
                (None, None) => return Err(bad("needs guids or guidsRange".to_owned())),
                (Some(list), None) => GuidSource::List(
                    list.iter()
                        .enumerate()
                        .map(|(i, g)| guid(&format!("guids[{i}]"), g))
                        .collect::<Result<_, _>>()?,
                ),
                (None, Some(range)) => {
                    let start = guid("guidsRange.start", &range.start)?;
                    let end = guid("guidsRange.end", &range.end)?;
                    if end < start {
                        return Err(bad(format!(
                            "guidsRange.end {end} is before guidsRange.start {start}"
                        )));
                    }
                    GuidSource::Range { start, end }
                }
            };
            entries.push((key, source));
        }
        Ok(Self { entries })
    }

    /// The first entry for the PF at `pci` (or with port GUID `pf_guid`).
    pub fn lookup(&self, pci: &str, pf_guid: Option<Guid>) -> Option<&GuidSource> {
        self.entries
            .iter()
            .find(|(key, _)| match key {
                PfKey::PciAddress(a) => a == pci,
                PfKey::Guid(g) => Some(*g) == pf_guid,
            })
            .map(|(_, source)| source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_parse_in_both_spellings_and_print_as_bytes() {
        let a: Guid = "02:00:00:00:00:00:00:0a".parse().expect("bytes");
        let b: Guid = "0200:0000:0000:000a".parse().expect("sysfs");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "02:00:00:00:00:00:00:0a");
        for bad in [
            "",
            "02:00",
            "0g:00:00:00:00:00:00:00",
            "2:00:00:00:00:00:00:00",
        ] {
            assert!(bad.parse::<Guid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn derived_guids_are_stable_local_and_distinct() {
        let a = derived("0000:81:00.0", 0);
        assert_eq!(a, derived("0000:81:00.0", 0));
        assert_ne!(a, derived("0000:81:00.0", 1));
        assert_ne!(a, derived("0000:81:00.1", 0));
        assert_eq!(a.0 >> 56 & 0x03, 0x02);
    }

    #[test]
    fn pool_file_entries_resolve_by_pci_or_pf_guid_first_wins() {
        let pool = GuidPool::parse(
            r#"[
              {"pci_address": "0000:81:00.0", "guids": ["02:00:00:00:00:00:00:01", "02:00:00:00:00:00:00:02"]},
              {"pfGuid": "0c42:a103:0065:5f3a", "guidsRange": {"start": "02:00:00:00:00:aa:00:02", "end": "02:00:00:00:00:aa:00:0a"}},
              {"pciAddress": "0000:81:00.0", "guids": ["02:00:00:00:00:00:00:ff"]}
            ]"#,
        )
        .expect("parses");
        let first = pool.lookup("0000:81:00.0", None).expect("by pci");
        assert_eq!(first.get(1).map(|g| g.0), Some(0x0200_0000_0000_0002));
        assert_eq!(first.get(2), None);
        let pf_guid = "0c:42:a1:03:00:65:5f:3a".parse().ok();
        let range = pool.lookup("0000:82:00.0", pf_guid).expect("by guid");
        assert_eq!(range.len(), 9);
        assert_eq!(
            range.get(8).map(|g| g.to_string()).as_deref(),
            Some("02:00:00:00:00:aa:00:0a")
        );
        assert_eq!(range.get(9), None);
    }

    #[test]
    fn pool_file_errors_name_the_entry_and_field() {
        let cases = [
            ("{}", "not a JSON list"),
            (r#"[{"guids": []}]"#, "entry 0: needs pciAddress or pfGuid"),
            (
                r#"[{"pciAddress": "0000:81:00.0", "pfGuid": "0000:0000:0000:0001", "guids": []}]"#,
                "cannot both be set",
            ),
            (
                r#"[{"pciAddress": "0000:81:00.0", "guids": [], "guidsRange": {"start": "0000:0000:0000:0001", "end": "0000:0000:0000:0002"}}]"#,
                "guids and guidsRange",
            ),
            (
                r#"[{"pciAddress": "0000:81:00.0", "guids": ["02:00:00:00:00:00:00:01", "nope"]}]"#,
                "entry 0: guids[1]: invalid GUID \"nope\"",
            ),
            (
                r#"[{"pciAddress": "0000:81:00.0", "guidsRange": {"start": "0000:0000:0000:0009", "end": "0000:0000:0000:0002"}}]"#,
                "is before guidsRange.start",
            ),
            (
                r#"[{"pciAddress": "81:00.0", "guids": []}]"#,
                "entry 0: pciAddress",
            ),
        ];
        for (text, expected) in cases {
            let err = GuidPool::parse(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
