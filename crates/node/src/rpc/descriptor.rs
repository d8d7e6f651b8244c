//! Output descriptors for mining targets: `addr()`, `raw()`, `pk()`,
//! `pkh()`, `wpkh()`, `sh(wpkh())` and `tr()` (key path) with hex keys, and
//! Core's checksum rules.

use std::str::FromStr;

use bitcoin::key::{PublicKey, XOnlyPublicKey};
use bitcoin::{Address, CompressedPublicKey, KnownHrp, Network, ScriptBuf};

use super::txjson::descriptor_checksum;

/// Checks the optional `#checksum` as Core's `CheckChecksum` does and
/// returns the payload.
fn split_checksum(text: &str) -> Result<&str, String> {
    let mut parts = text.split('#');
    let payload = parts.next().unwrap_or("");
    let given = parts.next();
    if parts.next().is_some() {
        return Err("Multiple '#' symbols".to_owned());
    }
    if let Some(given) = given {
        if given.len() != 8 {
            return Err(format!("Expected 8 character checksum, not {} characters", given.len()));
        }
        let computed = descriptor_checksum(payload);
        if computed.is_empty() {
            return Err("Invalid characters in payload".to_owned());
        }
        if computed != given {
            return Err(format!("Provided checksum '{given}' does not match computed checksum '{computed}'"));
        }
    }
    Ok(payload)
}

fn inner<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')
}

fn pubkey(s: &str) -> Result<PublicKey, String> {
    PublicKey::from_str(s).map_err(|_| format!("key '{s}' is not valid (only hex public keys are supported)"))
}

fn compressed(s: &str) -> Result<CompressedPublicKey, String> {
    CompressedPublicKey::from_str(s)
        .map_err(|_| format!("key '{s}' is not valid (only compressed hex public keys are supported here)"))
}

/// The output script of a descriptor.
///
/// # Errors
/// Core's checksum messages, or a description of what is not supported.
pub(super) fn script_of(text: &str) -> Result<ScriptBuf, String> {
    let payload = split_checksum(text)?;
    if let Some(a) = inner(payload, "addr") {
        return Address::from_str(a)
            .ok()
            .and_then(|a| a.require_network(Network::Regtest).ok())
            .map(|a| a.script_pubkey())
            .ok_or_else(|| format!("Address '{a}' is not valid"));
    }
    if let Some(h) = inner(payload, "raw") {
        return super::txjson::parse_hex(h)
            .map(ScriptBuf::from_bytes)
            .ok_or_else(|| "Raw script is not hex".to_owned());
    }
    if let Some(k) = inner(payload, "pk") {
        return Ok(ScriptBuf::new_p2pk(&pubkey(k)?));
    }
    if let Some(k) = inner(payload, "pkh") {
        return Ok(ScriptBuf::new_p2pkh(&pubkey(k)?.pubkey_hash()));
    }
    if let Some(k) = inner(payload, "wpkh") {
        return Ok(Address::p2wpkh(&compressed(k)?, KnownHrp::Regtest).script_pubkey());
    }
    if let Some(k) = inner(payload, "sh").and_then(|i| inner(i, "wpkh")) {
        return Ok(Address::p2shwpkh(&compressed(k)?, Network::Regtest).script_pubkey());
    }
    if let Some(k) = inner(payload, "tr") {
        if k.contains(',') {
            return Err("tr() with a script tree is not supported yet".to_owned());
        }
        let xonly = XOnlyPublicKey::from_str(k)
            .or_else(|_| pubkey(k).map(|p| XOnlyPublicKey::from(p.inner)))
            .map_err(|_| format!("key '{k}' is not valid"))?;
        let secp = bitcoin::secp256k1::Secp256k1::verification_only();
        return Ok(Address::p2tr(&secp, xonly, None, KnownHrp::Regtest).script_pubkey());
    }
    Err(format!(
        "'{payload}' is not a descriptor ferronode supports (addr, raw, pk, pkh, wpkh, sh(wpkh), tr with a key)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "03a34b99f22c790c4e36b2b3c2c35a36db06226e41c692fc82b8b56ac1c540c5bd";

    #[test]
    fn descriptors() {
        assert_eq!(script_of("raw(51)").unwrap().as_bytes(), [0x51]);
        let with_sum = format!("raw(51)#{}", descriptor_checksum("raw(51)"));
        assert_eq!(script_of(&with_sum).unwrap().as_bytes(), [0x51]);
        assert!(script_of("raw(51)#abc").unwrap_err().starts_with("Expected 8 character checksum"));
        assert!(script_of("raw(51)#qqqqqqqq").unwrap_err().starts_with("Provided checksum 'qqqqqqqq' does not match"));
        assert!(script_of(&format!("pkh({KEY})")).unwrap().is_p2pkh());
        assert!(script_of(&format!("wpkh({KEY})")).unwrap().is_p2wpkh());
        assert!(script_of(&format!("sh(wpkh({KEY}))")).unwrap().is_p2sh());
        assert!(script_of(&format!("pk({KEY})")).unwrap().is_p2pk());
        assert!(script_of(&format!("tr({})", &KEY[2..])).unwrap().is_p2tr());
        assert!(script_of("wsh(x)").is_err());
    }
}
