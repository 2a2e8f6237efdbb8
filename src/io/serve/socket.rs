//! The responder's endpoints, each bound once per worker: one SO_REUSEPORT
//! group per endpoint, across which the kernel spreads datagrams by a hash
//! of their source and destination, so that one client's requests to one
//! endpoint always reach the same worker.
//!
//! Linux lets a socket join a SO_REUSEPORT group only when it has the same
//! effective UID as the group's first socket: another user cannot take a
//! share of the traffic. The same user could (a second `ranat serve` on the
//! same port would silently split it), so before a group is made its
//! endpoint is bound once without the option: that fails, as a lone
//! socket's bind would, when anything holds the endpoint already.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// The receive buffer asked for each socket: room for a burst of a few
/// thousand requests while the worker answers the previous batch (the
/// kernel's default, about 200 KiB, holds a few hundred). The kernel caps it
/// at `net.core.rmem_max`.
const RECEIVE_BUFFER: usize = 4 << 20;

/// Binds each of `endpoints` `workers` times; the sockets of each worker,
/// in the order of `endpoints`. A port of 0 is chosen once, by the first
/// worker's socket. On failure, the endpoint that could not be bound.
pub fn bind_groups(
    endpoints: &[SocketAddr],
    workers: usize,
) -> Result<Vec<Vec<UdpSocket>>, (SocketAddr, io::Error)> {
    let shared = workers > 1;
    let mut first = Vec::with_capacity(endpoints.len());
    for &at in endpoints {
        if shared && at.port() != 0 {
            UdpSocket::bind(at).map_err(|e| (at, e))?;
        }
        first.push(open(at, shared).map_err(|e| (at, e))?);
    }
    let locals = first
        .iter()
        .zip(endpoints)
        .map(|(s, &at)| s.local_addr().map_err(|e| (at, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut groups = vec![first];
    for _ in 1..workers {
        let sockets = locals
            .iter()
            .map(|&at| open(at, true).map_err(|e| (at, e)))
            .collect::<Result<Vec<_>, _>>()?;
        groups.push(sockets);
    }
    Ok(groups)
}

/// A non-blocking UDP socket bound to `at`, in its SO_REUSEPORT group when
/// `shared`.
fn open(at: SocketAddr, shared: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(at), Type::DGRAM, Some(Protocol::UDP))?;
    if shared {
        join_group(&socket)?;
    }
    socket.set_recv_buffer_size(RECEIVE_BUFFER)?;
    socket.set_nonblocking(true)?;
    socket.bind(&at.into())?;
    Ok(socket.into())
}

/// Linux (and Android) spread a group's datagrams over its sockets; other
/// systems either lack the option or give all to one socket.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn join_group(socket: &Socket) -> io::Result<()> {
    socket.set_reuse_port(true)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn join_group(_socket: &Socket) -> io::Result<()> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "more than one thread needs Linux's SO_REUSEPORT: use --threads 1",
    ))
}

/// Undoes what quinn-udp sets up for QUIC and a STUN server must not have
/// or does not need:
/// - It forbids fragmentation (IP_PMTUDISC_PROBE, IPV6_DONTFRAG: QUIC probes
///   the path MTU itself). A STUN server lets the kernel fragment as any
///   socket does by default (IP_PMTUDISC_WANT): a PADDING answer larger than
///   the link's MTU exists to test exactly that (RFC 5780 §7.6).
/// - It asks for each datagram's destination address and ECN bits as
///   ancillary data, which the workers never read: the kernel would copy
///   them out with every datagram.
#[cfg(target_os = "linux")]
pub fn settle(socket: &impl std::os::fd::AsRawFd, ipv6: bool) -> io::Result<()> {
    use libc::{IPPROTO_IP, IPPROTO_IPV6};
    set_int(
        socket,
        IPPROTO_IP,
        libc::IP_MTU_DISCOVER,
        libc::IP_PMTUDISC_WANT,
    )?;
    if ipv6 {
        set_int(
            socket,
            IPPROTO_IPV6,
            libc::IPV6_MTU_DISCOVER,
            libc::IPV6_PMTUDISC_WANT,
        )?;
        set_int(socket, IPPROTO_IPV6, libc::IPV6_DONTFRAG, 0)?;
        set_int(socket, IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 0)?;
        set_int(socket, IPPROTO_IPV6, libc::IPV6_RECVTCLASS, 0)?;
    } else {
        set_int(socket, IPPROTO_IP, libc::IP_PKTINFO, 0)?;
    }
    // Set on IPv6 sockets too when they take IPv4 (dual stack).
    set_int(socket, IPPROTO_IP, libc::IP_RECVTOS, 0)
}

/// Linux is the workers' target; elsewhere quinn-udp's settings stay.
#[cfg(not(target_os = "linux"))]
pub fn settle<S>(_socket: &S, _ipv6: bool) -> io::Result<()> {
    Ok(())
}

/// `setsockopt` of one `int` option.
#[cfg(target_os = "linux")]
fn set_int(
    socket: &impl std::os::fd::AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the descriptor is open for as long as `socket` is borrowed,
    // and the option value is a live `c_int` whose exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            std::ptr::from_ref(&value).cast(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
