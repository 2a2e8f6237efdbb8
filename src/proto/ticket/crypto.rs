//! The two uses Remote Assistance makes of the invitation's password
//! ([MS-RAI] §2.2.3 and §5; session.md §6), with RustCrypto's primitives:
//!
//! - LHTICKET is connection string 2 in UTF-16LE, encrypted with
//!   AES-128-CBC (zero IV, PKCS#7 padding) under a key that Windows'
//!   `CryptDeriveKey` derives from SHA-1 of the UTF-16LE password.
//! - The expert proves knowledge of the password by sending the PassStub
//!   encrypted with RC4 under MD5 of the UTF-16LE password.

use aes::Aes128;
use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockDecryptMut, KeyInit, KeyIvInit, StreamCipher};
use md5::Md5;
use rc4::Rc4;
use sha1::{Digest, Sha1};

/// The AES block size, which an LHTICKET's length is a multiple of.
pub const BLOCK: usize = 16;

/// The password as Windows hashes it: UTF-16LE, no terminator.
fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// `CryptDeriveKey(CALG_AES_128, hash)` for a SHA-1 hash: since SHA-1 is
/// not of the SHA-2 family and the key is for AES, the key is the first
/// 16 bytes of `SHA1((0x36 × 64) ⊕ hash)` (the documented derivation, of
/// which an AES-128 key needs only the first half).
fn derive_key(hash: &[u8; 20]) -> [u8; BLOCK] {
    let mut pad = [0x36u8; 64];
    for (p, h) in pad.iter_mut().zip(hash) {
        *p ^= h;
    }
    let digest = Sha1::digest(pad);
    let mut key = [0; BLOCK];
    key.copy_from_slice(&digest[..BLOCK]);
    key
}

/// The AES-128 key of an LHTICKET sealed with `password`.
pub fn lh_ticket_key(password: &str) -> [u8; BLOCK] {
    derive_key(&Sha1::digest(utf16le(password)).into())
}

/// Decrypts an LHTICKET; `None` when the padding is wrong, which is what a
/// wrong password gives 255 times in 256.
pub fn decrypt_lh_ticket(password: &str, ticket: &[u8]) -> Option<Vec<u8>> {
    if ticket.is_empty() || !ticket.len().is_multiple_of(BLOCK) {
        return None;
    }
    let decryptor =
        cbc::Decryptor::<Aes128>::new(&lh_ticket_key(password).into(), &[0; BLOCK].into());
    let mut buffer = ticket.to_vec();
    let plain = decryptor
        .decrypt_padded_mut::<Pkcs7>(&mut buffer)
        .ok()?
        .len();
    buffer.truncate(plain);
    Some(buffer)
}

/// The encrypted PassStub the expert sends to prove the password:
/// `RC4(MD5(UTF-16LE(password)), LE32(n) ‖ UTF-16LE(PassStub))`, where `n`
/// is the byte length of the UTF-16LE PassStub.
pub fn pass_stub_proof(password: &str, pass_stub: &str) -> Vec<u8> {
    let stub = utf16le(pass_stub);
    let mut proof = Vec::with_capacity(4 + stub.len());
    proof.extend_from_slice(&u32::try_from(stub.len()).unwrap_or(u32::MAX).to_le_bytes());
    proof.extend_from_slice(&stub);
    let key: [u8; 16] = Md5::digest(utf16le(password)).into();
    Rc4::new(&key.into()).apply_keystream(&mut proof);
    proof
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 6229 §2, the 128-bit key 0x0102…10: keystream offset 0.
    #[test]
    fn rc4_matches_rfc_6229() {
        let key: [u8; 16] = core::array::from_fn(|i| i as u8 + 1);
        let mut stream = [0u8; 16];
        Rc4::new(&key.into()).apply_keystream(&mut stream);
        assert_eq!(hex(&stream), "9ac7cc9a609d1ef7b2932899cde41b97");
    }

    /// RFC 1321 §A.5 and RFC 3174 §7.3 (FIPS 180-1 "abc").
    #[test]
    fn md5_and_sha1_match_their_rfcs() {
        assert_eq!(
            hex(&Md5::digest(b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex(&Sha1::digest(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    /// FIPS 197 Appendix C.1, AES-128: one block, through the same CBC
    /// decryptor with a zero IV (which is the bare block cipher for the
    /// first block).
    #[test]
    fn aes_matches_fips_197() {
        use aes::cipher::BlockDecrypt;
        let key: [u8; 16] = core::array::from_fn(|i| i as u8);
        let mut block: aes::Block = [
            0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4,
            0xc5, 0x5a,
        ]
        .into();
        Aes128::new(&key.into()).decrypt_block(&mut block);
        assert_eq!(hex(&block), "00112233445566778899aabbccddeeff");
    }

    /// FreeRDP's test ticket of type 1 (password "Password1", PassStub
    /// "RT=0PvIndan52*") and the proof it expects.
    #[test]
    fn the_pass_stub_proof_matches_freerdp() {
        assert_eq!(
            hex(&pass_stub_proof("Password1", "RT=0PvIndan52*")),
            "3c9cae0bce7ab15c8aac01d676045edf3ffaf092e2de368a2017e68a0ded7c90"
        );
    }

    #[test]
    fn a_wrong_length_never_decrypts() {
        assert_eq!(decrypt_lh_ticket("x", &[]), None);
        assert_eq!(decrypt_lh_ticket("x", &[0; 15]), None);
    }
}
