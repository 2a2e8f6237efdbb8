//! What each kind of answer does to a [`PortMapper`].

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use super::{Mode, PortMapper, Stage};
use crate::proto::portmap::{Mapping, PortMapError, Protocol, RefusalCode, Transport, natpmp, pcp};

impl PortMapper {
    pub(super) fn on_pcp(&mut self, now: Instant, answer: Result<pcp::Response, pcp::DecodeError>) {
        match answer {
            Err(e) => self.evidence = Some(e.to_string()),
            Ok(pcp::Response::NatPmpOnly { .. }) => self.pcp_refused(now, natpmp::VERSION),
            Ok(pcp::Response::OtherVersion { version, .. }) => self.pcp_refused(now, version),
            Ok(pcp::Response::Failure { code, .. }) => {
                let error = if code == pcp::ResultCode::AddressMismatch {
                    PortMapError::AddressMismatch {
                        client: self.config.client,
                    }
                } else {
                    PortMapError::Refused(RefusalCode::Pcp(code))
                };
                if self.stage == Stage::Pcp {
                    self.finish(Err(error));
                } else {
                    self.late_refusal = Some(error);
                }
            }
            Ok(pcp::Response::Map(r)) => {
                self.on_mapping(Protocol::Pcp, r.external, r.lifetime, r.epoch);
            }
        }
    }

    fn pcp_refused(&mut self, now: Instant, version: u8) {
        if self.stage == Stage::Pcp {
            self.pcp_refused_version = Some(version);
            self.evidence = None;
            self.start_natpmp(now);
        } else {
            self.stale += 1;
        }
    }

    pub(super) fn on_natpmp(&mut self, now: Instant, payload: &[u8]) {
        // More refusals of PCP retransmissions, after the switch.
        if let Some(request) = self.pcp
            && let Ok(pcp::Response::NatPmpOnly { .. }) = request.decode_response(payload)
        {
            self.stale += 1;
            return;
        }
        match self.natpmp.decode_response(payload) {
            Err(e) => {
                let repeat = self.stage == Stage::NatPmpMap
                    && self.external_ip.is_some()
                    && natpmp::Request::ExternalAddress
                        .decode_response(payload)
                        .is_ok();
                if repeat {
                    self.stale += 1;
                } else {
                    self.evidence = Some(e.to_string());
                }
            }
            Ok(natpmp::Response::Failure { code, .. }) => {
                self.finish(Err(PortMapError::Refused(RefusalCode::NatPmp(code))));
            }
            Ok(natpmp::Response::ExternalAddress { address, .. }) => {
                self.external_ip = Some(address);
                self.stage = Stage::NatPmpMap;
                let c = &self.config;
                self.send(
                    natpmp::Request::map(
                        Transport::Udp,
                        c.internal_port,
                        c.suggested_external_port,
                        c.lifetime,
                    ),
                    now,
                );
            }
            Ok(natpmp::Response::Map {
                external_port,
                lifetime,
                epoch,
                ..
            }) => {
                let ip = self.external_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
                let external = SocketAddrV4::new(ip, external_port);
                self.on_mapping(Protocol::NatPmp, external, lifetime, epoch);
            }
        }
    }

    /// A valid mapping answer: the result, unless its lifetime shows it
    /// answers the other kind of request.
    fn on_mapping(
        &mut self,
        protocol: Protocol,
        external: SocketAddrV4,
        lifetime: u32,
        epoch: u32,
    ) {
        match (self.mode, lifetime) {
            (Mode::Create, 0) => {
                self.evidence = Some(format!("{protocol} granted the mapping a lifetime of 0"));
            }
            (Mode::Delete, 1..) => self.stale += 1,
            _ => self.finish(Ok(Mapping {
                protocol,
                external,
                internal_port: self.config.internal_port,
                lifetime,
                epoch,
            })),
        }
    }
}
