//! Turning command-line words into JSON-RPC parameters, as bitcoin-cli does.
//!
//! Every word is sent as a JSON string unless the table below says the
//! parameter takes JSON (numbers, booleans, arrays, objects): then the word
//! is parsed as JSON, and a word that does not parse is an error
//! (`Error parsing JSON: <word>`), except for the parameters marked
//! [`Format::JsonOrString`], which fall back to a string. Parameters marked
//! [`Format::Text`] are strings that may contain `=`: with `-named`, a word
//! like `my=wallet` is taken as that positional string rather than as a
//! parameter called `my`.
//!
//! The table follows Bitcoin Core master's `vRPCConvertParams`
//! (`src/rpc/client.cpp`), so ferronode-cli converts arguments for every
//! Core RPC, including those ferronoded does not serve yet: the node then
//! answers `Method not found` exactly as it would to bitcoin-cli.

use serde_json::Value;

/// How a parameter's word is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Parsed as JSON; an invalid word is an error.
    Json,
    /// Sent as a string; listed so that `-named` recognises the name.
    Text,
    /// Parsed as JSON when it parses, else sent as a string.
    JsonOrString,
}

/// One parameter that is not a plain string: method, position, name, format.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// RPC method.
    pub method: &'static str,
    /// Zero-based position.
    pub index: usize,
    /// Name, for `-named`.
    pub name: &'static str,
    /// How the word is converted.
    pub format: Format,
}

const fn j(method: &'static str, index: usize, name: &'static str) -> Param {
    Param { method, index, name, format: Format::Json }
}
const fn t(method: &'static str, index: usize, name: &'static str) -> Param {
    Param { method, index, name, format: Format::Text }
}
const fn js(method: &'static str, index: usize, name: &'static str) -> Param {
    Param { method, index, name, format: Format::JsonOrString }
}

/// Parameters that are not plain strings, by method. Options objects list
/// their members under the same position, so `-named` accepts them as
/// top-level names too.
pub const PARAMS: &[Param] = &[
    j("setmocktime", 0, "timestamp"),
    j("mockscheduler", 0, "delta_time"),
    t("utxoupdatepsbt", 0, "psbt"),
    j("utxoupdatepsbt", 1, "descriptors"),
    j("generatetoaddress", 0, "nblocks"),
    j("generatetoaddress", 2, "maxtries"),
    j("generatetodescriptor", 0, "num_blocks"),
    j("generatetodescriptor", 2, "maxtries"),
    j("generateblock", 1, "transactions"),
    j("generateblock", 2, "submit"),
    j("getnetworkhashps", 0, "nblocks"),
    j("getnetworkhashps", 1, "height"),
    t("sendtoaddress", 0, "address"),
    j("sendtoaddress", 1, "amount"),
    t("sendtoaddress", 2, "comment"),
    t("sendtoaddress", 3, "comment_to"),
    j("sendtoaddress", 4, "subtractfeefromamount"),
    j("sendtoaddress", 5, "replaceable"),
    j("sendtoaddress", 6, "conf_target"),
    t("sendtoaddress", 7, "estimate_mode"),
    j("sendtoaddress", 8, "avoid_reuse"),
    j("sendtoaddress", 9, "fee_rate"),
    j("sendtoaddress", 10, "verbose"),
    j("settxfee", 0, "amount"),
    j("getreceivedbyaddress", 1, "minconf"),
    j("getreceivedbyaddress", 2, "include_immature_coinbase"),
    t("getreceivedbylabel", 0, "label"),
    j("getreceivedbylabel", 1, "minconf"),
    j("getreceivedbylabel", 2, "include_immature_coinbase"),
    j("listreceivedbyaddress", 0, "minconf"),
    j("listreceivedbyaddress", 1, "include_empty"),
    j("listreceivedbyaddress", 2, "include_watchonly"),
    j("listreceivedbyaddress", 4, "include_immature_coinbase"),
    j("listreceivedbylabel", 0, "minconf"),
    j("listreceivedbylabel", 1, "include_empty"),
    j("listreceivedbylabel", 2, "include_watchonly"),
    j("listreceivedbylabel", 3, "include_immature_coinbase"),
    j("getbalance", 1, "minconf"),
    j("getbalance", 2, "include_watchonly"),
    j("getbalance", 3, "avoid_reuse"),
    j("getblockfrompeer", 1, "peer_id"),
    j("getblockhash", 0, "height"),
    j("waitforblockheight", 0, "height"),
    j("waitforblockheight", 1, "timeout"),
    j("waitforblock", 1, "timeout"),
    j("waitfornewblock", 0, "timeout"),
    t("listtransactions", 0, "label"),
    j("listtransactions", 1, "count"),
    j("listtransactions", 2, "skip"),
    j("listtransactions", 3, "include_watchonly"),
    t("walletpassphrase", 0, "passphrase"),
    j("walletpassphrase", 1, "timeout"),
    j("getblocktemplate", 0, "template_request"),
    t("listsinceblock", 0, "blockhash"),
    j("listsinceblock", 1, "target_confirmations"),
    j("listsinceblock", 2, "include_watchonly"),
    j("listsinceblock", 3, "include_removed"),
    j("listsinceblock", 4, "include_change"),
    t("listsinceblock", 5, "label"),
    t("sendmany", 0, "dummy"),
    j("sendmany", 1, "amounts"),
    j("sendmany", 2, "minconf"),
    t("sendmany", 3, "comment"),
    j("sendmany", 4, "subtractfeefrom"),
    j("sendmany", 5, "replaceable"),
    j("sendmany", 6, "conf_target"),
    t("sendmany", 7, "estimate_mode"),
    j("sendmany", 8, "fee_rate"),
    j("sendmany", 9, "verbose"),
    j("deriveaddresses", 1, "range"),
    j("scanblocks", 1, "scanobjects"),
    j("scanblocks", 2, "start_height"),
    j("scanblocks", 3, "stop_height"),
    j("scanblocks", 5, "options"),
    j("scanblocks", 5, "filter_false_positives"),
    j("getdescriptoractivity", 0, "blockhashes"),
    j("getdescriptoractivity", 1, "scanobjects"),
    j("getdescriptoractivity", 2, "include_mempool"),
    j("scantxoutset", 1, "scanobjects"),
    j("createmultisig", 0, "nrequired"),
    j("createmultisig", 1, "keys"),
    j("listunspent", 0, "minconf"),
    j("listunspent", 1, "maxconf"),
    j("listunspent", 2, "addresses"),
    j("listunspent", 3, "include_unsafe"),
    j("listunspent", 4, "query_options"),
    j("listunspent", 4, "minimumAmount"),
    j("listunspent", 4, "maximumAmount"),
    j("listunspent", 4, "maximumCount"),
    j("listunspent", 4, "minimumSumAmount"),
    j("listunspent", 4, "include_immature_coinbase"),
    j("getblock", 1, "verbosity"),
    j("getblock", 1, "verbose"),
    j("getblockheader", 1, "verbose"),
    j("getchaintxstats", 0, "nblocks"),
    j("gettransaction", 1, "include_watchonly"),
    j("gettransaction", 2, "verbose"),
    j("getrawtransaction", 1, "verbosity"),
    j("getrawtransaction", 1, "verbose"),
    j("createrawtransaction", 0, "inputs"),
    j("createrawtransaction", 1, "outputs"),
    j("createrawtransaction", 2, "locktime"),
    j("createrawtransaction", 3, "replaceable"),
    j("createrawtransaction", 4, "version"),
    j("decoderawtransaction", 1, "iswitness"),
    j("signrawtransactionwithkey", 1, "privkeys"),
    j("signrawtransactionwithkey", 2, "prevtxs"),
    j("signrawtransactionwithwallet", 1, "prevtxs"),
    j("sendrawtransaction", 1, "maxfeerate"),
    j("sendrawtransaction", 2, "maxburnamount"),
    j("testmempoolaccept", 0, "rawtxs"),
    j("testmempoolaccept", 1, "maxfeerate"),
    j("submitpackage", 0, "package"),
    j("submitpackage", 1, "maxfeerate"),
    j("submitpackage", 2, "maxburnamount"),
    j("combinerawtransaction", 0, "txs"),
    j("fundrawtransaction", 1, "options"),
    j("fundrawtransaction", 1, "add_inputs"),
    j("fundrawtransaction", 1, "include_unsafe"),
    j("fundrawtransaction", 1, "minconf"),
    j("fundrawtransaction", 1, "maxconf"),
    j("fundrawtransaction", 1, "changePosition"),
    j("fundrawtransaction", 1, "includeWatching"),
    j("fundrawtransaction", 1, "lockUnspents"),
    j("fundrawtransaction", 1, "fee_rate"),
    j("fundrawtransaction", 1, "feeRate"),
    j("fundrawtransaction", 1, "subtractFeeFromOutputs"),
    j("fundrawtransaction", 1, "input_weights"),
    j("fundrawtransaction", 1, "conf_target"),
    j("fundrawtransaction", 1, "replaceable"),
    j("fundrawtransaction", 1, "solving_data"),
    j("fundrawtransaction", 1, "max_tx_weight"),
    j("fundrawtransaction", 2, "iswitness"),
    j("walletcreatefundedpsbt", 0, "inputs"),
    j("walletcreatefundedpsbt", 1, "outputs"),
    j("walletcreatefundedpsbt", 2, "locktime"),
    j("walletcreatefundedpsbt", 3, "options"),
    j("walletcreatefundedpsbt", 3, "add_inputs"),
    j("walletcreatefundedpsbt", 3, "include_unsafe"),
    j("walletcreatefundedpsbt", 3, "minconf"),
    j("walletcreatefundedpsbt", 3, "maxconf"),
    j("walletcreatefundedpsbt", 3, "changePosition"),
    j("walletcreatefundedpsbt", 3, "includeWatching"),
    j("walletcreatefundedpsbt", 3, "lockUnspents"),
    j("walletcreatefundedpsbt", 3, "fee_rate"),
    j("walletcreatefundedpsbt", 3, "feeRate"),
    j("walletcreatefundedpsbt", 3, "subtractFeeFromOutputs"),
    j("walletcreatefundedpsbt", 3, "conf_target"),
    j("walletcreatefundedpsbt", 3, "replaceable"),
    j("walletcreatefundedpsbt", 3, "solving_data"),
    j("walletcreatefundedpsbt", 3, "max_tx_weight"),
    j("walletcreatefundedpsbt", 4, "bip32derivs"),
    j("walletcreatefundedpsbt", 5, "version"),
    t("walletprocesspsbt", 0, "psbt"),
    j("walletprocesspsbt", 1, "sign"),
    t("walletprocesspsbt", 2, "sighashtype"),
    j("walletprocesspsbt", 3, "bip32derivs"),
    j("walletprocesspsbt", 4, "finalize"),
    t("descriptorprocesspsbt", 0, "psbt"),
    j("descriptorprocesspsbt", 1, "descriptors"),
    t("descriptorprocesspsbt", 2, "sighashtype"),
    j("descriptorprocesspsbt", 3, "bip32derivs"),
    j("descriptorprocesspsbt", 4, "finalize"),
    j("createpsbt", 0, "inputs"),
    j("createpsbt", 1, "outputs"),
    j("createpsbt", 2, "locktime"),
    j("createpsbt", 3, "replaceable"),
    j("createpsbt", 4, "version"),
    j("combinepsbt", 0, "txs"),
    j("joinpsbts", 0, "txs"),
    t("finalizepsbt", 0, "psbt"),
    j("finalizepsbt", 1, "extract"),
    j("converttopsbt", 1, "permitsigdata"),
    j("converttopsbt", 2, "iswitness"),
    j("gettxout", 1, "n"),
    j("gettxout", 2, "include_mempool"),
    j("gettxoutproof", 0, "txids"),
    js("gettxoutsetinfo", 1, "hash_or_height"),
    j("gettxoutsetinfo", 2, "use_index"),
    t("dumptxoutset", 0, "path"),
    t("dumptxoutset", 1, "type"),
    j("dumptxoutset", 2, "options"),
    js("dumptxoutset", 2, "rollback"),
    j("lockunspent", 0, "unlock"),
    j("lockunspent", 1, "transactions"),
    j("lockunspent", 2, "persistent"),
    j("send", 0, "outputs"),
    j("send", 1, "conf_target"),
    j("send", 3, "fee_rate"),
    j("send", 4, "options"),
    j("send", 4, "add_inputs"),
    j("send", 4, "include_unsafe"),
    j("send", 4, "minconf"),
    j("send", 4, "maxconf"),
    j("send", 4, "add_to_wallet"),
    j("send", 4, "change_position"),
    j("send", 4, "fee_rate"),
    j("send", 4, "include_watching"),
    j("send", 4, "inputs"),
    j("send", 4, "locktime"),
    j("send", 4, "lock_unspents"),
    j("send", 4, "psbt"),
    j("send", 4, "subtract_fee_from_outputs"),
    j("send", 4, "conf_target"),
    j("send", 4, "replaceable"),
    j("send", 4, "solving_data"),
    j("send", 4, "max_tx_weight"),
    j("send", 5, "version"),
    j("sendall", 0, "recipients"),
    j("sendall", 1, "conf_target"),
    j("sendall", 3, "fee_rate"),
    j("sendall", 4, "options"),
    j("sendall", 4, "add_to_wallet"),
    j("sendall", 4, "fee_rate"),
    j("sendall", 4, "include_watching"),
    j("sendall", 4, "inputs"),
    j("sendall", 4, "locktime"),
    j("sendall", 4, "lock_unspents"),
    j("sendall", 4, "psbt"),
    j("sendall", 4, "send_max"),
    j("sendall", 4, "minconf"),
    j("sendall", 4, "maxconf"),
    j("sendall", 4, "conf_target"),
    j("sendall", 4, "replaceable"),
    j("sendall", 4, "solving_data"),
    j("sendall", 4, "version"),
    j("simulaterawtransaction", 0, "rawtxs"),
    j("simulaterawtransaction", 1, "options"),
    j("simulaterawtransaction", 1, "include_watchonly"),
    t("importmempool", 0, "filepath"),
    j("importmempool", 1, "options"),
    j("importmempool", 1, "apply_fee_delta_priority"),
    j("importmempool", 1, "use_current_time"),
    j("importmempool", 1, "apply_unbroadcast_set"),
    j("importdescriptors", 0, "requests"),
    j("listdescriptors", 0, "private"),
    j("verifychain", 0, "checklevel"),
    j("verifychain", 1, "nblocks"),
    js("getblockstats", 0, "hash_or_height"),
    j("getblockstats", 1, "stats"),
    j("pruneblockchain", 0, "height"),
    j("keypoolrefill", 0, "newsize"),
    j("getrawmempool", 0, "verbose"),
    j("getrawmempool", 1, "mempool_sequence"),
    j("getorphantxs", 0, "verbosity"),
    j("estimatesmartfee", 0, "conf_target"),
    j("estimaterawfee", 0, "conf_target"),
    j("estimaterawfee", 1, "threshold"),
    j("prioritisetransaction", 1, "dummy"),
    j("prioritisetransaction", 2, "fee_delta"),
    j("setban", 2, "bantime"),
    j("setban", 3, "absolute"),
    j("setnetworkactive", 0, "state"),
    j("setwalletflag", 1, "value"),
    j("getmempoolancestors", 1, "verbose"),
    j("getmempooldescendants", 1, "verbose"),
    j("gettxspendingprevout", 0, "outputs"),
    j("bumpfee", 1, "options"),
    j("bumpfee", 1, "conf_target"),
    j("bumpfee", 1, "fee_rate"),
    j("bumpfee", 1, "replaceable"),
    j("bumpfee", 1, "outputs"),
    j("bumpfee", 1, "original_change_index"),
    j("psbtbumpfee", 1, "options"),
    j("psbtbumpfee", 1, "conf_target"),
    j("psbtbumpfee", 1, "fee_rate"),
    j("psbtbumpfee", 1, "replaceable"),
    j("psbtbumpfee", 1, "outputs"),
    j("psbtbumpfee", 1, "original_change_index"),
    j("logging", 0, "include"),
    j("logging", 1, "exclude"),
    j("disconnectnode", 1, "nodeid"),
    j("gethdkeys", 0, "active_only"),
    j("gethdkeys", 0, "options"),
    j("gethdkeys", 0, "private"),
    j("createwalletdescriptor", 1, "options"),
    j("createwalletdescriptor", 1, "internal"),
    // the test-only echo with conversion
    j("echojson", 0, "arg0"),
    j("echojson", 1, "arg1"),
    j("echojson", 2, "arg2"),
    j("echojson", 3, "arg3"),
    j("echojson", 4, "arg4"),
    j("echojson", 5, "arg5"),
    j("echojson", 6, "arg6"),
    j("echojson", 7, "arg7"),
    j("echojson", 8, "arg8"),
    j("echojson", 9, "arg9"),
    j("rescanblockchain", 0, "start_height"),
    j("rescanblockchain", 1, "stop_height"),
    t("createwallet", 0, "wallet_name"),
    j("createwallet", 1, "disable_private_keys"),
    j("createwallet", 2, "blank"),
    t("createwallet", 3, "passphrase"),
    j("createwallet", 4, "avoid_reuse"),
    j("createwallet", 5, "descriptors"),
    j("createwallet", 6, "load_on_startup"),
    j("createwallet", 7, "external_signer"),
    t("restorewallet", 0, "wallet_name"),
    t("restorewallet", 1, "backup_file"),
    j("restorewallet", 2, "load_on_startup"),
    t("loadwallet", 0, "filename"),
    j("loadwallet", 1, "load_on_startup"),
    t("unloadwallet", 0, "wallet_name"),
    j("unloadwallet", 1, "load_on_startup"),
    j("getnodeaddresses", 0, "count"),
    j("addpeeraddress", 1, "port"),
    j("addpeeraddress", 2, "tried"),
    j("sendmsgtopeer", 0, "peer_id"),
    j("stop", 0, "wait"),
    j("addnode", 2, "v2transport"),
    j("addconnection", 2, "v2transport"),
    t("decodepsbt", 0, "psbt"),
    t("analyzepsbt", 0, "psbt"),
    t("verifymessage", 1, "signature"),
    t("verifymessage", 2, "message"),
    t("getnewaddress", 0, "label"),
    t("getnewaddress", 1, "address_type"),
    t("backupwallet", 0, "destination"),
    t("echoipc", 0, "arg"),
    t("encryptwallet", 0, "passphrase"),
    t("getaddressesbylabel", 0, "label"),
    t("loadtxoutset", 0, "path"),
    t("migratewallet", 0, "wallet_name"),
    t("migratewallet", 1, "passphrase"),
    t("setlabel", 1, "label"),
    t("signmessage", 1, "message"),
    t("signmessagewithprivkey", 1, "message"),
    t("walletpassphrasechange", 0, "oldpassphrase"),
    t("walletpassphrasechange", 1, "newpassphrase"),
    // ferronode's own hidden test command (not in Core)
    j("sleep", 0, "milliseconds"),
];

/// A conversion error, printed as `error: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Error parsing JSON: {0}")]
pub struct ParseError(pub String);

fn by_position(method: &str, index: usize) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.method == method && p.index == index)
}

fn by_name(method: &str, name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| p.method == method && p.name == name)
}

fn parse_json(word: &str) -> Option<Value> {
    serde_json::from_str(word).ok()
}

fn convert(param: Option<&Param>, word: &str) -> Result<Value, ParseError> {
    match param.map(|p| p.format) {
        Some(Format::Json) => parse_json(word).ok_or_else(|| ParseError(word.to_owned())),
        Some(Format::JsonOrString) => Ok(parse_json(word).unwrap_or_else(|| Value::String(word.to_owned()))),
        Some(Format::Text) | None => Ok(Value::String(word.to_owned())),
    }
}

/// Positional parameters: a JSON array.
///
/// # Errors
/// A word for a JSON parameter that is not valid JSON.
pub fn positional(method: &str, words: &[String]) -> Result<Value, ParseError> {
    let mut params = Vec::with_capacity(words.len());
    for word in words {
        params.push(convert(by_position(method, params.len()), word)?);
    }
    Ok(Value::Array(params))
}

/// Named parameters (`-named`): the members of a JSON object in order. A
/// later `name=` replaces an earlier one in place; words without a name go
/// into a final `args` member, added even if `args=` was also given (the
/// server then decides), so the result may hold `args` twice and is not a
/// `serde_json::Map`.
///
/// # Errors
/// A word for a JSON parameter that is not valid JSON.
pub fn named(method: &str, words: &[String]) -> Result<Vec<(String, Value)>, ParseError> {
    let mut members: Vec<(String, Value)> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    for word in words {
        let Some((name, value)) = word.split_once('=') else {
            args.push(convert(by_position(method, args.len()), word)?);
            continue;
        };
        let param = by_name(method, name);
        if param.is_none() {
            // An unknown name may really be a positional word containing '='.
            match by_position(method, args.len()).map(|p| p.format) {
                Some(Format::Json) => {
                    if let Some(v) = parse_json(word) {
                        args.push(v);
                        continue;
                    }
                }
                Some(Format::Text) => {
                    args.push(Value::String(word.clone()));
                    continue;
                }
                Some(Format::JsonOrString) | None => {}
            }
        }
        let value = convert(param, value)?;
        match members.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => members.push((name.to_owned(), value)),
        }
    }
    if !args.is_empty() {
        members.push(("args".to_owned(), Value::Array(args)));
    }
    Ok(members)
}

/// The compact JSON text of an object given as members (keys may repeat).
#[must_use]
pub fn object_text(members: &[(String, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn w(words: &[&str]) -> Vec<String> {
        words.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn positional_conversion() {
        assert_eq!(positional("getblockhash", &w(&["5"])).unwrap(), json!([5]));
        assert_eq!(positional("getblock", &w(&["00ab", "2"])).unwrap(), json!(["00ab", 2]));
        assert_eq!(positional("echo", &w(&["5", "true"])).unwrap(), json!(["5", "true"]));
        assert_eq!(
            positional("testmempoolaccept", &w(&["[\"aa\"]", "0.1"])).unwrap(),
            serde_json::from_str::<Value>(r#"[["aa"],0.1]"#).unwrap()
        );
        assert_eq!(positional("getblockhash", &w(&["x"])).unwrap_err().to_string(), "Error parsing JSON: x");
        assert_eq!(positional("gettxoutsetinfo", &w(&["none", "abc"])).unwrap(), json!(["none", "abc"]));
        assert_eq!(positional("gettxoutsetinfo", &w(&["none", "7"])).unwrap(), json!(["none", 7]));
    }

    #[test]
    fn named_conversion() {
        let m = named("getblock", &w(&["blockhash=00", "verbosity=0", "verbosity=1"])).unwrap();
        assert_eq!(object_text(&m), r#"{"blockhash":"00","verbosity":1}"#);
        let m = named("generatetoaddress", &w(&["1", "address=bcrt1x", "2"])).unwrap();
        // positions count the unnamed words only, as in Core: the second is
        // position 1 (`address`, a string)
        assert_eq!(object_text(&m), r#"{"address":"bcrt1x","args":[1,"2"]}"#);
        let m = named("echo", &w(&["args=[1]", "x"])).unwrap();
        assert_eq!(object_text(&m), r#"{"args":"[1]","args":["x"]}"#);
        // an unknown name before a text parameter is a positional word
        let m = named("createwallet", &w(&["my=wallet"])).unwrap();
        assert_eq!(object_text(&m), r#"{"args":["my=wallet"]}"#);
        assert!(named("getblockhash", &w(&["height=x"])).is_err());
    }
}
