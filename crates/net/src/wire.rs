//! The v1 transport: 24-byte headers (magic, command, length, checksum)
//! and payloads, encoded and decoded with `bitcoin::p2p`. Pure functions,
//! tested without sockets.

use bitcoin::consensus::encode;
use bitcoin::hashes::{sha256d, Hash as _};
use bitcoin::p2p::message::{NetworkMessage, RawNetworkMessage};
use bitcoin::p2p::Magic;

/// Length of a message header.
pub const HEADER_LEN: usize = 24;
/// Core's `MAX_PROTOCOL_MESSAGE_LENGTH`: the largest payload accepted.
pub const MAX_PAYLOAD: usize = 4_000_000;

/// One encoded message, ready for the socket, with its command for the
/// per-message byte counters.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The command (`block`, `headers`, ...).
    pub command: String,
    /// Header and payload.
    pub bytes: Vec<u8>,
}

/// Encodes `msg` for the regtest network.
#[must_use]
pub fn encode_message(msg: NetworkMessage) -> Frame {
    let command = msg.cmd().to_owned();
    let bytes = encode::serialize(&RawNetworkMessage::new(Magic::REGTEST, msg));
    Frame { command, bytes }
}

/// Frames an already serialized payload (a block read from disk) without
/// decoding it first.
///
/// # Panics
/// Never for payloads the node produces: they are far below 4 GiB.
#[must_use]
pub fn encode_raw(command: &str, payload: &[u8]) -> Frame {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
    bytes.extend_from_slice(&Magic::REGTEST.to_bytes());
    let mut cmd = [0u8; 12];
    for (dst, src) in cmd.iter_mut().zip(command.bytes()) {
        *dst = src;
    }
    bytes.extend_from_slice(&cmd);
    let len = u32::try_from(payload.len()).expect("a block payload is smaller than 4 GiB");
    bytes.extend_from_slice(&len.to_le_bytes());
    bytes.extend_from_slice(&sha256d::Hash::hash(payload).to_byte_array()[..4]);
    bytes.extend_from_slice(payload);
    Frame { command: command.to_owned(), bytes }
}

/// What is wrong with a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Another network's magic (or garbage).
    BadMagic([u8; 4]),
    /// The payload is over [`MAX_PAYLOAD`].
    Oversized(u32),
    /// The command is not printable ASCII padded with NULs.
    BadCommand,
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadMagic(m) => {
                write!(f, "header error: Wrong MessageStart {:02x}{:02x}{:02x}{:02x} received", m[0], m[1], m[2], m[3])
            }
            Self::Oversized(n) => write!(f, "header error: Size too large ({n} bytes)"),
            Self::BadCommand => write!(f, "header error: Unable to parse command"),
        }
    }
}

/// Checks a header; returns the command and the payload length.
///
/// # Errors
/// A wrong magic, an oversized payload or a malformed command.
pub fn parse_header(h: &[u8; HEADER_LEN]) -> Result<(String, usize), HeaderError> {
    let magic = [h[0], h[1], h[2], h[3]];
    if magic != Magic::REGTEST.to_bytes() {
        return Err(HeaderError::BadMagic(magic));
    }
    let cmd = &h[4..16];
    let end = cmd.iter().position(|b| *b == 0).unwrap_or(12);
    if !cmd[..end].iter().all(|b| b.is_ascii_graphic()) || cmd[end..].iter().any(|b| *b != 0) {
        return Err(HeaderError::BadCommand);
    }
    let command = String::from_utf8_lossy(&cmd[..end]).into_owned();
    let len = u32::from_le_bytes([h[16], h[17], h[18], h[19]]);
    if len as usize > MAX_PAYLOAD {
        return Err(HeaderError::Oversized(len));
    }
    Ok((command, len as usize))
}

/// Decodes a whole message (header and payload); checks the checksum and
/// that the payload has no trailing bytes.
///
/// # Errors
/// Anything `bitcoin::p2p` refuses.
pub fn decode_message(bytes: &[u8]) -> Result<NetworkMessage, encode::Error> {
    encode::deserialize::<RawNetworkMessage>(bytes).map(RawNetworkMessage::into_payload)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ping_round_trip_and_raw_frames_match() {
        let f = encode_message(NetworkMessage::Ping(7));
        assert_eq!(f.bytes.len(), 32);
        let h: [u8; 24] = f.bytes[..24].try_into().unwrap();
        assert_eq!(parse_header(&h).unwrap(), ("ping".to_owned(), 8));
        assert_eq!(decode_message(&f.bytes).unwrap(), NetworkMessage::Ping(7));
        let raw = encode_raw("ping", &7u64.to_le_bytes());
        assert_eq!(raw.bytes, f.bytes);
    }

    #[test]
    fn bad_headers_and_checksums_are_refused() {
        let mut f = encode_message(NetworkMessage::Verack).bytes;
        let mut h: [u8; 24] = f[..24].try_into().unwrap();
        h[0] = 0xf9;
        assert!(matches!(parse_header(&h), Err(HeaderError::BadMagic(_))));
        let mut h: [u8; 24] = f[..24].try_into().unwrap();
        h[16..20].copy_from_slice(&4_000_001u32.to_le_bytes());
        assert_eq!(parse_header(&h), Err(HeaderError::Oversized(4_000_001)));
        let mut h: [u8; 24] = f[..24].try_into().unwrap();
        h[4] = 0x01;
        assert_eq!(parse_header(&h), Err(HeaderError::BadCommand));
        f[20] ^= 1;
        assert!(decode_message(&f).is_err());
        // a ping with a trailing byte
        let mut p = encode_raw("ping", &[0u8; 9]).bytes;
        assert!(decode_message(&p).is_err());
        p.truncate(24 + 7);
        assert!(decode_message(&p).is_err());
    }
}
