//! Transactions and scripts as JSON, the way Core's `TxToUniv` and
//! `ScriptToUniv` write them: `asm` with Core's opcode names, `desc` as
//! `InferDescriptor` gives it without keys (with its checksum), `address`,
//! `type`.

use bitcoin::blockdata::script::Instruction;
use bitcoin::consensus::encode::serialize_hex;
use bitcoin::hashes::Hash as _;
use bitcoin::{Address, Network, Script, Transaction, TxOut};
use serde_json::{json, Map, Value};

use crate::chain::Coin;

/// Lowercase hex of `bytes` (the `bitcoin` crate's encoder).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use bitcoin::hex::DisplayHex as _;
    bytes.to_lower_hex_string()
}

/// Bytes from hex: even length, hex digits of either case (the `bitcoin`
/// crate's decoder).
pub(crate) fn parse_hex(text: &str) -> Option<Vec<u8>> {
    use bitcoin::hex::FromHex as _;
    Vec::<u8>::from_hex(text).ok()
}

/// Core's `CScriptNum(vch, false).getint()` for pushes of up to 4 bytes.
fn script_num(bytes: &[u8]) -> i64 {
    let Some((&last, _)) = bytes.split_last() else { return 0 };
    let mut v: i64 = 0;
    for (i, b) in bytes.iter().enumerate() {
        v |= i64::from(*b) << (8 * i);
    }
    if last & 0x80 != 0 {
        -(v & !(0x80i64 << (8 * (bytes.len() - 1))))
    } else {
        v
    }
}

/// Core's `GetOpName`.
fn op_name(op: bitcoin::Opcode) -> String {
    let byte = op.to_u8();
    match byte {
        0x4f => "-1".to_owned(),
        0x51..=0x60 => (byte - 0x50).to_string(),
        0xb1 => "OP_CHECKLOCKTIMEVERIFY".to_owned(),
        0xb2 => "OP_CHECKSEQUENCEVERIFY".to_owned(),
        0xba => "OP_CHECKSIGADD".to_owned(),
        0xbb..=0xfe => "OP_UNKNOWN".to_owned(),
        0xff => "OP_INVALIDOPCODE".to_owned(),
        _ => op.to_string(),
    }
}

/// BIP66 strict DER plus a defined sighash type (Core's
/// `CheckSignatureEncoding` with `SCRIPT_VERIFY_STRICTENC`).
fn looks_like_signature(sig: &[u8]) -> bool {
    let n = sig.len();
    if !(9..=73).contains(&n) || sig[0] != 0x30 || usize::from(sig[1]) != n - 3 {
        return false;
    }
    let len_r = usize::from(sig[3]);
    if 5 + len_r >= n || sig[2] != 0x02 || len_r == 0 || sig[4] & 0x80 != 0 {
        return false;
    }
    if len_r > 1 && sig[4] == 0 && sig[5] & 0x80 == 0 {
        return false;
    }
    let len_s = usize::from(sig[5 + len_r]);
    if len_r + len_s + 7 != n || sig[len_r + 4] != 0x02 || len_s == 0 || sig[len_r + 6] & 0x80 != 0 {
        return false;
    }
    if len_s > 1 && sig[len_r + 6] == 0 && sig[len_r + 7] & 0x80 == 0 {
        return false;
    }
    matches!(sig[n - 1] & !0x80, 1..=3)
}

fn sighash_name(byte: u8) -> &'static str {
    match byte {
        0x01 => "ALL",
        0x02 => "NONE",
        0x03 => "SINGLE",
        0x81 => "ALL|ANYONECANPAY",
        0x82 => "NONE|ANYONECANPAY",
        _ => "SINGLE|ANYONECANPAY",
    }
}

/// Core's `ScriptToAsmStr`.
#[must_use]
pub fn asm(script: &Script, decode_sighash: bool) -> String {
    let mut parts: Vec<String> = Vec::new();
    let unspendable = script.is_op_return();
    for ins in script.instructions() {
        match ins {
            Err(_) => {
                parts.push("[error]".to_owned());
                break;
            }
            Ok(Instruction::PushBytes(p)) => {
                let b = p.as_bytes();
                if b.len() <= 4 {
                    parts.push(script_num(b).to_string());
                } else if decode_sighash && !unspendable && looks_like_signature(b) {
                    let (last, body) = b.split_last().unwrap_or((&0, b));
                    parts.push(format!("{}[{}]", hex(body), sighash_name(*last)));
                } else {
                    parts.push(hex(b));
                }
            }
            Ok(Instruction::Op(op)) => parts.push(op_name(op)),
        }
    }
    parts.join(" ")
}

/// Core's `GetTxnOutputType` of `Solver`.
#[must_use]
pub fn output_type(script: &Script) -> &'static str {
    let b = script.as_bytes();
    if script.is_p2pk() {
        "pubkey"
    } else if script.is_p2pkh() {
        "pubkeyhash"
    } else if script.is_p2sh() {
        "scripthash"
    } else if script.is_p2wpkh() {
        "witness_v0_keyhash"
    } else if script.is_p2wsh() {
        "witness_v0_scripthash"
    } else if script.is_p2tr() {
        "witness_v1_taproot"
    } else if b == [0x51, 0x02, 0x4e, 0x73] {
        "anchor"
    } else if script.is_witness_program() && b[0] != 0x00 {
        "witness_unknown"
    } else if script.is_op_return()
        && script.instructions().skip(1).all(|i| match i {
            Ok(Instruction::PushBytes(_)) => true,
            Ok(Instruction::Op(op)) => (0x51..=0x60).contains(&op.to_u8()),
            Err(_) => false,
        })
    {
        "nulldata"
    } else if script.is_multisig() {
        "multisig"
    } else {
        "nonstandard"
    }
}

/// Core's descriptor checksum.
#[must_use]
pub fn descriptor_checksum(desc: &str) -> String {
    const INPUT: &str =
        "0123456789()[],'/*abcdefgh@:$%{}IJKLMNOPQRSTUVWXYZ&+-.;<=>?!^_|~ijklmnopqrstuvwxyzABCDEFGH`#\"\\ ";
    const OUT: &[u8] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    fn polymod(c: u64, val: u64) -> u64 {
        let c0 = c >> 35;
        let mut c = ((c & 0x7_ffff_ffff) << 5) ^ val;
        for (bit, k) in
            [0xf5_dee5_1989u64, 0xa9_fdca_3312, 0x1b_ab10_e32d, 0x37_06b1_677a, 0x64_4d62_6ffd].iter().enumerate()
        {
            if c0 & (1 << bit) != 0 {
                c ^= k;
            }
        }
        c
    }
    let mut c = 1u64;
    let mut cls = 0u64;
    let mut count = 0;
    for ch in desc.chars() {
        let Some(pos) = INPUT.find(ch) else { return String::new() };
        let pos = pos as u64;
        c = polymod(c, pos & 31);
        cls = cls * 3 + (pos >> 5);
        count += 1;
        if count == 3 {
            c = polymod(c, cls);
            cls = 0;
            count = 0;
        }
    }
    if count > 0 {
        c = polymod(c, cls);
    }
    for _ in 0..8 {
        c = polymod(c, 0);
    }
    c ^= 1;
    (0..8).map(|j| char::from(OUT[((c >> (5 * (7 - j))) & 31) as usize])).collect()
}

/// `InferDescriptor` without any key information.
#[must_use]
pub fn infer_descriptor(script: &Script) -> String {
    let b = script.as_bytes();
    let body = match output_type(script) {
        "pubkey" => format!("pk({})", hex(&b[1..b.len() - 1])),
        "witness_v1_taproot" => format!("rawtr({})", hex(&b[2..])),
        "pubkeyhash" | "scripthash" | "witness_v0_keyhash" | "witness_v0_scripthash" | "witness_unknown" | "anchor" => {
            match Address::from_script(script, Network::Regtest) {
                Ok(a) => format!("addr({a})"),
                Err(_) => format!("raw({})", hex(b)),
            }
        }
        _ => format!("raw({})", hex(b)),
    };
    let sum = descriptor_checksum(&body);
    format!("{body}#{sum}")
}

/// Core's `ScriptToUniv` with hex and address.
#[must_use]
pub fn script_pubkey_json(script: &Script) -> Value {
    let mut o = Map::new();
    o.insert("asm".into(), json!(asm(script, false)));
    o.insert("desc".into(), json!(infer_descriptor(script)));
    o.insert("hex".into(), json!(hex(script.as_bytes())));
    let kind = output_type(script);
    if kind != "pubkey" {
        if let Ok(a) = Address::from_script(script, Network::Regtest) {
            o.insert("address".into(), json!(a.to_string()));
        }
    }
    o.insert("type".into(), json!(kind));
    Value::Object(o)
}

/// Core's `TxToUniv`. With `undo` (the coins the transaction spent) the
/// `fee` is shown, and with `show_prevout` also each input's `prevout`.
#[must_use]
pub fn tx_json(
    tx: &Transaction,
    blockhash: Option<&str>,
    include_hex: bool,
    undo: Option<&[Coin]>,
    show_prevout: bool,
) -> Value {
    let prevouts = undo;
    let mut o = Map::new();
    o.insert("txid".into(), json!(tx.compute_txid().to_string()));
    o.insert("hash".into(), json!(tx.compute_wtxid().to_string()));
    o.insert("version".into(), json!(tx.version.0));
    o.insert("size".into(), json!(tx.total_size()));
    o.insert("vsize".into(), json!(tx.vsize()));
    o.insert("weight".into(), json!(tx.weight().to_wu()));
    o.insert("locktime".into(), json!(tx.lock_time.to_consensus_u32()));
    let mut total_in = 0u64;
    let vin: Vec<Value> = tx
        .input
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let mut v = Map::new();
            if tx.is_coinbase() {
                v.insert("coinbase".into(), json!(hex(input.script_sig.as_bytes())));
            } else {
                v.insert("txid".into(), json!(input.previous_output.txid.to_string()));
                v.insert("vout".into(), json!(input.previous_output.vout));
                v.insert(
                    "scriptSig".into(),
                    json!({"asm": asm(&input.script_sig, true), "hex": hex(input.script_sig.as_bytes())}),
                );
            }
            if !input.witness.is_empty() {
                v.insert("txinwitness".into(), json!(input.witness.iter().map(hex).collect::<Vec<_>>()));
            }
            if let Some(coin) = prevouts.and_then(|p| p.get(i)).filter(|_| !tx.is_coinbase()) {
                total_in += coin.txout.value.to_sat();
            }
            if let Some(coin) = prevouts.and_then(|p| p.get(i)).filter(|_| show_prevout && !tx.is_coinbase()) {
                v.insert(
                    "prevout".into(),
                    json!({
                        "generated": coin.coinbase,
                        "height": coin.height,
                        "value": ferronode_httprpc::amount(i64::try_from(coin.txout.value.to_sat()).unwrap_or(i64::MAX)),
                        "scriptPubKey": script_pubkey_json(&coin.txout.script_pubkey),
                    }),
                );
            }
            v.insert("sequence".into(), json!(input.sequence.0));
            Value::Object(v)
        })
        .collect();
    o.insert("vin".into(), Value::Array(vin));
    let vout: Vec<Value> = tx.output.iter().enumerate().map(|(n, out)| txout_json(out, n)).collect();
    o.insert("vout".into(), Value::Array(vout));
    if prevouts.is_some() && !tx.is_coinbase() {
        let total_out: u64 = tx.output.iter().map(|x| x.value.to_sat()).sum();
        o.insert(
            "fee".into(),
            ferronode_httprpc::amount(i64::try_from(total_in.saturating_sub(total_out)).unwrap_or(0)),
        );
    }
    if let Some(h) = blockhash {
        o.insert("blockhash".into(), json!(h));
    }
    if include_hex {
        o.insert("hex".into(), json!(serialize_hex(tx)));
    }
    Value::Object(o)
}

fn txout_json(out: &TxOut, n: usize) -> Value {
    json!({
        "value": ferronode_httprpc::amount(i64::try_from(out.value.to_sat()).unwrap_or(i64::MAX)),
        "n": n,
        "scriptPubKey": script_pubkey_json(&out.script_pubkey),
    })
}

/// Core's `IsOpSuccess` (BIP342).
fn is_op_success(op: u8) -> bool {
    matches!(op, 0x50 | 0x62 | 0x7e..=0x81 | 0x83..=0x86 | 0x89..=0x8a | 0x8d..=0x8e | 0x95..=0x99 | 0xbb..=0xfe)
}

/// Core's `decodescript` result.
#[must_use]
pub fn decode_script(script: &Script) -> Value {
    let mut r = Map::new();
    r.insert("asm".into(), json!(asm(script, false)));
    r.insert("desc".into(), json!(infer_descriptor(script)));
    let kind = output_type(script);
    r.insert("type".into(), json!(kind));
    if kind != "pubkey" {
        if let Ok(a) = Address::from_script(script, Network::Regtest) {
            r.insert("address".into(), json!(a.to_string()));
        }
    }
    let wrappable_type = matches!(
        kind,
        "multisig" | "nonstandard" | "pubkey" | "pubkeyhash" | "witness_v0_keyhash" | "witness_v0_scripthash"
    );
    let ops_ok = script.instructions().all(|i| match i {
        Ok(Instruction::Op(op)) => op.to_u8() <= 0xb9 && !is_op_success(op.to_u8()),
        Ok(Instruction::PushBytes(_)) => true,
        Err(_) => false,
    });
    if !(wrappable_type && ops_ok && !script.is_op_return()) {
        return Value::Object(r);
    }
    let p2sh = bitcoin::ScriptBuf::new_p2sh(&script.script_hash());
    if let Ok(a) = Address::from_script(&p2sh, Network::Regtest) {
        r.insert("p2sh".into(), json!(a.to_string()));
    }
    let segwit = match kind {
        "pubkey" => {
            let key = &script.as_bytes()[1..script.len() - 1];
            (key.len() == 33).then(|| {
                bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(
                    bitcoin::hashes::hash160::Hash::hash(key).to_byte_array(),
                ))
            })
        }
        "pubkeyhash" => {
            let mut h = [0u8; 20];
            h.copy_from_slice(&script.as_bytes()[3..23]);
            Some(bitcoin::ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(h)))
        }
        "nonstandard" | "multisig" => Some(bitcoin::ScriptBuf::new_p2wsh(&script.wscript_hash())),
        _ => None,
    };
    if let Some(seg) = segwit {
        let mut sr = match script_pubkey_json(&seg) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let wrapped = bitcoin::ScriptBuf::new_p2sh(&seg.script_hash());
        if let Ok(a) = Address::from_script(&wrapped, Network::Regtest) {
            sr.insert("p2sh-segwit".into(), json!(a.to_string()));
        }
        r.insert("segwit".into(), Value::Object(sr));
    }
    Value::Object(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_like_core() {
        // vectors from Core's functional tests
        assert_eq!(descriptor_checksum("addr(13tuJJDR2RgArmgfv6JScSdreahzgc4T6o)"), "ztmwxg4c");
        assert_eq!(descriptor_checksum("addr(2NF2b3KS8xXb9XHvbRMXdZh8s5g92rUZHtp)"), "ywfcpmh9");
    }

    #[test]
    fn asm_like_core() {
        let p2pkh = bitcoin::ScriptBuf::from_bytes([&[0x76u8, 0xa9, 0x14][..], &[0x11; 20], &[0x88, 0xac]].concat());
        assert_eq!(asm(&p2pkh, false), format!("OP_DUP OP_HASH160 {} OP_EQUALVERIFY OP_CHECKSIG", "11".repeat(20)));
        let small =
            bitcoin::ScriptBuf::from_bytes(vec![0x00, 0x51, 0x60, 0x4f, 0x01, 0x85, 0x02, 0xff, 0x00, 0xb1, 0xbb]);
        assert_eq!(asm(&small, false), "0 1 16 -1 -5 255 OP_CHECKLOCKTIMEVERIFY OP_UNKNOWN");
        assert_eq!(output_type(&p2pkh), "pubkeyhash");
    }
}
