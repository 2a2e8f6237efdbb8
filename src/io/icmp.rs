//! ICMP errors on a client's UDP sockets. An unconnected socket hears of
//! them only with `IP_RECVERR` / `IPV6_RECVERR` (ip(7), ipv6(7)): the
//! receive that follows fails with the error, and the error queue holds
//! one entry per ICMP message, naming the destination of the datagram that
//! drew it. RFC 1122 §4.1.3.3: UDP passes ICMP errors up to the
//! application, which here learns at once that nothing listens where it
//! was about to wait for seconds.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

/// Asks the kernel to report ICMP errors on `socket`. Best effort: a
/// socket that cannot only waits as before.
pub fn report_errors(socket: &UdpSocket) {
    set_recverr(socket, true);
}

/// Undoes [`report_errors`]: the kernel empties the error queue (ip(7)),
/// and an error already pending is taken, so no later receive fails.
pub fn stop_reporting(socket: &UdpSocket) {
    set_recverr(socket, false);
    let _ = socket.take_error();
}

fn set_recverr(socket: &UdpSocket, on: bool) {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{setsockopt, sockopt};
        let _ = match socket.local_addr() {
            Ok(SocketAddr::V4(_)) => setsockopt(socket, sockopt::Ipv4RecvErr, &on),
            Ok(SocketAddr::V6(_)) => setsockopt(socket, sockopt::Ipv6RecvErr, &on),
            Err(_) => return,
        };
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (socket, on);
}

/// Takes every entry from `socket`'s error queue (so that none is left to
/// fill its receive buffer) and returns the destinations that answered
/// "port unreachable".
pub fn unreachable_destinations(socket: &UdpSocket) -> Vec<SocketAddr> {
    #[cfg(target_os = "linux")]
    {
        linux::drain(socket)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        Vec::new()
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::IoSliceMut;
    use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use nix::libc;
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
    use tokio::net::UdpSocket;

    /// ICMP destination unreachable, port unreachable (RFC 792).
    const ICMP_PORT_UNREACHABLE: (u8, u8) = (3, 3);
    /// ICMPv6 destination unreachable, port unreachable (RFC 4443 §3.1).
    const ICMPV6_PORT_UNREACHABLE: (u8, u8) = (1, 4);

    /// At most this many entries are taken at once; the queue is bounded
    /// by the receive buffer anyway.
    const MAX_ENTRIES: usize = 64;

    pub fn drain(socket: &UdpSocket) -> Vec<SocketAddr> {
        let mut found = Vec::new();
        for _ in 0..MAX_ENTRIES {
            // The offending datagram itself is of no use: a byte is enough
            // (the rest is truncated away).
            let mut data = [0u8; 1];
            let mut iov = [IoSliceMut::new(&mut data)];
            let mut control = nix::cmsg_space!(libc::sock_extended_err, libc::sockaddr_in6);
            let Ok(message) = recvmsg::<SockaddrStorage>(
                socket.as_raw_fd(),
                &mut iov,
                Some(&mut control),
                MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
            ) else {
                break;
            };
            let destination = message.address.and_then(|a| {
                a.as_sockaddr_in()
                    .map(|v4| SocketAddr::V4(SocketAddrV4::from(*v4)))
                    .or_else(|| {
                        a.as_sockaddr_in6()
                            .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
                    })
            });
            let port_unreachable = message.cmsgs().is_ok_and(|mut cmsgs| {
                cmsgs.any(|cmsg| match cmsg {
                    ControlMessageOwned::Ipv4RecvErr(e, _) => {
                        e.ee_origin == libc::SO_EE_ORIGIN_ICMP
                            && (e.ee_type, e.ee_code) == ICMP_PORT_UNREACHABLE
                    }
                    ControlMessageOwned::Ipv6RecvErr(e, _) => {
                        e.ee_origin == libc::SO_EE_ORIGIN_ICMP6
                            && (e.ee_type, e.ee_code) == ICMPV6_PORT_UNREACHABLE
                    }
                    _ => false,
                })
            });
            if let (true, Some(destination)) = (port_unreachable, destination) {
                found.push(destination);
            }
        }
        found
    }
}
