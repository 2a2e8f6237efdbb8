//! The port mapper and the end-to-end reachability test against the
//! simulated gateway, behind every NAT behaviour.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Instant;

use stun_types::message::TransactionId;

use super::*;
use crate::proto::nat::{FilteringBehavior as F, MappingBehavior as M};
use crate::proto::portmap::{
    Mapping, PortMapConfig, PortMapError, PortMapper, Protocol, SERVER_PORT,
};
use crate::proto::stun::{
    MAPPED, Reachability, ReachabilityTest, Responder, ResponderConfig, Schedule,
};
use crate::sim::nat::{Allocation, Nat, NatBehavior};
use crate::sim::wire::Link;
use crate::sim::world::{HostId, NatId, Uplink, World};

const STUN: &str = "198.51.100.1:3478";
const EXTERNAL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);

/// A STUN server, and a client behind a NAT of `behavior` whose device
/// answers port-control requests as `service` says (or not at all).
fn world(behavior: NatBehavior, service: Option<PortControl>) -> (World, NatId, HostId) {
    let mut world = World::new(Instant::now(), Link::default());
    let stun: SocketAddr = STUN.parse().unwrap();
    let servers = world.add_host(&[stun.ip()], Uplink::Public);
    world.add(
        servers,
        Responder::new(ResponderConfig::new(stun, None).unwrap()),
    );
    let nat = world.add_nat(Nat::new(behavior, EXTERNAL.into()));
    if let Some(service) = service {
        let at = SocketAddr::new(GATEWAY.into(), SERVER_PORT);
        world.add_lan_service(nat, at, service);
    }
    let client = world.add_host(&[CLIENT.into()], Uplink::Behind(nat));
    (world, nat, client)
}

fn config(internal_port: u16, client: Ipv4Addr) -> PortMapConfig {
    PortMapConfig {
        suggested_external_port: internal_port,
        lifetime: 60,
        ..PortMapConfig::new(GATEWAY, client, internal_port, [7; 12])
    }
}

/// Runs a port mapper on `host` to its end.
fn map(world: &mut World, host: HostId, mapper: PortMapper) -> Result<Mapping, PortMapError> {
    let node = world.add(host, mapper);
    assert!(world.run_to_end(&[node], None), "the mapper stalled");
    world
        .machine::<PortMapper>(node)
        .outcome()
        .cloned()
        .expect("done")
}

/// What a STUN answer sent to `external_port` from outside finds.
fn reach(world: &mut World, host: HostId, external_port: u16) -> (Reachability, SocketAddr) {
    let schedule = Schedule {
        rto: std::time::Duration::from_millis(150),
        transmissions: 4,
        backoff: true,
        last_wait: std::time::Duration::from_millis(600),
    };
    let now = world.now();
    let test = ReachabilityTest::new(
        TransactionId::from(9u128),
        STUN.parse().unwrap(),
        external_port,
        schedule,
        now,
    );
    let node = world.add(host, test);
    assert!(world.run_to_end(&[node], None), "the test stalled");
    let outcome = world
        .machine::<ReachabilityTest>(node)
        .outcome()
        .cloned()
        .expect("done");
    (outcome, world.local(node, MAPPED).expect("bound"))
}

#[test]
fn a_mapping_made_by_pcp_or_nat_pmp_admits_the_internet_behind_every_nat() {
    let mut scenarios = 0;
    for mapping in M::ALL {
        for filtering in F::ALL {
            for (service, protocol) in [
                (PortControl::Pcp, Protocol::Pcp),
                (PortControl::NatPmpOnly, Protocol::NatPmp),
            ] {
                let behavior = NatBehavior {
                    mapping,
                    filtering,
                    allocation: Allocation::Random { seed: 5 },
                    hairpinning: false,
                };
                let what = format!("{behavior:?} {service:?}");
                let (mut world, nat, host) = world(behavior, Some(service));
                // The mapper's control socket takes the host's first port,
                // the reachability test's mapped socket the next one.
                let internal = SocketAddr::new(CLIENT.into(), 40007);
                let now = world.now();
                let mapper = PortMapper::new(config(internal.port(), CLIENT), now).unwrap();
                let granted = map(&mut world, host, mapper).expect(&what);
                assert_eq!(granted.protocol, protocol, "{what}");
                assert_eq!(
                    granted.external,
                    SocketAddrV4::new(EXTERNAL, internal.port()),
                    "{what}"
                );
                assert_eq!(
                    world.nat(nat).static_port(internal),
                    Some(internal.port()),
                    "{what}"
                );
                let (reached, mapped) = reach(&mut world, host, granted.external.port());
                assert_eq!(mapped, internal, "{what}");
                let Reachability::Reached {
                    public: Some(public),
                } = reached
                else {
                    panic!("{what}: {reached:?}")
                };
                assert_eq!(public.ip(), IpAddr::V4(EXTERNAL), "{what}");

                let now = world.now();
                let config = config(internal.port(), CLIENT);
                let deleter = PortMapper::delete(config, Some(&granted), now).unwrap();
                let deleted = map(&mut world, host, deleter).expect(&what);
                assert_eq!(deleted.lifetime, 0, "{what}");
                assert_eq!(world.nat(nat).static_port(internal), None, "{what}");
                scenarios += 1;
            }
        }
    }
    assert_eq!(scenarios, 18);
}

#[test]
fn without_a_mapping_nothing_comes_in_through_a_filtering_nat() {
    let behavior = NatBehavior {
        mapping: M::EndpointIndependent,
        filtering: F::AddressAndPortDependent,
        allocation: Allocation::Preserving,
        hairpinning: false,
    };
    let (mut world, _, host) = world(behavior, None);
    let now = world.now();
    let mapper = PortMapper::new(config(40007, CLIENT), now).unwrap();
    assert!(matches!(
        map(&mut world, host, mapper),
        Err(PortMapError::NoAnswer { .. })
    ));
    let (reached, _) = reach(&mut world, host, 40007);
    assert_eq!(reached, Reachability::NotReached);
}

#[test]
fn a_client_field_that_is_not_the_source_gets_address_mismatch() {
    let behavior = NatBehavior {
        mapping: M::EndpointIndependent,
        filtering: F::EndpointIndependent,
        allocation: Allocation::Preserving,
        hairpinning: false,
    };
    let (mut world, nat, host) = world(behavior, Some(PortControl::Pcp));
    let elsewhere = Ipv4Addr::new(10, 0, 9, 9);
    let now = world.now();
    let mapper = PortMapper::new(config(40007, elsewhere), now).unwrap();
    let outcome = map(&mut world, host, mapper);
    assert!(
        matches!(outcome, Err(PortMapError::AddressMismatch { .. })),
        "{outcome:?}"
    );
    let internal = SocketAddr::new(CLIENT.into(), 40007);
    assert_eq!(world.nat(nat).static_port(internal), None);
}
