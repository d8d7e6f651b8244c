//! `-getinfo`: one batch of `getnetworkinfo`, `getblockchaininfo`,
//! `getwalletinfo` and `getbalances`, summarised as bitcoin-cli does.
//! The wallet calls may fail (no wallet, or no wallet support, as in
//! ferronoded): their fields are then left out.

use serde_json::{Map, Value};

use super::json::scalar_text;
use super::{expected, ok_reply, request_text, Failure};

const NETWORKINFO: usize = 0;
const BLOCKCHAININFO: usize = 1;
const WALLETINFO: usize = 2;
const BALANCES: usize = 3;

/// The batch request (ids are the positions).
pub(super) fn request() -> String {
    let calls = ["getnetworkinfo", "getblockchaininfo", "getwalletinfo", "getbalances"];
    let items: Vec<String> = calls.iter().enumerate().map(|(id, m)| request_text(m, "null", id)).collect();
    format!("[{}]", items.join(","))
}

/// Orders a batch reply by id (Core's `JSONRPCProcessBatchReply`).
fn by_id(reply: Value) -> Result<Vec<Value>, Failure> {
    let Value::Array(items) = reply else { return Err(Failure::Fatal("Batch must be an array".to_owned())) };
    let mut out = vec![Value::Null; items.len()];
    for item in items {
        if !item.is_object() {
            return Err(Failure::Fatal("Batch member must be an object".to_owned()));
        }
        let id = item.get("id").unwrap_or(&Value::Null);
        let id = id.as_u64().ok_or_else(|| expected(id, "number"))?;
        let slot = usize::try_from(id)
            .ok()
            .and_then(|i| out.get_mut(i))
            .ok_or_else(|| Failure::Fatal("Batch member id is larger than batch size".to_owned()))?;
        *slot = item;
    }
    Ok(out)
}

fn has_error(item: &Value) -> bool {
    item.get("error").is_some_and(|e| !e.is_null())
}

/// Builds the summary reply from the batch, or passes on the first fatal
/// error reply.
pub(super) fn process(reply: Value) -> Result<Value, Failure> {
    let batch = by_id(reply)?;
    let get = |i: usize| batch.get(i).cloned().unwrap_or(Value::Null);
    for fatal in [NETWORKINFO, BLOCKCHAININFO] {
        if has_error(&get(fatal)) {
            return Ok(get(fatal));
        }
    }
    let field = |i: usize, name: &str| get(i).get("result").and_then(|r| r.get(name)).cloned().unwrap_or(Value::Null);
    let mut r = Map::new();
    r.insert("version".into(), field(NETWORKINFO, "version"));
    r.insert("blocks".into(), field(BLOCKCHAININFO, "blocks"));
    r.insert("headers".into(), field(BLOCKCHAININFO, "headers"));
    r.insert("verificationprogress".into(), field(BLOCKCHAININFO, "verificationprogress"));
    r.insert("timeoffset".into(), field(NETWORKINFO, "timeoffset"));
    let mut connections = Map::new();
    connections.insert("in".into(), field(NETWORKINFO, "connections_in"));
    connections.insert("out".into(), field(NETWORKINFO, "connections_out"));
    connections.insert("total".into(), field(NETWORKINFO, "connections"));
    r.insert("connections".into(), Value::Object(connections));
    r.insert("networks".into(), field(NETWORKINFO, "networks"));
    r.insert("difficulty".into(), field(BLOCKCHAININFO, "difficulty"));
    r.insert("chain".into(), field(BLOCKCHAININFO, "chain"));
    if get(WALLETINFO).get("result").is_some_and(|w| !w.is_null()) {
        r.insert("has_wallet".into(), Value::Bool(true));
        r.insert("keypoolsize".into(), field(WALLETINFO, "keypoolsize"));
        r.insert("walletname".into(), field(WALLETINFO, "walletname"));
        let unlocked = field(WALLETINFO, "unlocked_until");
        if !unlocked.is_null() {
            r.insert("unlocked_until".into(), unlocked);
        }
    }
    if get(BALANCES).get("result").is_some_and(|b| !b.is_null()) {
        let trusted = get(BALANCES).pointer("/result/mine/trusted").cloned().unwrap_or(Value::Null);
        r.insert("balance".into(), trusted);
    }
    r.insert("relayfee".into(), field(NETWORKINFO, "relayfee"));
    r.insert("warnings".into(), field(NETWORKINFO, "warnings"));
    Ok(ok_reply(Value::Object(r)))
}

/// A bar of 5% steps, `▒` done and `░` to go.
fn progress_bar(progress: f64) -> String {
    let mut bar = String::new();
    if !(0.0..=1.0).contains(&progress) {
        return bar;
    }
    let mut i = 0.0;
    while i < progress / 0.05 {
        bar.push('\u{2592}');
        i += 1.0;
    }
    let mut i = 0.0;
    while i < (1.0 - progress) / 0.05 {
        bar.push('\u{2591}');
        i += 1.0;
    }
    bar
}

/// The human-readable summary (the text bitcoin-cli prints for `-getinfo`).
///
/// # Errors
/// When `verificationprogress` is not a number.
pub(super) fn format(r: &Value, colors: bool) -> Result<String, String> {
    let (reset, green, blue, yellow, magenta, cyan) = if colors {
        ("\x1B[0m", "\x1B[32m", "\x1B[34m", "\x1B[33m", "\x1B[35m", "\x1B[36m")
    } else {
        ("", "", "", "", "", "")
    };
    let s = |name: &str| scalar_text(r.get(name).unwrap_or(&Value::Null));
    let mut out = format!("{blue}Chain: {}{reset}\n", s("chain"));
    out.push_str(&format!("Blocks: {}\n", s("blocks")));
    out.push_str(&format!("Headers: {}\n", s("headers")));
    let progress_value = r.get("verificationprogress").unwrap_or(&Value::Null);
    let progress = progress_value.as_f64().ok_or_else(|| match expected(progress_value, "number") {
        Failure::Fatal(m) | Failure::Transient(m) => m,
    })?;
    let bar = if progress < 0.99 { format!("{} ", progress_bar(progress)) } else { String::new() };
    out.push_str(&format!("Verification progress: {bar}{:.4}%\n", progress * 100.0));
    out.push_str(&format!("Difficulty: {}\n\n", s("difficulty")));
    let conn = |k: &str| scalar_text(r.pointer(&format!("/connections/{k}")).unwrap_or(&Value::Null));
    out.push_str(&format!("{green}Network: in {}, out {}, total {}{reset}\n", conn("in"), conn("out"), conn("total")));
    out.push_str(&format!("Version: {}\n", s("version")));
    out.push_str(&format!("Time offset (s): {}\n", s("timeoffset")));
    let mut proxies: Vec<(String, Vec<String>)> = Vec::new();
    for network in r.get("networks").and_then(Value::as_array).into_iter().flatten() {
        let proxy = scalar_text(network.get("proxy").unwrap_or(&Value::Null));
        if proxy.is_empty() {
            continue;
        }
        let name = scalar_text(network.get("name").unwrap_or(&Value::Null));
        match proxies.iter_mut().find(|(p, _)| *p == proxy) {
            Some((_, names)) => names.push(name),
            None => proxies.push((proxy, vec![name])),
        }
    }
    let proxies: Vec<String> = proxies.iter().map(|(p, names)| format!("{p} ({})", names.join(", "))).collect();
    out.push_str(&format!("Proxies: {}\n", if proxies.is_empty() { "n/a".to_owned() } else { proxies.join(", ") }));
    out.push_str(&format!("Min tx relay fee rate (BTC/kvB): {}\n\n", s("relayfee")));
    if r.get("has_wallet").is_some_and(|v| !v.is_null()) {
        let name = s("walletname");
        out.push_str(&format!("{magenta}Wallet: {}{reset}\n", if name.is_empty() { "\"\"" } else { &name }));
        out.push_str(&format!("Keypool size: {}\n", s("keypoolsize")));
        if r.get("unlocked_until").is_some_and(|v| !v.is_null()) {
            out.push_str(&format!("Unlocked until: {}\n", s("unlocked_until")));
        }
    }
    if r.get("balance").is_some_and(|v| !v.is_null()) {
        out.push_str(&format!("{cyan}Balance:{reset} {}\n\n", s("balance")));
    }
    if let Some(Value::Object(balances)) = r.get("balances") {
        out.push_str(&format!("{cyan}Balances{reset}\n"));
        let width = balances.values().map(|b| scalar_text(b).len()).max().unwrap_or(0).max(10);
        for (wallet, balance) in balances {
            let name = if wallet.is_empty() { "\"\"" } else { wallet.as_str() };
            out.push_str(&format!("{:>width$} {name}\n", scalar_text(balance)));
        }
        out.push('\n');
    }
    // As Core: a warnings array (getnetworkinfo since v28) shows as "(none)".
    let warnings = s("warnings");
    out.push_str(&format!("{yellow}Warnings:{reset} {}", if warnings.is_empty() { "(none)" } else { &warnings }));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn summary_of_a_regtest_node_without_wallet() {
        let reply = json!([
            {"result": {"version": 100, "timeoffset": 0, "connections": 0, "connections_in": 0, "connections_out": 0,
                        "networks": [{"name": "ipv4", "proxy": ""}], "relayfee": 0.00001, "warnings": []}, "id": 0},
            {"result": {"chain": "regtest", "blocks": 3, "headers": 3, "verificationprogress": 1, "difficulty": 4.6e-10}, "id": 1},
            {"error": {"code": -32601, "message": "Method not found"}, "id": 2},
            {"error": {"code": -32601, "message": "Method not found"}, "id": 3}
        ]);
        let summary = process(reply).unwrap();
        let text = format(&summary["result"], false).unwrap();
        assert_eq!(
            text,
            "Chain: regtest\nBlocks: 3\nHeaders: 3\nVerification progress: 100.0000%\nDifficulty: 4.6e-10\n\n\
             Network: in 0, out 0, total 0\nVersion: 100\nTime offset (s): 0\nProxies: n/a\n\
             Min tx relay fee rate (BTC/kvB): 0.00001\n\nWarnings: (none)"
        );
        assert_eq!(progress_bar(0.5).chars().count(), 20);
    }

    #[test]
    fn a_failing_chain_call_is_passed_on() {
        let err = json!({"error": {"code": -28, "message": "Loading"}, "id": 1});
        let reply = json!([{"result": {}, "id": 0}, err.clone(), {"result": null, "id": 2}, {"result": null, "id": 3}]);
        assert_eq!(process(reply).unwrap(), err);
    }
}
