//! Completes the transport checksum of a frame read from a veth.
//!
//! A veth hands its peer frames whose UDP or TCP checksum is left for the
//! hardware to finish (checksum offload, `CHECKSUM_PARTIAL`): the field holds
//! only the pseudo-header sum. Written back out through a packet socket, such
//! a frame reaches its receiver with a wrong checksum and the receiver drops
//! the UDP silently, while ping still works and hides the problem. So the
//! relay recomputes the checksum of every whole UDP and TCP segment over IPv4
//! and IPv6 (a correct checksum is recomputed to the same value).

const ETHERNET_HEADER_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const IPV6_HEADER_LEN: usize = 40;
const PROTOCOL_TCP: u8 = 6;
const PROTOCOL_UDP: u8 = 17;

/// Rewrites the UDP or TCP checksum of an Ethernet frame in place.
///
/// Anything else (other protocols, IP fragments, IPv6 extension headers,
/// truncated frames) is left untouched.
pub fn fix_transport_checksum(frame: &mut [u8]) {
    if frame.len() < ETHERNET_HEADER_LEN {
        return;
    }
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let packet = &mut frame[ETHERNET_HEADER_LEN..];
    match ethertype {
        ETHERTYPE_IPV4 => fix_ipv4(packet),
        ETHERTYPE_IPV6 => fix_ipv6(packet),
        _ => {}
    }
}

fn fix_ipv4(packet: &mut [u8]) {
    if packet.len() < 20 || packet[0] >> 4 != 4 {
        return;
    }
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    let fragment = u16::from_be_bytes([packet[6], packet[7]]) & 0x3fff;
    if header_len < 20 || total_len < header_len || total_len > packet.len() || fragment != 0 {
        return;
    }
    let protocol = packet[9];
    let (header, segment) = packet[..total_len].split_at_mut(header_len);
    let mut sum = OnesComplementSum::default();
    sum.add_bytes(&header[12..20]); // source and destination address
    sum.add_u16(u16::from(protocol));
    sum.add_length(segment.len());
    fix_segment(protocol, segment, sum, true);
}

fn fix_ipv6(packet: &mut [u8]) {
    if packet.len() < IPV6_HEADER_LEN || packet[0] >> 4 != 6 {
        return;
    }
    let payload_len = usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    let next_header = packet[6];
    if IPV6_HEADER_LEN + payload_len > packet.len() {
        return;
    }
    let (header, segment) = packet[..IPV6_HEADER_LEN + payload_len].split_at_mut(IPV6_HEADER_LEN);
    let mut sum = OnesComplementSum::default();
    sum.add_bytes(&header[8..40]); // source and destination address
    sum.add_length(segment.len());
    sum.add_u16(u16::from(next_header));
    fix_segment(next_header, segment, sum, false);
}

/// Writes the checksum of a UDP or TCP segment, given the pseudo-header sum.
fn fix_segment(protocol: u8, segment: &mut [u8], mut sum: OnesComplementSum, over_ipv4: bool) {
    let (header_len, field) = match protocol {
        PROTOCOL_UDP => (8, 6),
        PROTOCOL_TCP => (20, 16),
        _ => return,
    };
    if segment.len() < header_len {
        return;
    }
    // Over IPv4 a UDP sender may go without a checksum (RFC 768): keep that.
    if protocol == PROTOCOL_UDP && over_ipv4 && segment[field..field + 2] == [0, 0] {
        return;
    }
    segment[field..field + 2].fill(0);
    sum.add_bytes(segment);
    let mut checksum = sum.finish();
    if protocol == PROTOCOL_UDP && checksum == 0 {
        // RFC 768: a computed zero is sent as all ones.
        checksum = 0xffff;
    }
    segment[field..field + 2].copy_from_slice(&checksum.to_be_bytes());
}

/// The Internet checksum (RFC 1071).
#[derive(Default)]
struct OnesComplementSum(u64);

impl OnesComplementSum {
    fn add_u16(&mut self, word: u16) {
        self.0 += u64::from(word);
    }

    /// Adds a segment or pseudo-header length (at most 65535 here).
    fn add_length(&mut self, len: usize) {
        self.0 += len as u64;
    }

    /// Adds bytes as big-endian words; an odd last byte is padded with zero.
    fn add_bytes(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(2);
        for word in &mut words {
            self.add_u16(u16::from_be_bytes([word[0], word[1]]));
        }
        if let [last] = words.remainder() {
            self.add_u16(u16::from_be_bytes([*last, 0]));
        }
    }

    fn finish(self) -> u16 {
        let mut sum = self.0;
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Ethernet frame carrying UDP 203.0.113.1:40000 -> 198.51.100.10:3478
    /// with a 5-byte payload and a checksum field left as `checksum`.
    fn udp4_frame(checksum: [u8; 2]) -> Vec<u8> {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x08, 0x00]);
        frame.extend_from_slice(&[
            0x45, 0, 0, 33, 0, 1, 0x40, 0, 64, 17, 0, 0, 203, 0, 113, 1, 198, 51, 100, 10,
        ]);
        frame.extend_from_slice(&[0x9c, 0x40, 0x0d, 0x96, 0, 13, checksum[0], checksum[1]]);
        frame.extend_from_slice(b"hello");
        frame
    }

    #[test]
    fn completes_a_partial_udp_checksum_over_ipv4() {
        // The value was computed independently (Python, RFC 768 pseudo-header).
        let mut frame = udp4_frame([0x12, 0x34]);
        fix_transport_checksum(&mut frame);
        assert_eq!(frame[40..42], [0xab, 0xeb]);
        // Idempotent: a correct checksum stays as it is.
        let fixed = frame.clone();
        fix_transport_checksum(&mut frame);
        assert_eq!(frame, fixed);
    }

    #[test]
    fn keeps_an_absent_udp_checksum_and_fragments() {
        let mut frame = udp4_frame([0, 0]);
        let original = frame.clone();
        fix_transport_checksum(&mut frame);
        assert_eq!(frame, original);

        let mut fragment = udp4_frame([0x12, 0x34]);
        fragment[20] = 0x20; // more fragments
        let original = fragment.clone();
        fix_transport_checksum(&mut fragment);
        assert_eq!(fragment, original);
    }

    #[test]
    fn completes_a_udp_checksum_over_ipv6() {
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(&[0x86, 0xdd]);
        frame.extend_from_slice(&[0x60, 0, 0, 0, 0, 12, 17, 64]);
        let mut source = [0u8; 16];
        source[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        source[15] = 1;
        let mut destination = source;
        destination[15] = 2;
        frame.extend_from_slice(&source);
        frame.extend_from_slice(&destination);
        frame.extend_from_slice(&[0x13, 0x88, 0x0d, 0x96, 0, 12, 0xaa, 0xbb, 1, 2, 3, 4]);
        fix_transport_checksum(&mut frame);
        // Verifying: the sum over pseudo-header and segment must be all ones.
        let mut sum = OnesComplementSum::default();
        sum.add_bytes(&frame[22..54]);
        sum.add_length(12);
        sum.add_u16(17);
        sum.add_bytes(&frame[54..]);
        assert_eq!(sum.finish(), 0);
    }

    #[test]
    fn ignores_truncated_and_foreign_frames() {
        let mut short = vec![0u8; 10];
        fix_transport_checksum(&mut short);
        assert_eq!(short, vec![0u8; 10]);

        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let original = arp.clone();
        fix_transport_checksum(&mut arp);
        assert_eq!(arp, original);

        let mut truncated = udp4_frame([0x12, 0x34]);
        truncated.truncate(38);
        let original = truncated.clone();
        fix_transport_checksum(&mut truncated);
        assert_eq!(truncated, original);
    }
}
