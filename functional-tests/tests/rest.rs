//! The REST interface (`-rest`): formats, content types, Core's error
//! texts, JSON identical to the matching RPC, and no authentication.

#![allow(clippy::unwrap_used)]

use ferronode_functional_tests::{HttpResponse, TestNode};
use serde_json::{json, Value};

const ADDRESS: &str = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z";

fn get(node: &TestNode, path: &str) -> HttpResponse {
    node.connect().request("GET", path, &[], b"").unwrap()
}

fn assert_error(node: &TestNode, path: &str, status: u16, text: &str) {
    let r = get(node, path);
    assert_eq!((r.status, r.text()), (status, format!("{text}\r\n")), "{path}");
    assert_eq!(r.header("content-type"), Some("text/plain"), "{path}");
}

fn json_of(r: &HttpResponse) -> Value {
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.text().ends_with('\n'));
    r.json()
}

#[test]
fn rest_endpoints() {
    let mut node = TestNode::start_new(&["-rest"]);
    let hashes = node.rpc("generatetoaddress", json!([3, ADDRESS]));
    let h1 = hashes[0].as_str().unwrap().to_owned();
    let block_hex = node.rpc("getblock", json!([h1, 0])).as_str().unwrap().to_owned();

    // block: bin, hex, json (= getblock 3), notxdetails (= getblock 1)
    let bin = get(&node, &format!("/rest/block/{h1}.bin"));
    assert_eq!(bin.header("content-type"), Some("application/octet-stream"));
    assert_eq!(hex(&bin.body), block_hex);
    // block bytes never change: cacheable for good, with a validator
    assert_eq!(bin.header("cache-control"), Some("public, max-age=31536000, immutable"));
    assert_eq!(bin.header("etag"), Some(format!("\"{h1}.bin\"").as_str()));
    let hx = get(&node, &format!("/rest/block/{h1}.hex"));
    assert_eq!(hx.header("etag"), Some(format!("\"{h1}.hex\"").as_str()));
    assert_eq!((hx.header("content-type"), hx.text()), (Some("text/plain"), format!("{block_hex}\n")));
    let js = get(&node, &format!("/rest/block/{h1}.json"));
    assert_eq!(js.header("cache-control"), None, "JSON carries confirmations, which change");
    assert_eq!(json_of(&js), node.rpc("getblock", json!([h1, 3])));
    assert_eq!(
        json_of(&get(&node, &format!("/rest/block/notxdetails/{h1}.json"))),
        node.rpc("getblock", json!([h1, 1]))
    );
    let zeros = "0".repeat(64);
    assert_error(&node, &format!("/rest/block/{zeros}.bin"), 404, &format!("{zeros} not found"));
    assert_error(&node, "/rest/block/xyz.bin", 400, "Invalid hash: xyz");
    assert_error(&node, &format!("/rest/block/{h1}.txt"), 400, &format!("Invalid hash: {h1}.txt"));
    // a valid hash without a known extension: looked up, then the format fails
    assert_error(&node, &format!("/rest/block/{h1}"), 404, "output format not found (available: .bin, .hex, .json)");

    // tx with -txindex off: the coinbase is not found (not in the mempool)
    let cb = node.rpc("getblock", json!([h1, 1]))["tx"][0].as_str().unwrap().to_owned();
    assert_error(&node, &format!("/rest/tx/{cb}.json"), 404, &format!("{cb} not found"));

    // blockhashbyheight
    let r = get(&node, "/rest/blockhashbyheight/1.json");
    assert_eq!(json_of(&r), json!({ "blockhash": h1 }));
    assert_eq!(get(&node, "/rest/blockhashbyheight/1.hex").text(), format!("{h1}\n"));
    let mut internal = hex_decode(&h1);
    internal.reverse();
    assert_eq!(get(&node, "/rest/blockhashbyheight/1.bin").body, internal);
    assert_error(&node, "/rest/blockhashbyheight/9.json", 404, "Block height out of range");
    assert_error(&node, "/rest/blockhashbyheight/-1.json", 400, "Invalid height: -1");
    assert_error(&node, "/rest/blockhashbyheight/1.txt", 400, "Invalid height: 1.txt");

    // headers, both URI forms, count rules
    let genesis = node.rpc("getblockhash", json!([0])).as_str().unwrap().to_owned();
    let hs = json_of(&get(&node, &format!("/rest/headers/{genesis}.json?count=2")));
    assert_eq!(hs, json!([node.rpc("getblockheader", json!([genesis])), node.rpc("getblockheader", json!([h1]))]));
    assert_eq!(get(&node, &format!("/rest/headers/{genesis}.bin")).body.len(), 4 * 80, "default 5, 4 exist");
    assert_eq!(get(&node, &format!("/rest/headers/2/{genesis}.bin")).body.len(), 160);
    assert_eq!(json_of(&get(&node, &format!("/rest/headers/{zeros}.json"))), json!([]));
    assert_error(
        &node,
        &format!("/rest/headers/{genesis}.json?count=2001"),
        400,
        "Header count is invalid or out of acceptable range (1-2000): 2001",
    );
    assert_error(
        &node,
        "/rest/headers/a/b/c.json",
        400,
        "Invalid URI format. Expected /rest/headers/<hash>.<ext>?count=<count>",
    );

    // deploymentinfo at the tip and at a block
    assert_eq!(json_of(&get(&node, "/rest/deploymentinfo.json")), node.rpc("getdeploymentinfo", json!([])));
    assert_eq!(
        json_of(&get(&node, &format!("/rest/deploymentinfo/{h1}.json"))),
        node.rpc("getdeploymentinfo", json!([h1]))
    );
    assert_error(&node, &format!("/rest/deploymentinfo/{zeros}.json"), 400, "Block not found");
    assert_error(&node, "/rest/deploymentinfo/xyz.json", 400, "Invalid hash: xyz");
    assert_error(&node, "/rest/deploymentinfo.bin", 404, "output format not found (available: json)");

    // getutxos: URI form in json and bin, the BIP64 body form, errors
    let r = json_of(&get(&node, &format!("/rest/getutxos/{cb}-0/{cb}-5.json")));
    let coin = node.rpc("gettxout", json!([cb, 0]));
    assert_eq!(
        r,
        json!({"chainHeight": 3, "chaintipHash": hashes[2], "bitmap": "10",
               "utxos": [{"height": 1, "value": coin["value"], "scriptPubKey": coin["scriptPubKey"]}]})
    );
    let bin = get(&node, &format!("/rest/getutxos/checkmempool/{cb}-0/{cb}-5.bin")).body;
    let mut tip = hex_decode(hashes[2].as_str().unwrap());
    tip.reverse();
    assert_eq!(bin[..4], 3i32.to_le_bytes());
    assert_eq!(bin[4..36], tip[..]);
    assert_eq!(bin[36..39], [1, 0b01, 1], "bitmap of one byte, then one coin");
    assert_eq!(bin[39..47], [0, 0, 0, 0, 1, 0, 0, 0], "dummy version, height 1");
    assert_eq!(bin[47..55], 5_000_000_000u64.to_le_bytes());
    let mut body = vec![0u8, 2];
    let mut txid = hex_decode(&cb);
    txid.reverse();
    for n in [0u32, 5] {
        body.extend_from_slice(&txid);
        body.extend_from_slice(&n.to_le_bytes());
    }
    let posted = node.connect().request("POST", "/rest/getutxos.bin", &[], &body).unwrap();
    assert_eq!(posted.body, bin, "the body form answers as the URI form");
    let posted = node.connect().request("POST", "/rest/getutxos.hex", &[], hex(&body).as_bytes()).unwrap();
    assert_eq!(posted.text(), format!("{}\n", hex(&bin)));
    assert_error(&node, "/rest/getutxos.json", 400, "Error: empty request");
    assert_error(&node, "/rest/getutxos/checkmempool.json", 400, "Error: empty request");
    assert_error(&node, "/rest/getutxos/xyz-0.json", 400, "Parse error");
    assert_error(&node, &format!("/rest/getutxos/{cb}-x.json"), 400, "Parse error");
    let many: Vec<String> = (0..16).map(|n| format!("{cb}-{n}")).collect();
    assert_error(
        &node,
        &format!("/rest/getutxos/{}.json", many.join("/")),
        400,
        "Error: max outpoints exceeded (max: 15, tried: 16)",
    );
    let both = node.connect().request("POST", &format!("/rest/getutxos/{cb}-0.bin"), &[], &body).unwrap();
    assert_eq!(
        (both.status, both.text()),
        (400, "Combination of URI scheme inputs and raw post data is not allowed\r\n".into())
    );
    let bad = node.connect().request("POST", "/rest/getutxos.bin", &[], &[0, 3, 1]).unwrap();
    assert_eq!((bad.status, bad.text()), (400, "Parse error\r\n".into()));

    // chaininfo and the mempool, JSON only
    assert_eq!(json_of(&get(&node, "/rest/chaininfo.json")), node.rpc("getblockchaininfo", json!([])));
    assert_error(&node, "/rest/chaininfo.bin", 404, "output format not found (available: json)");
    assert_eq!(json_of(&get(&node, "/rest/mempool/info.json")), node.rpc("getmempoolinfo", json!([])));
    assert_eq!(json_of(&get(&node, "/rest/mempool/contents.json")), json!({}));
    assert_eq!(
        json_of(&get(&node, "/rest/mempool/contents.json?verbose=false&mempool_sequence=true")),
        node.rpc("getrawmempool", json!([false, true]))
    );
    assert_error(
        &node,
        "/rest/mempool/contents.json?verbose=maybe",
        400,
        "The \"verbose\" query parameter must be either \"true\" or \"false\".",
    );
    assert_error(
        &node,
        "/rest/mempool/contents.json?mempool_sequence=true",
        400,
        "Verbose results cannot contain mempool sequence values. (hint: set \"verbose=false\")",
    );
    assert_error(
        &node,
        "/rest/mempool/other.json",
        400,
        "Invalid URI format. Expected /rest/mempool/<info|contents>.json",
    );
    node.stop_node();

    // with -txindex, confirmed transactions are found
    let mut indexed = TestNode::start_new(&["-rest", "-txindex"]);
    let h = indexed.rpc("generatetoaddress", json!([1, ADDRESS]))[0].clone();
    let cb = indexed.rpc("getblock", json!([h, 1]))["tx"][0].as_str().unwrap().to_owned();
    assert_eq!(
        json_of(&get(&indexed, &format!("/rest/tx/{cb}.json"))),
        indexed.rpc("getrawtransaction", json!([cb, 1]))
    );
    let raw = indexed.rpc("getrawtransaction", json!([cb, 0])).as_str().unwrap().to_owned();
    assert_eq!(hex(&get(&indexed, &format!("/rest/tx/{cb}.bin")).body), raw);
    assert_eq!(get(&indexed, &format!("/rest/tx/{cb}.hex")).text(), format!("{raw}\n"));
    indexed.stop_node();

    // without -rest the endpoints do not exist
    let mut plain = TestNode::start_new(&[]);
    assert_eq!(get(&plain, "/rest/chaininfo.json").status, 404);
    plain.stop_node();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn spenttxouts() {
    use bitcoin::consensus::encode::serialize_hex;
    use bitcoin::{Amount, OutPoint, TxOut};
    use ferronode_functional_tests::op_true;
    let mut node = TestNode::start_new(&["-rest"]);
    let addr = op_true::address();
    let hashes = node.rpc("generatetoaddress", json!([101, addr.to_string()]));
    let cb = node.rpc("getblock", json!([hashes[0], 1]))["tx"][0].as_str().unwrap().parse().unwrap();
    let spend = op_true::spend(
        OutPoint { txid: cb, vout: 0 },
        vec![TxOut { value: Amount::from_sat(49 * 100_000_000), script_pubkey: addr.script_pubkey() }],
    );
    let block = node.rpc("generateblock", json!([addr.to_string(), [serialize_hex(&spend)]]))["hash"].clone();
    let block = block.as_str().unwrap();

    let coin_spk = node.rpc("getblock", json!([hashes[0], 2]))["tx"][0]["vout"][0]["scriptPubKey"].clone();
    let r = json_of(&get(&node, &format!("/rest/spenttxouts/{block}.json")));
    assert_eq!(
        r,
        json!([[], [{"value": node.rpc("getblock", json!([hashes[0], 2]))["tx"][0]["vout"][0]["value"], "scriptPubKey": coin_spk}]])
    );
    let bin = get(&node, &format!("/rest/spenttxouts/{block}.bin")).body;
    let spk = addr.script_pubkey();
    let mut want = vec![2u8, 0, 1];
    want.extend_from_slice(&5_000_000_000u64.to_le_bytes());
    want.push(u8::try_from(spk.len()).unwrap());
    want.extend_from_slice(spk.as_bytes());
    assert_eq!(bin, want);
    assert_eq!(get(&node, &format!("/rest/spenttxouts/{block}.hex")).text(), format!("{}\n", hex(&want)));
    let zeros = "0".repeat(64);
    assert_error(&node, &format!("/rest/spenttxouts/{zeros}.json"), 404, &format!("{zeros} not found"));
    assert_error(&node, "/rest/spenttxouts/xyz.json", 400, "Invalid hash: xyz");
    assert_error(
        &node,
        &format!("/rest/spenttxouts/a/{zeros}.json"),
        400,
        "Invalid URI format. Expected /rest/spenttxouts/<hash>.<ext>",
    );
    node.stop_node();
}
