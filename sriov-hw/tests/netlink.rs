//! The rtnetlink client against the real kernel, in network namespaces the tests create
//! (veth pairs stand in for VF netdevs), and the VF attributes by encoding and decoding.
//!
//! Tests needing root print a loud skip without it, and fail instead when
//! `SRIOV_REQUIRE_PRIVILEGED=1` (as CI sets).
// Test and benchmark set-up panics on failure by design: that is the test failing.
#![allow(clippy::expect_used)]

use std::fs::File;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage, LinkVfInfo};
use sriov_hw::netlink::{self, Netlink, VfSettings};

use sriov_hw::fake::privileged;

/// A new network namespace, kept alive by the returned file; the process stays where it is.
fn new_netns() -> File {
    sriov_hw::netns::create().expect("create a network namespace")
}

fn names(nl: &Netlink) -> Vec<String> {
    let mut names: Vec<String> = nl
        .links()
        .expect("links")
        .into_iter()
        .map(|l| l.name)
        .collect();
    names.sort();
    names
}

#[test]
fn vf_settings_encode_to_ifla_vf_attributes_and_decode_back() {
    let settings = VfSettings {
        mac: Some("02:11:22:33:44:55".into()),
        vlan: Some((100, 5)),
        vlan_qinq: false,
        spoofchk: Some(false),
        trust: Some(true),
        rate: Some((100, 10_000)),
        link_state: Some("enable".into()),
        ib_guid: Some(0x0200_0000_00aa_0002),
    };
    let infos = netlink::vf_infos(3, &settings).unwrap();
    let state = netlink::vf_state(&round_trip(infos));
    assert!(!state.vlan_qinq);
    assert_eq!(state.index.get(), 3);
    assert_eq!(state.mac, "02:11:22:33:44:55");
    assert_eq!((state.vlan, state.qos), (100, 5));
    assert_eq!((state.spoofchk, state.trust), (Some(false), Some(true)));
    assert_eq!(state.rate, Some((100, 10_000)));
    assert_eq!(state.link_state.as_deref(), Some("enable"));
    assert_eq!(
        (state.ib_node_guid, state.ib_port_guid),
        (Some(0x0200_0000_00aa_0002), Some(0x0200_0000_00aa_0002))
    );
    assert_eq!(
        netlink::vf_infos(
            0,
            &VfSettings {
                link_state: Some("up".into()),
                ..Default::default()
            }
        )
        .unwrap_err(),
        "up"
    );
}

/// The VF attributes after a trip through a serialized RTM_SETLINK message.
fn round_trip(
    infos: Vec<netlink_packet_route::link::VfInfo>,
) -> Vec<netlink_packet_route::link::VfInfo> {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::VfInfoList(vec![LinkVfInfo(infos)]));
    let mut packet = NetlinkMessage::new(
        NetlinkHeader::default(),
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::SetLink(message)),
    );
    packet.finalize();
    let mut bytes = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut bytes);
    match NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes)
        .expect("parses")
        .payload
    {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::SetLink(m)) => {
            match m.attributes.into_iter().next() {
                Some(LinkAttribute::VfInfoList(mut list)) => list.remove(0).0,
                other => panic!("no VF list: {other:?}"),
            }
        }
        other => panic!("not a SetLink: {other:?}"),
    }
}

#[test]
fn a_qinq_vlan_travels_in_the_vlan_list_with_its_protocol() {
    let settings = VfSettings {
        vlan: Some((200, 3)),
        vlan_qinq: true,
        ..Default::default()
    };
    let infos = netlink::vf_infos(1, &settings).unwrap();
    let state = netlink::vf_state(&round_trip(infos));
    assert_eq!((state.vlan, state.qos, state.vlan_qinq), (200, 3, true));
}

#[test]
fn links_in_another_namespace_are_changed_without_switching_the_process() {
    if !privileged("links_in_another_namespace_are_changed_without_switching_the_process") {
        return;
    }
    let (a, b) = (new_netns(), new_netns());
    let nl_a = Netlink::in_netns(&a).unwrap();
    nl_a.add_veth("vf0", "peer0").unwrap();
    assert_eq!(names(&nl_a), ["lo", "peer0", "vf0"]);

    nl_a.set_mtu("vf0", 9000).unwrap();
    nl_a.set_address("vf0", "02:aa:bb:cc:dd:01").unwrap();
    nl_a.set_admin_up("vf0", true).unwrap();
    let link = nl_a.link("vf0").unwrap();
    assert_eq!(
        (link.mtu, link.address.as_deref(), link.up),
        (Some(9000), Some("02:aa:bb:cc:dd:01"), true)
    );
    assert!(link.alt_names.is_empty());

    nl_a.set_admin_up("vf0", false).unwrap();
    nl_a.rename("vf0", "net1").unwrap();
    assert!(nl_a.link("vf0").is_err());
    assert_eq!(nl_a.link("net1").unwrap().mtu, Some(9000));

    nl_a.move_to_netns("peer0", &b).unwrap();
    assert_eq!(names(&nl_a), ["lo", "net1"]);
    assert_eq!(names(&Netlink::in_netns(&b).unwrap()), ["lo", "peer0"]);

    // Alt-names, where the kernel supports them (5.5 and later).
    match nl_a.add_alt_name("net1", "enp59s0f0v0-long-alternative") {
        Ok(()) => {
            assert_eq!(
                nl_a.link("net1").unwrap().alt_names,
                ["enp59s0f0v0-long-alternative"]
            );
            use sriov_hw::link::LinkQuery;
            assert_eq!(nl_a.alt_names("net1"), ["enp59s0f0v0-long-alternative"]);
            nl_a.del_alt_name("net1", "enp59s0f0v0-long-alternative")
                .unwrap();
            assert!(nl_a.link("net1").unwrap().alt_names.is_empty());
        }
        Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => {
            eprintln!("\n*** alt-names not supported by this kernel: part skipped ***\n");
        }
        Err(e) => panic!("add alt-name: {e}"),
    }

    // The test process's own namespace never saw any of it.
    let here = names(&Netlink::new().unwrap());
    assert!(
        !here
            .iter()
            .any(|n| n == "net1" || n == "peer0" || n == "vf0"),
        "{here:?}"
    );
}

#[test]
fn vf_settings_on_a_link_without_vfs_fail_with_the_kernels_errno() {
    if !privileged("vf_settings_on_a_link_without_vfs_fail_with_the_kernels_errno") {
        return;
    }
    let ns = new_netns();
    let nl = Netlink::in_netns(&ns).unwrap();
    nl.add_veth("pf0", "pf0peer").unwrap();
    assert!(nl.vf_states("pf0").unwrap().is_empty());
    let err = nl
        .set_vf(
            "pf0",
            sriov_core::ids::VfIndex::new(0),
            &VfSettings {
                trust: Some(true),
                ..Default::default()
            },
        )
        .unwrap_err();
    // The kernel parsed the IFLA_VFINFO_LIST nest and reached the driver, which has no VFs.
    assert!(err.to_string().starts_with("set VF pf0: "), "{err}");
    assert!(err.errno().is_some(), "{err:?}");
}

#[test]
fn addresses_and_routes_are_configured_inside_a_namespace() {
    if !privileged("addresses_and_routes_are_configured_inside_a_namespace") {
        return;
    }
    let ns = new_netns();
    let nl = Netlink::in_netns(&ns).unwrap();
    nl.add_veth("net1", "peer1").unwrap();
    nl.set_admin_up("net1", true).unwrap();
    nl.set_admin_up("peer1", true).unwrap();
    nl.add_address("net1", "10.56.217.2".parse().unwrap(), 24)
        .unwrap();
    nl.add_address("net1", "fd00::2".parse().unwrap(), 64)
        .unwrap();
    let mut addresses = nl.addresses("net1").unwrap();
    addresses
        .retain(|(ip, _)| !matches!(ip, std::net::IpAddr::V6(v6) if v6.segments()[0] == 0xfe80));
    addresses.sort();
    assert_eq!(
        addresses,
        [
            ("10.56.217.2".parse().unwrap(), 24),
            ("fd00::2".parse().unwrap(), 64)
        ]
    );
    // Adding the same address twice is the kernel's EEXIST.
    assert_eq!(
        nl.add_address("net1", "10.56.217.2".parse().unwrap(), 24)
            .unwrap_err()
            .errno(),
        Some(libc::EEXIST)
    );
    nl.add_route("net1", None, Some("10.56.217.1".parse().unwrap()))
        .unwrap();
    nl.add_route(
        "net1",
        Some(("192.168.0.0".parse().unwrap(), 16)),
        Some("10.56.217.254".parse().unwrap()),
    )
    .unwrap();
    // The kernel read them back: a second default route is EEXIST.
    assert_eq!(
        nl.add_route("net1", None, Some("10.56.217.1".parse().unwrap()))
            .unwrap_err()
            .errno(),
        Some(libc::EEXIST)
    );
}

#[test]
fn pinned_namespaces_outlive_their_handles_until_deleted() {
    if !privileged("pinned_namespaces_outlive_their_handles_until_deleted") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pod");
    let pinned = sriov_hw::netns::NamedNetns::create(&path).unwrap();
    {
        let nl = Netlink::in_netns(&pinned.open().unwrap()).unwrap();
        nl.add_veth("a0", "b0").unwrap();
    }
    // A new handle opened by path sees what the first one made.
    let again = Netlink::in_netns(&sriov_hw::netns::open(&path).unwrap()).unwrap();
    assert_eq!(names(&again), ["a0", "b0", "lo"]);
    let here = sriov_hw::netns::current().unwrap();
    assert!(!sriov_hw::netns::same(&here, &pinned.open().unwrap()));
    pinned.delete().unwrap();
    assert!(!path.exists());
}

#[test]
fn run_in_joins_on_the_calling_thread_and_always_comes_back() {
    if !privileged("run_in_joins_on_the_calling_thread_and_always_comes_back") {
        return;
    }
    let pod = new_netns();
    let home = sriov_hw::netns::current().unwrap();
    let caller = std::thread::current().id();
    // Inside: the calling thread itself, in the target namespace (no helper thread, whose
    // exit would make the next link move wait for an RCU grace period).
    let (thread, inside) = sriov_hw::netns::run_in(&pod, || {
        let here = sriov_hw::netns::current().unwrap();
        (
            std::thread::current().id(),
            sriov_hw::netns::same(&here, &pod),
        )
    })
    .unwrap();
    assert_eq!(thread, caller);
    assert!(inside);
    assert!(sriov_hw::netns::same(
        &sriov_hw::netns::current().unwrap(),
        &home
    ));
    // Nested hops come back level by level.
    let other = new_netns();
    sriov_hw::netns::run_in(&pod, || {
        sriov_hw::netns::run_in(&other, || ()).unwrap();
        assert!(sriov_hw::netns::same(
            &sriov_hw::netns::current().unwrap(),
            &pod
        ));
    })
    .unwrap();
    // A panic inside still brings the thread home.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sriov_hw::netns::run_in(&pod, || panic!("inside")).unwrap();
    }));
    assert!(panicked.is_err());
    assert!(sriov_hw::netns::same(
        &sriov_hw::netns::current().unwrap(),
        &home
    ));
}
