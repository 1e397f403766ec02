//! The udev rules the config daemon writes for a PF it configures (as upstream's daemon writes them),
//! and the two helper scripts they call.
//!
//! - `10-nm-disable-<pci>.rules`: NetworkManager leaves the PF's VFs alone (matched by every
//!   supported VF device ID, then confirmed by the helper against the PF's address);
//! - `10-pf-name-<pci>.rules` (switchdev): the PF keeps its name when the e-switch mode
//!   change re-creates its netdev;
//! - `20-switchdev-<pci>.rules` (switchdev): representors are named `<pf>_<vf index>`.
//!
//! Paths are relative to the host root. Rules are written with mode 0666 as upstream does;
//! scripts are executable.

/// Directory of the rule files, relative to the host root.
pub const RULES_DIR: &str = "etc/udev/rules.d";
/// The NetworkManager helper, relative to the host root.
pub const NM_HELPER: &str = "etc/udev/disable-nm-sriov.sh";
/// The representor-naming helper, relative to the host root.
pub const SWITCHDEV_HELPER: &str = "etc/udev/switchdev-vf-link-name.sh";

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdevFile {
    /// Path relative to the host root.
    pub path: String,
    /// Content.
    pub content: String,
    /// Permission bits.
    pub mode: u32,
}

/// The switch identity of a switchdev PF's uplink, as sysfs reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwitchPort {
    /// `phys_switch_id`.
    pub switch_id: String,
    /// `phys_port_name`, `p<N>` for an uplink.
    pub port_name: String,
}

/// Every rule file the daemon may have written for `pci` (to remove before rewriting, and
/// when the PF is reset).
pub fn rule_paths(pci: &str) -> [String; 3] {
    [
        format!("{RULES_DIR}/10-nm-disable-{pci}.rules"),
        format!("{RULES_DIR}/10-pf-name-{pci}.rules"),
        format!("{RULES_DIR}/20-switchdev-{pci}.rules"),
    ]
}

/// The rules for a PF: always the NetworkManager rule; with `switchdev`, the PF-name rule and
/// (when its switch port is known) the representor-naming rule.
///
/// `vf_devices` are hex device IDs without `0x` (see
/// [`SupportedNics::vf_devices`](crate::nic::SupportedNics::vf_devices)).
pub fn pf_rules(
    pci: &str,
    pf_name: &str,
    vf_devices: &[&str],
    switchdev: Option<Option<&SwitchPort>>,
) -> Vec<UdevFile> {
    let [nm, name, switch] = rule_paths(pci);
    let devices = vf_devices
        .iter()
        .map(|d| format!("0x{d}"))
        .collect::<Vec<_>>()
        .join("|");
    let rule = |path: String, content: String| UdevFile {
        path,
        content,
        mode: 0o666,
    };
    let mut files = vec![rule(
        nm,
        format!(
            "SUBSYSTEM==\"net\", ACTION==\"add|change|move\", ATTRS{{device}}==\"{devices}\", IMPORT{{program}}=\"/{NM_HELPER} $env{{INTERFACE}} {pci}\"\n"
        ),
    )];
    if let Some(port) = switchdev {
        files.push(rule(
            name,
            format!(
                "SUBSYSTEM==\"net\", ACTION==\"add\", DRIVERS==\"?*\", KERNELS==\"{pci}\", NAME=\"{pf_name}\"\n"
            ),
        ));
        if let Some(port) = port
            && let Some(number) = port.port_name.strip_prefix('p')
        {
            files.push(rule(
                switch,
                format!(
                    "SUBSYSTEM==\"net\", ACTION==\"add|move\", ATTRS{{phys_switch_id}}==\"{}\", ATTR{{phys_port_name}}==\"pf{number}vf*\", IMPORT{{program}}=\"/{SWITCHDEV_HELPER} $attr{{phys_port_name}}\", NAME=\"{pf_name}_$env{{NUMBER}}\"\n",
                    port.switch_id
                ),
            ));
        }
    }
    files
}

/// The helper scripts the rules import.
pub fn helpers() -> [UdevFile; 2] {
    [
        UdevFile {
            path: NM_HELPER.to_owned(),
            content: "#!/bin/sh\n\
# Written by the SR-IOV config daemon. Usage: disable-nm-sriov.sh IFACE PF_PCI\n\
# Prints NM_UNMANAGED=1 when IFACE is a VF of the PF at PF_PCI.\n\
physfn=$(readlink -f \"/sys/class/net/$1/device/physfn\" 2>/dev/null) || exit 0\n\
[ \"${physfn##*/}\" = \"$2\" ] && echo NM_UNMANAGED=1\n\
exit 0\n"
                .to_owned(),
            mode: 0o755,
        },
        UdevFile {
            path: SWITCHDEV_HELPER.to_owned(),
            content: "#!/bin/sh\n\
# Written by the SR-IOV config daemon. Usage: switchdev-vf-link-name.sh PORT_NAME\n\
# Prints NUMBER=<vf index> for a representor port name such as pf0vf3.\n\
case \"$1\" in\n\
  pf*vf*) echo \"NUMBER=${1##*vf}\" ;;\n\
esac\n"
                .to_owned(),
            mode: 0o755,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_pf_gets_only_the_network_manager_rule() {
        let files = pf_rules("0000:d8:00.0", "ens785f0", &["1017", "1018"], None);
        assert_eq!(files.len(), 1);
        assert_eq!(
            files[0].path,
            "etc/udev/rules.d/10-nm-disable-0000:d8:00.0.rules"
        );
        assert_eq!(
            files[0].content,
            "SUBSYSTEM==\"net\", ACTION==\"add|change|move\", ATTRS{device}==\"0x1017|0x1018\", IMPORT{program}=\"/etc/udev/disable-nm-sriov.sh $env{INTERFACE} 0000:d8:00.0\"\n"
        );
        assert_eq!(files[0].mode, 0o666);
    }

    #[test]
    fn switchdev_pf_names_itself_and_its_representors() {
        let port = SwitchPort {
            switch_id: "c2cfc60003a1420c".into(),
            port_name: "p0".into(),
        };
        let files = pf_rules(
            "0000:d8:00.0",
            "enp216s0f0np0",
            &["101e"],
            Some(Some(&port)),
        );
        let names: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            names,
            rule_paths("0000:d8:00.0")
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        assert!(
            files[1]
                .content
                .contains("KERNELS==\"0000:d8:00.0\", NAME=\"enp216s0f0np0\"")
        );
        assert!(files[2].content.contains(
            "ATTRS{phys_switch_id}==\"c2cfc60003a1420c\", ATTR{phys_port_name}==\"pf0vf*\""
        ));
        assert!(
            files[2]
                .content
                .contains("NAME=\"enp216s0f0np0_$env{NUMBER}\"")
        );
        // Unknown switch port: the representor rule is skipped, as upstream does.
        assert_eq!(pf_rules("0000:d8:00.0", "x", &[], Some(None)).len(), 2);
    }
}
