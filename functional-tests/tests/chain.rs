//! The first slice of the regtest chain: genesis, mining to every address
//! type, the block RPCs, restart and copied datadirs, submitblock, the
//! harness's 199-block cache flow, damaged files at startup, and SIGKILL at
//! random moments while mining.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::{json, Value};

const GENESIS: &str = "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206";
/// Regtest addresses of every type: P2PKH (two fixed keys), P2TR (an
/// OP_TRUE script-path output, like MiniWallet's),
/// P2WPKH, P2SH and P2WSH.
fn addresses() -> Vec<String> {
    use bitcoin::key::{Secp256k1, UntweakedPublicKey};
    use bitcoin::{Address, CompressedPublicKey, Network, PrivateKey, ScriptBuf};
    let secp = Secp256k1::new();
    let key = |byte: u8| {
        let sk = bitcoin::secp256k1::SecretKey::from_slice(&[byte; 32]).unwrap();
        CompressedPublicKey::from_private_key(&secp, &PrivateKey::new(sk, Network::Regtest)).unwrap()
    };
    let k0 = key(1);
    let k1 = key(2);
    let op_true = ScriptBuf::from_bytes(vec![0x51]);
    // BIP341's NUMS point as internal key, OP_TRUE as the only leaf
    let nums: UntweakedPublicKey = "50929b74c1a04954b78b4b6035e97a5e078a5a0f28ec96d547bfee9ace803ac0".parse().unwrap();
    let leaf = bitcoin::taproot::TaprootBuilder::new().add_leaf(0, op_true.clone()).unwrap();
    let spend_info = leaf.finalize(&secp, nums).unwrap();
    vec![
        Address::p2pkh(k0, Network::Regtest).to_string(),
        Address::p2pkh(k1, Network::Regtest).to_string(),
        Address::p2tr_tweaked(spend_info.output_key(), bitcoin::KnownHrp::Regtest).to_string(),
        Address::p2wpkh(&k0, bitcoin::KnownHrp::Regtest).to_string(),
        Address::p2sh(&op_true, Network::Regtest).unwrap().to_string(),
        Address::p2wsh(&op_true, bitcoin::KnownHrp::Regtest).to_string(),
    ]
}

/// Total subsidy of blocks 1..=height (halving every 150 blocks).
fn subsidy_total(height: u64) -> String {
    let sats: u64 = (1..=height).map(|h| (50 * 100_000_000u64) >> (h / 150)).sum();
    format!("{}.{:08}", sats / 100_000_000, sats % 100_000_000)
}

fn rpc_err(node: &TestNode, method: &str, params: Value) -> (i64, String) {
    match node.try_rpc(method, params).unwrap() {
        Err(e) => (e.code, e.message),
        Ok(v) => panic!("{method} should fail, got {v}"),
    }
}

#[test]
fn genesis_mining_and_block_rpcs() {
    let mut node = TestNode::start_new(&[]);
    assert_eq!(node.rpc("getblockcount", json!([])), json!(0));
    assert_eq!(node.rpc("getbestblockhash", json!([])), json!(GENESIS));
    assert_eq!(node.rpc("getblockhash", json!([0])), json!(GENESIS));
    let addrs = addresses();
    assert!(addrs[0].starts_with('m') || addrs[0].starts_with('n'));
    assert!(addrs[2].starts_with("bcrt1p") && addrs[3].starts_with("bcrt1q") && addrs[4].starts_with('2'));
    for addr in &addrs {
        let hashes = node.rpc("generatetoaddress", json!([2, addr]));
        assert_eq!(hashes.as_array().unwrap().len(), 2, "{addr}");
    }
    let height = 2 * addrs.len() as u64;
    assert_eq!(node.rpc("getblockcount", json!([])), json!(height));
    let h1 = node.rpc("getblockhash", json!([1]));
    let tip = node.rpc("getbestblockhash", json!([]));
    assert_eq!(node.rpc("getblockhash", json!([height])), tip);

    let block = node.rpc("getblock", json!([h1]));
    let keys: Vec<&str> = block.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "hash",
            "confirmations",
            "height",
            "version",
            "versionHex",
            "merkleroot",
            "time",
            "mediantime",
            "nonce",
            "bits",
            "target",
            "difficulty",
            "chainwork",
            "nTx",
            "previousblockhash",
            "nextblockhash",
            "strippedsize",
            "size",
            "weight",
            "coinbase_tx",
            "tx"
        ]
    );
    assert_eq!(block["hash"], h1);
    assert_eq!(block["confirmations"], json!(height));
    assert_eq!(block["height"], json!(1));
    assert_eq!(block["version"], json!(0x2000_0000));
    assert_eq!(block["versionHex"], json!("20000000"));
    assert_eq!(block["bits"], json!("207fffff"));
    assert_eq!(block["difficulty"].to_string(), "4.656542373906925e-10");
    assert_eq!(block["chainwork"], json!(format!("{}4", "0".repeat(63))));
    assert_eq!(block["previousblockhash"], json!(GENESIS));
    assert_eq!(block["nTx"], json!(1));
    assert_eq!(block["coinbase_tx"]["coinbase"], json!("5100"), "BIP34 height 1 then OP_0, as Core mines");
    assert_eq!(block["coinbase_tx"]["witness"], json!("0".repeat(64)));
    let header = node.rpc("getblockheader", json!([h1]));
    for k in
        ["hash", "confirmations", "height", "merkleroot", "time", "mediantime", "nonce", "chainwork", "nextblockhash"]
    {
        assert_eq!(header[k], block[k], "{k}");
    }
    let raw_header = node.rpc("getblockheader", json!([h1, false]));
    assert_eq!(raw_header.as_str().unwrap().len(), 160);
    let raw = node.rpc("getblock", json!([h1, 0]));
    assert!(raw.as_str().unwrap().starts_with(raw_header.as_str().unwrap()));
    assert_eq!(node.rpc("getblock", json!({"blockhash": h1, "verbosity": 0})), raw);

    assert_eq!(rpc_err(&node, "getblockhash", json!([height + 1])), (-8, "Block height out of range".into()));
    assert_eq!(rpc_err(&node, "getblockhash", json!([-1])), (-8, "Block height out of range".into()));
    let unknown = "11".repeat(32);
    assert_eq!(rpc_err(&node, "getblock", json!([unknown])), (-5, "Block not found".into()));
    assert_eq!(rpc_err(&node, "getblockheader", json!([unknown])), (-5, "Block not found".into()));
    assert_eq!(rpc_err(&node, "getblock", json!(["xyz"])).0, -8);
    assert_eq!(rpc_err(&node, "generatetoaddress", json!([1, "notanaddress"])), (-5, "Error: Invalid address".into()));

    let info = node.rpc("getblockchaininfo", json!([]));
    assert_eq!(info["chain"], json!("regtest"));
    assert_eq!(info["blocks"], json!(height));
    assert_eq!(info["bestblockhash"], tip);
    assert_eq!(info["initialblockdownload"], json!(false), "blocks mined now end IBD");
    let utxo = node.rpc("gettxoutsetinfo", json!(["none"]));
    assert_eq!(utxo["txouts"], json!(height));
    assert_eq!(utxo["total_amount"].to_string(), subsidy_total(height));
    node.stop_node();
}

#[test]
fn restart_copy_and_submitblock() {
    let mut a = TestNode::start_new(&[]);
    a.rpc("generatetoaddress", json!([5, addresses()[0]]));
    let tip = a.rpc("getbestblockhash", json!([]));
    a.stop_node();
    // restart resumes at the stored tip
    a.start(&[]);
    a.wait_for_rpc_connection();
    assert_eq!(a.rpc("getbestblockhash", json!([])), tip);
    a.stop_node();
    // a copied datadir starts on another port and resumes there
    let mut b = TestNode::new(&[]);
    let status = Command::new("cp").arg("-a").arg(a.net_dir()).arg(b.datadir.path()).status().unwrap();
    assert!(status.success());
    b.start(&[]);
    b.wait_for_rpc_connection();
    assert_eq!(b.rpc("getblockcount", json!([])), json!(5));
    assert_eq!(b.rpc("getbestblockhash", json!([])), tip);

    // a block mined elsewhere is accepted by submitblock
    let mut c = TestNode::start_new(&[]);
    let hashes = b.rpc("generatetoaddress", json!([1, addresses()[3]]));
    let blk6 = b.rpc("getblock", json!([hashes[0], 0]));
    assert_eq!(c.rpc("submitblock", json!([blk6])), json!("prev-blk-not-found"));
    for h in 1..=5 {
        let hash = b.rpc("getblockhash", json!([h]));
        assert_eq!(c.rpc("submitblock", json!([b.rpc("getblock", json!([hash, 0]))])), json!(null), "block {h}");
    }
    assert_eq!(c.rpc("submitblock", json!([blk6])), json!(null));
    assert_eq!(c.rpc("submitblock", json!([blk6])), json!("duplicate"));
    assert_eq!(c.rpc("getbestblockhash", json!([])), hashes[0]);
    // tampered blocks get Core's reasons
    let raw = b.rpc("getblock", json!([b.rpc("generatetoaddress", json!([1, addresses()[3]]))[0], 0]));
    let raw = raw.as_str().unwrap();
    let mut bad_merkle = raw.to_owned();
    bad_merkle.replace_range(72..74, if &raw[72..74] == "00" { "01" } else { "00" });
    let reason = c.rpc("submitblock", json!([bad_merkle]));
    assert!(reason == json!("bad-txnmrklroot") || reason == json!("high-hash"), "{reason}");
    assert_eq!(rpc_err(&c, "submitblock", json!(["00"])), (-22, "Block decode failed".into()));
    assert_eq!(rpc_err(&c, "submitblock", json!(["zz"])), (-22, "Block decode failed".into()));
    b.stop_node();
    c.stop_node();
}

#[test]
fn harness_cache_flow_ends_ibd() {
    // what Core's framework does when it builds its cache
    let mut node = TestNode::start_new(&[]);
    assert_eq!(node.rpc("getblockheader", json!([GENESIS]))["time"], json!(1_296_688_602));
    node.rpc("setmocktime", json!([1_296_688_602]));
    let a = addresses();
    let addrs = [&a[0], &a[1], &a[2], &a[0]];
    for i in 0..8 {
        let n = if i == 7 { 24 } else { 25 };
        let params = json!({"nblocks": n, "address": addrs[i % 4], "maxtries": 1_000_000});
        assert_eq!(node.rpc("generatetoaddress", params).as_array().unwrap().len(), n);
    }
    let info = node.rpc("getblockchaininfo", json!([]));
    assert_eq!(info["blocks"], json!(199));
    node.stop_node();
    // keep only blocks/, chainstate/, indexes/ (and an empty wallets/)
    let net = node.net_dir();
    std::fs::remove_dir(net.join("wallets")).expect("wallets/ exists and is empty");
    for entry in std::fs::read_dir(&net).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_owned();
        if !["blocks", "chainstate", "indexes"].contains(&name.as_str()) {
            std::fs::remove_file(&p).unwrap_or_else(|e| panic!("{name} is not a plain file: {e}"));
        }
    }
    let mut copy = TestNode::new(&[]);
    let status = Command::new("cp").arg("-a").arg(&net).arg(copy.datadir.path()).status().unwrap();
    assert!(status.success());
    copy.start(&[]);
    copy.wait_for_rpc_connection();
    let info = copy.rpc("getblockchaininfo", json!([]));
    assert_eq!(info["blocks"], json!(199));
    assert_eq!(info["initialblockdownload"], json!(true), "without mocktime a 2011 tip is old");
    copy.rpc("generatetoaddress", json!([1, addresses()[0]]));
    let info = copy.rpc("getblockchaininfo", json!([]));
    assert_eq!(info["blocks"], json!(200));
    assert_eq!(info["initialblockdownload"], json!(false));
    copy.stop_node();
}

#[test]
fn damaged_block_file_is_an_init_error() {
    let mut node = TestNode::start_new(&[]);
    node.rpc("generatetoaddress", json!([3, addresses()[0]]));
    node.stop_node();
    let blk = node.net_dir().join("blocks/blk00000.dat");
    let len = std::fs::metadata(&blk).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&blk).unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    node.start(&[]);
    let status = node.wait_for_exit(Duration::from_secs(60)).expect("the node exits");
    assert_eq!(status.code(), Some(1));
    assert!(node.stderr().starts_with("Error: "), "{}", node.stderr());
    // and a missing undo file too
    let mut other = TestNode::start_new(&[]);
    other.rpc("generatetoaddress", json!([2, addresses()[0]]));
    other.stop_node();
    std::fs::remove_file(other.net_dir().join("blocks/rev00000.dat")).unwrap();
    other.start(&[]);
    let status = other.wait_for_exit(Duration::from_secs(60)).expect("the node exits");
    assert_eq!(status.code(), Some(1));
    assert!(other.stderr().contains("rev00000.dat"), "{}", other.stderr());
}

#[test]
fn sigkill_while_mining_loses_nothing_committed() {
    let mut node = TestNode::new(&[]);
    let mut last_height = 0u64;
    let mut seed = u64::from(std::process::id());
    for round in 0..20 {
        node.start(&[]);
        node.wait_for_rpc_connection();
        let height = node.rpc("getblockcount", json!([])).as_u64().unwrap();
        assert!(height >= last_height, "round {round}: the tip went back from {last_height} to {height}");
        // the tip is a block that was fully written and its coins are all there
        let tip = node.rpc("getbestblockhash", json!([]));
        let block = node.rpc("getblock", json!([tip, 1]));
        assert_eq!(block["height"], json!(height));
        let utxo = node.rpc("gettxoutsetinfo", json!(["none"]));
        assert_eq!(utxo["txouts"], json!(height), "round {round}: one coin per mined block");
        // re-derived from the blocks: each block's coinbase output is unspent
        for h in [1, height / 2, height].into_iter().filter(|h| *h > 0 && *h <= height) {
            let hash = node.rpc("getblockhash", json!([h]));
            let coinbase = node.rpc("getblock", json!([hash, 1]))["tx"][0].clone();
            let coin = node.rpc("gettxout", json!([coinbase, 0]));
            assert_eq!(coin["confirmations"], json!(height - h + 1), "round {round}: coin of block {h}");
        }
        assert_eq!(utxo["total_amount"].to_string(), subsidy_total(height));
        last_height = height;
        // mine in the background and kill at a pseudo-random moment
        let cookie = node.cookie();
        let port = node.rpc_port;
        let addr = addresses()[3].clone();
        std::thread::spawn(move || {
            if let Ok(mut c) = HttpConn::connect(port) {
                let _ = c.call(&cookie, "generatetoaddress", json!([40, addr]));
            }
        });
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let delay = Duration::from_millis(5 + (seed >> 33) % 60);
        let started = Instant::now();
        while started.elapsed() < delay {
            std::thread::sleep(Duration::from_millis(1));
        }
        node.kill();
    }
    node.start(&[]);
    node.wait_for_rpc_connection();
    assert!(node.rpc("getblockcount", json!([])).as_u64().unwrap() >= last_height);
    node.stop_node();
}

#[test]
fn small_chain_and_network_rpcs() {
    let mut node = TestNode::start_new(&["-uacomment=testnode0"]);
    assert_eq!(node.rpc("getdifficulty", json!([])).to_string(), "4.656542373906925e-10");
    let tips = node.rpc("getchaintips", json!([]));
    assert_eq!(tips, json!([{"height": 0, "hash": GENESIS, "branchlen": 0, "status": "active"}]));
    assert_eq!(node.rpc("syncwithvalidationinterfacequeue", json!([])), json!(null));
    assert_eq!(node.rpc("getindexinfo", json!([])), json!({}));
    let net = node.rpc("getnetworkinfo", json!([]));
    assert_eq!(net["subversion"], json!(format!("/ferronode:{}(testnode0)/", env!("CARGO_PKG_VERSION"))));
    assert_eq!(net["connections"], json!(0));
    assert_eq!(net["relayfee"].to_string(), "0.00001000");
    node.stop_node();
}

#[test]
fn deployment_info_follows_core_versionbits() {
    let mut node = TestNode::start_new(&[]);
    let addr = addresses()[0].clone();
    let info = node.rpc("getdeploymentinfo", json!([]));
    assert_eq!(info["height"], json!(0));
    assert_eq!(info["script_flags"], json!(["NULLDUMMY", "P2SH", "TAPROOT", "WITNESS"]));
    assert_eq!(info["deployments"]["segwit"], json!({"type": "buried", "active": true, "height": 0}));
    assert_eq!(info["deployments"]["bip34"], json!({"type": "buried", "active": true, "height": 1}));
    let td = &info["deployments"]["testdummy"];
    assert_eq!(
        td,
        &json!({"type": "bip9", "active": false, "bip9": {"start_time": 0, "timeout": i64::MAX, "min_activation_height": 0, "status": "defined", "since": 0, "status_next": "defined"}})
    );
    let mine_to = |node: &TestNode, height: u64| {
        let have = node.rpc("getblockcount", json!([])).as_u64().unwrap();
        node.rpc("generatetoaddress", json!([height - have, addr]));
    };
    mine_to(&node, 200);
    let info = node.rpc("getdeploymentinfo", json!([]));
    assert_eq!(info["script_flags"].as_array().unwrap().len(), 7);
    let bip9 = &info["deployments"]["testdummy"]["bip9"];
    assert_eq!(bip9["status"], json!("started"));
    assert_eq!(bip9["since"], json!(144));
    assert_eq!(bip9["status_next"], json!("started"));
    assert_eq!(bip9["bit"], json!(28));
    assert_eq!(
        bip9["statistics"],
        json!({"period": 144, "elapsed": 57, "count": 57, "threshold": 108, "possible": true})
    );
    assert_eq!(bip9["signalling"], json!("#".repeat(57)), "Core's miner signals for testdummy while it is started");
    let blk = node.rpc("getblock", json!([node.rpc("getbestblockhash", json!([]))]));
    assert_eq!(blk["versionHex"], json!("30000000"));
    mine_to(&node, 288);
    let bip9 = node.rpc("getdeploymentinfo", json!([]))["deployments"]["testdummy"]["bip9"].clone();
    assert_eq!((bip9["status"].clone(), bip9["since"].clone()), (json!("locked_in"), json!(288)));
    assert_eq!(bip9["statistics"], json!({"period": 144, "elapsed": 1, "count": 1}));
    mine_to(&node, 431);
    let td = node.rpc("getdeploymentinfo", json!([]))["deployments"]["testdummy"].clone();
    assert_eq!(
        (td["bip9"]["status_next"].clone(), td["height"].clone(), td["active"].clone()),
        (json!("active"), json!(432), json!(true))
    );
    mine_to(&node, 432);
    let td = node.rpc("getdeploymentinfo", json!([]))["deployments"]["testdummy"].clone();
    assert_eq!(td["bip9"]["status"], json!("active"));
    assert_eq!(td["bip9"]["since"], json!(432));
    assert!(td["bip9"].get("statistics").is_none());
    let blk = node.rpc("getblock", json!([node.rpc("getbestblockhash", json!([]))]));
    assert_eq!(blk["versionHex"], json!("20000000"), "no signalling once active");
    // at an older block
    let h100 = node.rpc("getblockhash", json!([100]));
    let old = node.rpc("getdeploymentinfo", json!([h100]));
    assert_eq!(old["height"], json!(100));
    assert_eq!(old["deployments"]["testdummy"]["bip9"]["status"], json!("defined"));
    node.stop_node();
}

#[test]
fn init_messages_while_loading() {
    let mut node = TestNode::start_new(&[]);
    let log = node.debug_log();
    let a = log.find("init message: Loading block index…").expect("loading message");
    let b = log.find("init message: Verifying blocks…").expect("verifying message");
    let c = log.find("init message: Done loading").expect("done message");
    assert!(a < b && b < c, "Core's order of init messages");
    assert!(log.contains("Loaded best chain: hashBestChain="));
    node.stop_node();
}
