//! Batched UDP on connected sockets: `sendmmsg` and `recvmmsg`, and `poll`.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;

/// Datagrams per batch.
const BATCH: usize = 64;
/// Room for any answer (a STUN server's answer to a 20-byte request is a
/// few dozen bytes).
const ROOM: usize = 2048;

/// Buffers reused by every call.
pub struct Batch {
    buffers: Vec<[u8; ROOM]>,
    lengths: Vec<usize>,
}

impl Batch {
    pub fn new() -> Self {
        Self {
            buffers: vec![[0; ROOM]; BATCH],
            lengths: vec![0; BATCH],
        }
    }

    /// Sends `datagrams` on the connected `socket`, in batches; what the
    /// kernel refuses (a full buffer) is lost.
    pub fn send(&mut self, socket: &UdpSocket, datagrams: &[[u8; 20]]) {
        for chunk in datagrams.chunks(BATCH) {
            let mut iovs: Vec<libc::iovec> = chunk
                .iter()
                .map(|d| libc::iovec {
                    iov_base: d.as_ptr() as *mut libc::c_void,
                    iov_len: d.len(),
                })
                .collect();
            let mut headers = headers(&mut iovs);
            // SAFETY: every header points at a live iovec, which points at a
            // live datagram; the count is the vector's length.
            unsafe {
                libc::sendmmsg(
                    socket.as_raw_fd(),
                    headers.as_mut_ptr(),
                    headers.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                );
            }
        }
    }

    /// Receives what is waiting on `socket`, up to one batch.
    pub fn recv(&mut self, socket: &UdpSocket) -> impl Iterator<Item = &[u8]> {
        let mut iovs: Vec<libc::iovec> = self
            .buffers
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: ROOM,
            })
            .collect();
        let mut headers = headers(&mut iovs);
        // SAFETY: every header points at a live iovec over a live buffer of
        // ROOM bytes; the count is the vector's length; no timeout.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                headers.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        let n = usize::try_from(n).unwrap_or(0);
        for (len, h) in self.lengths.iter_mut().zip(&headers).take(n) {
            *len = h.msg_len as usize;
        }
        self.buffers
            .iter()
            .zip(&self.lengths)
            .take(n)
            .map(|(b, &len)| &b[..len])
    }
}

/// Waits up to `millis` for any of `fds` to be readable.
pub fn poll(fds: &mut [libc::pollfd], millis: i32) {
    // SAFETY: the slice is live and its length is passed.
    unsafe {
        libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis);
    }
}

/// One message header per iovec, each naming only its iovec.
fn headers(iovs: &mut [libc::iovec]) -> Vec<libc::mmsghdr> {
    iovs.iter_mut()
        .map(|iov| {
            // SAFETY: an all-zero msghdr is valid (no name, no control);
            // only the iovec is set.
            let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
            h
        })
        .collect()
}
