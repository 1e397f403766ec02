//! Devlink messages: encoding, and a real request to this kernel's devlink family.

use netlink_packet_core::{DefaultNla, NetlinkHeader, NetlinkMessage, NetlinkPayload};
use sriov_hw::devlink::{Devlink, GenlMessage};

#[test]
fn generic_netlink_messages_encode_and_decode() {
    let message = GenlMessage {
        family: 0x1c,
        cmd: 29,
        attrs: vec![
            DefaultNla::new(1, b"pci\0".to_vec()),
            DefaultNla::new(2, b"0000:3b:00.0\0".to_vec()),
        ],
    };
    let mut packet = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(message.clone()),
    );
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    assert_eq!(
        u16::from_ne_bytes([bytes[4], bytes[5]]),
        0x1c,
        "the family is the message type"
    );
    assert_eq!(bytes[16], 29, "the command follows the netlink header");
    let parsed = NetlinkMessage::<GenlMessage>::deserialize(&bytes).expect("parses");
    assert_eq!(parsed.payload, NetlinkPayload::InnerMessage(message));
}

#[test]
fn the_kernel_resolves_generic_netlink_families_through_our_messages() {
    assert_eq!(
        sriov_hw::devlink::family_id("nlctrl").expect("nlctrl always exists"),
        0x10
    );
    let err = sriov_hw::devlink::family_id("no-such-family").unwrap_err();
    assert_eq!(err.errno(), Some(libc::ENOENT), "{err}");
}

#[test]
fn asking_the_kernel_about_a_device_it_does_not_have_names_the_device() {
    let devlink = match Devlink::new() {
        Ok(devlink) => devlink,
        Err(e) => {
            eprintln!(
                "\n*** SKIPPED: this kernel has no devlink generic netlink family ({e}) ***\n"
            );
            return;
        }
    };
    let err = devlink.eswitch_mode("0000:ff:1f.7").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("get e-switch mode 0000:ff:1f.7: "),
        "{err}"
    );
    assert!(err.errno().is_some(), "{err:?}");
}

#[test]
fn device_info_replies_yield_their_running_versions() {
    use netlink_packet_core::Emitable;
    let version = |name: &str, value: &str| {
        let inner = vec![
            DefaultNla::new(103, format!("{name}\0").into_bytes()),
            DefaultNla::new(104, format!("{value}\0").into_bytes()),
        ];
        let mut nest = vec![0u8; inner.as_slice().buffer_len()];
        inner.as_slice().emit(&mut nest);
        DefaultNla::new(101, nest)
    };
    let reply = GenlMessage {
        family: 0x1c,
        cmd: 51,
        attrs: vec![
            DefaultNla::new(1, b"pci\0".to_vec()),
            version("fw.mgmt", "7.0.12"),
            version("fw.app.name", "ICE COMMS Package"),
            // A fixed version (100) is not a running one.
            DefaultNla::new(100, Vec::new()),
        ],
    };
    // Through the wire format and back, as the kernel's reply would arrive.
    let mut packet = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(reply),
    );
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    let NetlinkPayload::InnerMessage(parsed) = NetlinkMessage::<GenlMessage>::deserialize(&bytes)
        .expect("parses")
        .payload
    else {
        panic!("not a generic netlink message");
    };
    assert_eq!(
        sriov_hw::devlink::running_versions(&parsed),
        [
            ("fw.mgmt".to_owned(), "7.0.12".to_owned()),
            ("fw.app.name".to_owned(), "ICE COMMS Package".to_owned())
        ]
    );
}
