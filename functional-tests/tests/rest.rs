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
        &format!("/rest/headers/{genesis}.json?count=+2"),
        400,
        "Header count is invalid or out of acceptable range (1-2000): +2",
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

fn head(node: &TestNode, path: &str, headers: &[(&str, &str)]) -> HttpResponse {
    let mut conn = node.connect();
    conn.send("HEAD", path, headers, b"").unwrap();
    conn.read_head_response().unwrap()
}

#[test]
fn blockpart_head_and_conditional_requests() {
    let mut node = TestNode::start_new(&["-rest"]);
    let h1 = node.rpc("generatetoaddress", json!([2, ADDRESS]))[0].as_str().unwrap().to_owned();
    let block = hex_decode(node.rpc("getblock", json!([h1, 0])).as_str().unwrap());
    let len = block.len();

    // blockpart: byte ranges of the stored block, bin and hex
    let r = get(&node, &format!("/rest/blockpart/{h1}.bin?offset=0&size=80"));
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/octet-stream")));
    assert_eq!(r.body, block[..80]);
    let r = get(&node, &format!("/rest/blockpart/{h1}.hex?size=3&offset=80"));
    assert_eq!((r.header("content-type"), r.text()), (Some("text/plain"), format!("{}\n", hex(&block[80..83]))));
    let last = get(&node, &format!("/rest/blockpart/{h1}.bin?offset={}&size=1", len - 1));
    assert_eq!(last.body, block[len - 1..]);
    assert_eq!(get(&node, &format!("/rest/blockpart/{h1}.bin?offset=0&size={len}")).body, block);
    // Core's errors, in Core's order (offset, size, hash, block, range, format)
    for (query, text) in [
        ("size=1", "Block part offset missing or invalid"),
        ("offset=x&size=1", "Block part offset missing or invalid"),
        ("offset=-1&size=1", "Block part offset missing or invalid"),
        ("offset=+1&size=1", "Block part offset missing or invalid"),
        ("offset=", "Block part offset missing or invalid"),
        ("offset=1", "Block part size missing or invalid"),
        ("offset=1&size=1e3", "Block part size missing or invalid"),
    ] {
        assert_error(&node, &format!("/rest/blockpart/{h1}.bin?{query}"), 400, text);
    }
    let bad = |offset: usize, size: usize| format!("Bad block part offset/size {offset}/{size} for {h1}");
    assert_error(&node, &format!("/rest/blockpart/{h1}.bin?offset={len}&size=1"), 400, &bad(len, 1));
    assert_error(&node, &format!("/rest/blockpart/{h1}.hex?offset=0&size={}", len + 1), 400, &bad(0, len + 1));
    assert_error(&node, &format!("/rest/blockpart/{h1}.bin?offset=0&size=0"), 400, &bad(0, 0));
    assert_error(
        &node,
        &format!("/rest/blockpart/{h1}.bin?offset=18446744073709551615&size=2"),
        400,
        &format!("Bad block part offset/size 18446744073709551615/2 for {h1}"),
    );
    assert_error(
        &node,
        &format!("/rest/blockpart/{h1}.json?offset=0&size=1"),
        400,
        "JSON output is not supported for this request type",
    );
    assert_error(
        &node,
        &format!("/rest/blockpart/{h1}?offset=0&size=1"),
        404,
        "output format not found (available: .bin, .hex, .json)",
    );
    let zeros = "0".repeat(64);
    assert_error(&node, &format!("/rest/blockpart/{zeros}.bin?offset=0&size=1"), 404, &format!("{zeros} not found"));
    assert_error(&node, "/rest/blockpart/xyz.bin?offset=0&size=1", 400, "Invalid hash: xyz");

    // HEAD: the headers a GET gets, no body (the connection stays usable)
    let mut conn = node.connect();
    conn.send("HEAD", &format!("/rest/block/{h1}.bin"), &[], b"").unwrap();
    let r = conn.read_head_response().unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some(len.to_string().as_str()));
    assert_eq!(r.header("etag"), Some(format!("\"{h1}.bin\"").as_str()));
    let next = conn.request("GET", &format!("/rest/blockpart/{h1}.bin?offset=0&size=4"), &[], b"").unwrap();
    assert_eq!(next.body, block[..4], "nothing of a body was sent after the HEAD reply");
    assert_eq!(head(&node, &format!("/rest/block/{zeros}.bin"), &[]).status, 404);

    // If-None-Match with the block's ETag: 304, no body, the validators repeated
    let tag = format!("\"{h1}.bin\"");
    for value in [tag.clone(), format!("W/{tag}"), format!("\"other\", {tag}"), "*".to_owned()] {
        let r =
            node.connect().request("GET", &format!("/rest/block/{h1}.bin"), &[("If-None-Match", &value)], b"").unwrap();
        assert_eq!(r.status, 304, "{value}");
        assert!(r.body.is_empty());
        assert_eq!(r.header("etag"), Some(tag.as_str()));
        assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"));
        assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    }
    let hex_tag = format!("\"{h1}.hex\"");
    let r =
        node.connect().request("GET", &format!("/rest/block/{h1}.hex"), &[("If-None-Match", &hex_tag)], b"").unwrap();
    assert_eq!(r.status, 304);
    // another tag, or the other format's tag: the full reply
    let r =
        node.connect().request("GET", &format!("/rest/block/{h1}.bin"), &[("If-None-Match", &hex_tag)], b"").unwrap();
    assert_eq!((r.status, r.body.len()), (200, len));
    // a tag naming a block the node does not have: still Core's 404
    let r = node
        .connect()
        .request("GET", &format!("/rest/block/{zeros}.bin"), &[("If-None-Match", &format!("\"{zeros}.bin\""))], b"")
        .unwrap();
    assert_eq!(r.status, 404);
    // JSON has no validator and is always sent
    let r = node.connect().request("GET", &format!("/rest/block/{h1}.json"), &[("If-None-Match", "*")], b"").unwrap();
    assert_eq!(r.status, 200);
    node.stop_node();
}

/// dSHA256(dSHA256(filter) || previous header), in internal byte order.
fn filter_header(filter: &[u8], prev: &[u8; 32]) -> [u8; 32] {
    use bitcoin::hashes::{sha256d, Hash};
    let mut data = sha256d::Hash::hash(filter).to_byte_array().to_vec();
    data.extend_from_slice(prev);
    sha256d::Hash::hash(&data).to_byte_array()
}

fn display_hex(internal: &[u8; 32]) -> String {
    let mut v = internal.to_vec();
    v.reverse();
    hex(&v)
}

#[test]
fn block_filters() {
    use bitcoin::bip158::BlockFilter;
    use bitcoin::consensus::encode::{deserialize, serialize_hex};
    use bitcoin::{Amount, Block, OutPoint, ScriptBuf, TxOut};
    use ferronode_functional_tests::op_true;

    // blocks made before the index is switched on
    let mut node = TestNode::start_new(&["-rest"]);
    let addr = op_true::address();
    let hashes = node.rpc("generatetoaddress", json!([101, addr.to_string()]));
    let cb = node.rpc("getblock", json!([hashes[0], 1]))["tx"][0].as_str().unwrap().parse().unwrap();
    let spend = op_true::spend(
        OutPoint { txid: cb, vout: 0 },
        vec![TxOut { value: Amount::from_sat(49 * 100_000_000), script_pubkey: ScriptBuf::new_op_return([1u8; 4]) }],
    );
    let spent_in = node.rpc("generateblock", json!([ADDRESS, [serialize_hex(&spend)]]))["hash"].clone();
    let spent_in = spent_in.as_str().unwrap().to_owned();
    let genesis = node.rpc("getblockhash", json!([0])).as_str().unwrap().to_owned();

    // index off: Core's errors
    assert_error(
        &node,
        &format!("/rest/blockfilter/basic/{genesis}.json"),
        400,
        "Index is not enabled for filtertype basic",
    );
    assert_error(
        &node,
        &format!("/rest/blockfilterheaders/basic/{genesis}.json"),
        400,
        "Index is not enabled for filtertype basic",
    );
    let e = node.try_rpc("getblockfilter", json!([genesis])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-1, "Index is not enabled for filtertype basic"));
    assert_eq!(node.rpc("getindexinfo", json!([])), json!({}));
    node.stop_node();
    node.assert_start_raises_init_error(
        &["-blockfilterindex=extended"],
        "Error: Unknown -blockfilterindex value extended.",
    );

    // switched on: built for the existing blocks at start
    node.start(&["-rest", "-blockfilterindex"]);
    node.wait_for_rpc_connection();
    assert!(node.net_dir().join("indexes/blockfilter/basic").is_dir());
    assert_eq!(
        node.rpc("getindexinfo", json!([])),
        json!({"basic block filter index": {"synced": true, "best_block_height": 102}})
    );
    let tip_height = 102u64;
    let mut prev = [0u8; 32];
    for height in 0..=tip_height {
        let hash = node.rpc("getblockhash", json!([height])).as_str().unwrap().to_owned();
        let got = node.rpc("getblockfilter", json!([hash, "basic"]));
        let filter = hex_decode(got["filter"].as_str().unwrap());
        // the header chain: header = dSHA256(filter hash || previous header)
        prev = filter_header(&filter, &prev);
        assert_eq!(got["header"].as_str().unwrap(), display_hex(&prev), "height {height}");
        // the filter, computed independently from the RPC's view of the block
        let block: Block = deserialize(&hex_decode(node.rpc("getblock", json!([hash, 0])).as_str().unwrap())).unwrap();
        let verbose = node.rpc("getblock", json!([hash, 3]));
        let mut spent = std::collections::HashMap::new();
        for (tx, vtx) in block.txdata.iter().zip(verbose["tx"].as_array().unwrap()).skip(1) {
            for (input, vin) in tx.input.iter().zip(vtx["vin"].as_array().unwrap()) {
                let spk = hex_decode(vin["prevout"]["scriptPubKey"]["hex"].as_str().unwrap());
                spent.insert(input.previous_output, ScriptBuf::from_bytes(spk));
            }
        }
        let want = BlockFilter::new_script_filter(&block, |op| {
            spent.get(op).cloned().ok_or(bitcoin::bip158::Error::UtxoMissing(*op))
        })
        .unwrap();
        assert_eq!(filter, want.content, "height {height}");
    }
    // the block with the spend matches the spent script, not the OP_RETURN
    let got = node.rpc("getblockfilter", json!([spent_in]));
    let filter = BlockFilter::new(&hex_decode(got["filter"].as_str().unwrap()));
    let block_hash: bitcoin::BlockHash = spent_in.parse().unwrap();
    assert!(filter.match_any(&block_hash, [addr.script_pubkey().as_bytes()].into_iter()).unwrap());
    assert!(!filter.match_any(&block_hash, [spend.output[0].script_pubkey.as_bytes()].into_iter()).unwrap());

    // REST: blockfilter in the three formats
    let got = node.rpc("getblockfilter", json!([spent_in]));
    let fhex = got["filter"].as_str().unwrap();
    assert_eq!(json_of(&get(&node, &format!("/rest/blockfilter/basic/{spent_in}.json"))), json!({"filter": fhex}));
    let mut want = vec![0u8];
    let mut internal = hex_decode(&spent_in);
    internal.reverse();
    want.extend_from_slice(&internal);
    let fbytes = hex_decode(fhex);
    want.push(u8::try_from(fbytes.len()).unwrap());
    want.extend_from_slice(&fbytes);
    let r = get(&node, &format!("/rest/blockfilter/basic/{spent_in}.bin"));
    assert_eq!((r.header("content-type"), &r.body), (Some("application/octet-stream"), &want));
    assert_eq!(get(&node, &format!("/rest/blockfilter/basic/{spent_in}.hex")).text(), format!("{}\n", hex(&want)));
    let zeros = "0".repeat(64);
    assert_error(&node, &format!("/rest/blockfilter/basic/{zeros}.json"), 404, &format!("{zeros} not found"));
    assert_error(&node, &format!("/rest/blockfilter/extended/{genesis}.json"), 400, "Unknown filtertype extended");
    assert_error(&node, "/rest/blockfilter/basic/xyz.json", 400, "Invalid hash: xyz");
    assert_error(
        &node,
        &format!("/rest/blockfilter/{genesis}.json"),
        400,
        "Invalid URI format. Expected /rest/blockfilter/<filtertype>/<blockhash>",
    );
    assert_error(
        &node,
        &format!("/rest/blockfilter/basic/{genesis}"),
        404,
        "output format not found (available: .bin, .hex, .json)",
    );

    // REST: blockfilterheaders, both URI forms, count rules
    let headers: Vec<Value> = (0..3)
        .map(|h| {
            let hash = node.rpc("getblockhash", json!([h]));
            node.rpc("getblockfilter", json!([hash]))["header"].clone()
        })
        .collect();
    assert_eq!(json_of(&get(&node, &format!("/rest/blockfilterheaders/basic/{genesis}.json?count=3"))), json!(headers));
    assert_eq!(json_of(&get(&node, &format!("/rest/blockfilterheaders/basic/3/{genesis}.json"))), json!(headers));
    let bin = get(&node, &format!("/rest/blockfilterheaders/basic/{genesis}.bin?count=3")).body;
    let want: Vec<u8> = headers
        .iter()
        .flat_map(|h| {
            let mut v = hex_decode(h.as_str().unwrap());
            v.reverse();
            v
        })
        .collect();
    assert_eq!(bin, want);
    assert_eq!(
        get(&node, &format!("/rest/blockfilterheaders/basic/{genesis}.hex?count=3")).text(),
        format!("{}\n", hex(&want))
    );
    let tip = node.rpc("getbestblockhash", json!([])).as_str().unwrap().to_owned();
    assert_eq!(get(&node, &format!("/rest/blockfilterheaders/basic/{tip}.bin")).body.len(), 32, "default 5, 1 left");
    assert_eq!(json_of(&get(&node, &format!("/rest/blockfilterheaders/basic/{zeros}.json"))), json!([]));
    assert_error(
        &node,
        &format!("/rest/blockfilterheaders/basic/{genesis}.json?count=0"),
        400,
        "Header count is invalid or out of acceptable range (1-2000): 0",
    );
    assert_error(
        &node,
        &format!("/rest/blockfilterheaders/basic/2001/{genesis}.json"),
        400,
        "Header count is invalid or out of acceptable range (1-2000): 2001",
    );
    assert_error(
        &node,
        &format!("/rest/blockfilterheaders/{genesis}.json"),
        400,
        "Invalid URI format. Expected /rest/blockfilterheaders/<filtertype>/<blockhash>.<ext>?count=<count>",
    );
    assert_error(
        &node,
        &format!("/rest/blockfilterheaders/extended/{genesis}.json"),
        400,
        "Unknown filtertype extended",
    );
    assert_error(&node, "/rest/blockfilterheaders/basic/xyz.json", 400, "Invalid hash: xyz");

    // RPC errors
    let e = node.try_rpc("getblockfilter", json!([zeros])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-5, "Block not found"));
    let e = node.try_rpc("getblockfilter", json!([genesis, "extended"])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-5, "Unknown filtertype"));

    // a reorg: the new branch's blocks get filters chained on the fork point
    let fork_header = node.rpc("getblockfilter", json!([hashes[100]]))["header"].clone();
    node.rpc("invalidateblock", json!([spent_in]));
    // the spend is back in the mempool: mined to the same address in the
    // same second, the first block would be the invalidated one again (and
    // to `addr`, the second one would be the `side` block made below)
    let other = node.rpc("generatetoaddress", json!([2, "bcrt1qjqmxmkpmxt80xz4y3746zgt0q3u3ferr34acd5"]));
    let mut prev = hex_decode(fork_header.as_str().unwrap());
    prev.reverse();
    let mut prev: [u8; 32] = prev.try_into().unwrap();
    for hash in other.as_array().unwrap() {
        let got = node.rpc("getblockfilter", json!([hash]));
        prev = filter_header(&hex_decode(got["filter"].as_str().unwrap()), &prev);
        assert_eq!(got["header"].as_str().unwrap(), display_hex(&prev));
    }
    let from_fork =
        json_of(&get(&node, &format!("/rest/blockfilterheaders/basic/{}.json", hashes[100].as_str().unwrap())));
    assert_eq!(from_fork[1], node.rpc("getblockfilter", json!([other[0]]))["header"]);
    // the disconnected block keeps its filter (it depends only on the block
    // and its ancestors), as in Core
    assert_eq!(node.rpc("getblockfilter", json!([spent_in]))["filter"].as_str(), Some(fhex));
    // a block stored on a side branch but never connected has no filter
    let tip = node.rpc("getbestblockhash", json!([]));
    node.rpc("invalidateblock", json!([tip]));
    let side = node.rpc("generateblock", json!([addr.to_string(), [], false]));
    node.rpc("reconsiderblock", json!([tip]));
    assert_eq!(node.rpc("submitblock", json!([side["hex"]])), json!("inconclusive"));
    let side = side["hash"].as_str().unwrap();
    let e = node.try_rpc("getblockfilter", json!([side])).unwrap().unwrap_err();
    assert_eq!((e.code, e.message.as_str()), (-1, "Filter not found. Block was not connected to active chain."));
    assert_error(
        &node,
        &format!("/rest/blockfilter/basic/{side}.bin"),
        404,
        "Filter not found. Block was not connected to active chain.",
    );
    // and the index survives a restart
    node.stop_node();
    node.start(&["-rest", "-blockfilterindex=basic"]);
    node.wait_for_rpc_connection();
    assert_eq!(node.rpc("getblockfilter", json!([other[1]]))["header"].as_str().unwrap(), display_hex(&prev));
    node.stop_node();
}
