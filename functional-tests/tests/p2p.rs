//! Two and three ferronoded nodes over P2P: handshake and `getpeerinfo`,
//! block sync, a reorganisation carried by a peer, transaction relay,
//! `disconnectnode`/`setnetworkactive`, and Core's abort-node scenario
//! driven by a peer's blocks.

#![allow(clippy::unwrap_used)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::{deserialize_hex, serialize_hex};
use bitcoin::{Amount, OutPoint, Transaction, TxOut};
use ferronode_functional_tests::{connect_nodes, op_true, sync_blocks, sync_mempools, wait_until, TestNode};
use serde_json::{json, Value};

const ADDR_A: &str = "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z";
const ADDR_B: &str = "bcrt1qjqmxmkpmxt80xz4y3746zgt0q3u3ferr34acd5";
const SYNC: Duration = Duration::from_secs(60);

fn peers(node: &TestNode) -> Vec<Value> {
    node.rpc("getpeerinfo", json!([])).as_array().unwrap().clone()
}

#[test]
fn handshake_peerinfo_and_block_sync() {
    let n0 = TestNode::start_new(&["-uacomment=testnode0"]);
    let n1 = TestNode::start_new(&["-uacomment=testnode1"]);
    n0.rpc("generatetoaddress", json!([120, ADDR_A]));
    connect_nodes(&n1, &n0);
    sync_blocks(&[&n0, &n1], SYNC);
    assert_eq!(n1.rpc("getblockcount", json!([])), json!(120));

    let p1 = &peers(&n1)[0];
    assert_eq!(p1["inbound"], json!(false));
    assert_eq!(p1["connection_type"], json!("manual"));
    assert_eq!(p1["addr"], json!(format!("127.0.0.1:{}", n0.p2p_port)));
    assert_eq!(p1["version"], json!(70016));
    assert_eq!(p1["services"], json!("0000000000000009"));
    assert_eq!(p1["subver"], json!(format!("/ferronode:{}(testnode0)/", env!("CARGO_PKG_VERSION"))));
    assert!(p1["bytesrecv_per_msg"]["headers"].as_u64().unwrap() > 0);
    assert!(p1["bytesrecv_per_msg"]["block"].as_u64().unwrap() > 0);
    assert!(p1["bytessent_per_msg"]["getdata"].as_u64().unwrap() > 0);
    assert_eq!(p1["bytesrecv_per_msg"]["verack"], json!(24));
    wait_until(SYNC, "synced counters", || peers(&n1)[0]["synced_blocks"] == json!(120));
    assert!(peers(&n1)[0]["last_block"].as_u64().unwrap() > 0);
    assert_eq!(peers(&n1)[0]["synced_headers"], json!(120));
    let p0 = &peers(&n0)[0];
    assert_eq!(p0["inbound"], json!(true));
    assert_eq!(p0["connection_type"], json!("inbound"));
    assert_eq!(p0["addrbind"], json!(format!("127.0.0.1:{}", n0.p2p_port)));

    let info = n0.rpc("getnetworkinfo", json!([]));
    assert_eq!((info["connections"].clone(), info["connections_in"].clone()), (json!(1), json!(1)));
    assert_eq!(info["localservicesnames"], json!(["NETWORK", "WITNESS"]));
    assert_eq!(info["networkactive"], json!(true));
    assert_eq!(n1.rpc("getconnectioncount", json!([])), json!(1));
    let totals = n1.rpc("getnettotals", json!([]));
    assert!(totals["totalbytesrecv"].as_u64().unwrap() > 120 * 200);

    // new blocks are announced and fetched, both ways
    let h = n1.rpc("generatetoaddress", json!([2, ADDR_B]));
    sync_blocks(&[&n0, &n1], SYNC);
    assert_eq!(n0.rpc("getbestblockhash", json!([])), h[1]);
    n0.rpc("generatetoaddress", json!([1, ADDR_A]));
    sync_blocks(&[&n0, &n1], SYNC);

    // ping
    n0.rpc("ping", json!([]));
    wait_until(SYNC, "a second pong", || peers(&n0)[0]["bytesrecv_per_msg"]["pong"].as_u64().unwrap_or(0) >= 64);
    assert!(peers(&n0)[0]["pingtime"].as_f64().is_some());
}

#[test]
fn addnode_disconnectnode_and_networkactive() {
    let n0 = TestNode::start_new(&[]);
    let n1 = TestNode::start_new(&[]);
    let target = format!("127.0.0.1:{}", n0.p2p_port);
    n1.rpc("addnode", json!([target, "add"]));
    let err = n1.try_rpc("addnode", json!([target, "add"])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-23, "Error: Node already added"));
    wait_until(SYNC, "the added node connects", || n1.rpc("getconnectioncount", json!([])) == json!(1));
    let added = n1.rpc("getaddednodeinfo", json!([]));
    assert_eq!(added[0]["addednode"], json!(target));
    assert_eq!(added[0]["connected"], json!(true));
    let err = n1.try_rpc("getaddednodeinfo", json!(["1.2.3.4"])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-24, "Error: Node has not been added."));

    // disconnect by address: the added node comes back (a new peer id)
    let old_id = peers(&n1)[0]["id"].clone();
    n1.rpc("disconnectnode", json!([target]));
    wait_until(SYNC, "reconnection of the added node", || {
        peers(&n1).iter().any(|p| p["id"] != old_id && p["bytesrecv_per_msg"]["verack"] == json!(24))
    });
    n1.rpc("addnode", json!([target, "remove"]));
    let err = n1.try_rpc("addnode", json!([target, "remove"])).unwrap().unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (-24, "Error: Node could not be removed. It has not been added previously.")
    );
    wait_until(SYNC, "a connection on n0", || n0.rpc("getconnectioncount", json!([])) == json!(1));
    // by node id, from the other side
    let id = peers(&n0)[0]["id"].clone();
    n0.rpc("disconnectnode", json!(["", id]));
    wait_until(SYNC, "both sides see the disconnection", || {
        n0.rpc("getconnectioncount", json!([])) == json!(0) && n1.rpc("getconnectioncount", json!([])) == json!(0)
    });
    let err = n0.try_rpc("disconnectnode", json!(["", id])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-29, "Node not found in connected nodes"));
    let err = n0.try_rpc("disconnectnode", json!([target, 3])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-32602, "Only one of address and nodeid should be provided."));
    let err = n0.try_rpc("disconnectnode", json!([])).unwrap().unwrap_err();
    assert_eq!(err.code, -32602);
    let err = n0.try_rpc("addnode", json!([target, "onetry", true])).unwrap().unwrap_err();
    assert_eq!(
        (err.code, err.message.as_str()),
        (-8, "Error: v2transport requested but not enabled (see -v2transport)")
    );
    let err = n0.try_rpc("addnode", json!([target, "notacommand"])).unwrap().unwrap_err();
    assert!(err.code == -1 && err.message.starts_with("addnode \"node\" \"command\""), "{err:?}");

    // no networking: nothing gets in
    assert_eq!(n0.rpc("setnetworkactive", json!([false])), json!(false));
    assert_eq!(n0.rpc("getnetworkinfo", json!([]))["networkactive"], json!(false));
    n1.rpc("addnode", json!([target, "onetry"]));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(n0.rpc("getconnectioncount", json!([])), json!(0));
    n0.rpc("setnetworkactive", json!([true]));
    connect_nodes(&n1, &n0);
}

#[test]
fn reorg_across_three_nodes() {
    let n0 = TestNode::start_new(&[]);
    let n1 = TestNode::start_new(&[]);
    let n2 = TestNode::start_new(&[]);
    connect_nodes(&n1, &n0);
    connect_nodes(&n2, &n1);
    n0.rpc("generatetoaddress", json!([5, ADDR_A]));
    sync_blocks(&[&n0, &n1, &n2], SYNC);
    // split: n2 mines a longer branch alone
    n2.rpc("disconnectnode", json!([format!("127.0.0.1:{}", n1.p2p_port)]));
    wait_until(SYNC, "n2 is alone", || n2.rpc("getconnectioncount", json!([])) == json!(0));
    n0.rpc("generatetoaddress", json!([2, ADDR_A]));
    sync_blocks(&[&n0, &n1], SYNC);
    let long = n2.rpc("generatetoaddress", json!([4, ADDR_B]));
    connect_nodes(&n2, &n1);
    sync_blocks(&[&n0, &n1, &n2], SYNC);
    assert_eq!(n0.rpc("getbestblockhash", json!([])), long[3]);
    assert_eq!(n0.rpc("getblockcount", json!([])), json!(9));
    let tips = n0.rpc("getchaintips", json!([]));
    assert_eq!(tips[1]["status"], json!("valid-fork"));
    assert_eq!(tips[1]["branchlen"], json!(2));
}

#[test]
fn transactions_relay_by_wtxid() {
    let n0 = TestNode::start_new(&[]);
    let n1 = TestNode::start_new(&[]);
    let n2 = TestNode::start_new(&[]);
    connect_nodes(&n1, &n0);
    connect_nodes(&n2, &n1);
    let addr = op_true::address().to_string();
    n0.rpc("generatetoaddress", json!([101, addr]));
    sync_blocks(&[&n0, &n1, &n2], SYNC);
    let hash = n0.rpc("getblockhash", json!([1]));
    let block: bitcoin::Block = deserialize_hex(n0.rpc("getblock", json!([hash, 0])).as_str().unwrap()).unwrap();
    let cb = &block.txdata[0];
    let prev = OutPoint { txid: cb.compute_txid(), vout: 0 };
    let tx: Transaction = op_true::spend(
        prev,
        vec![TxOut {
            value: Amount::from_sat(cb.output[0].value.to_sat() - 10_000),
            script_pubkey: op_true::address().script_pubkey(),
        }],
    );
    let txid = n2.rpc("sendrawtransaction", json!([serialize_hex(&tx)]));
    assert_eq!(txid, json!(tx.compute_txid().to_string()));
    sync_mempools(&[&n0, &n1, &n2], SYNC);
    assert_eq!(n0.rpc("getrawmempool", json!([])), json!([txid]));
    // n2 announced it by wtxid: it never sent a tx inv to n1 by txid
    let p = peers(&n1).into_iter().find(|p| p["inbound"] == json!(true)).unwrap();
    assert!(p["bytesrecv_per_msg"]["tx"].as_u64().unwrap() > 0);
    // mined on n0, gone everywhere
    n0.rpc("generatetoaddress", json!([1, ADDR_A]));
    sync_blocks(&[&n0, &n1, &n2], SYNC);
    sync_mempools(&[&n0, &n1, &n2], SYNC);
    assert_eq!(n2.rpc("getrawmempool", json!([])), json!([]));
}

/// A peer that sends garbage is dropped; the node goes on.
#[test]
fn malformed_messages_disconnect_the_peer() {
    let n0 = TestNode::start_new(&[]);
    for garbage in [
        b"GET / HTTP/1.1\r\n\r\n________".to_vec(),
        // regtest magic, "version", a size over 4,000,000
        [&[0xfa, 0xbf, 0xb5, 0xda][..], b"version\0\0\0\0\0", &4_000_001u32.to_le_bytes(), &[0u8; 4]].concat(),
        // a ping with a bad checksum
        [&[0xfa, 0xbf, 0xb5, 0xda][..], b"ping\0\0\0\0\0\0\0\0", &8u32.to_le_bytes(), &[0u8; 4], &[1u8; 8]].concat(),
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", n0.p2p_port)).unwrap();
        s.write_all(&garbage).unwrap();
        wait_disconnected(&mut s);
    }
    wait_until(SYNC, "no peers left", || n0.rpc("getconnectioncount", json!([])) == json!(0));
    assert_eq!(n0.rpc("getblockcount", json!([])), json!(0));
}

/// Core's feature_abortnode.py: the blocks come from a peer. node0 cannot
/// disconnect its blocks (the undo data is gone), so the reorg to node1's
/// longer chain is a fatal error: exit 1 within 5 s, Core's message, and
/// the damaged state is refused at the next start.
#[test]
fn abortnode_over_p2p() {
    let mut node0 = TestNode::start_new(&[]);
    let mut node1 = TestNode::start_new(&[]);
    node0.rpc("generatetoaddress", json!([3, ADDR_A]));
    std::fs::remove_file(node0.net_dir().join("blocks/rev00000.dat")).unwrap();
    node1.rpc("generatetoaddress", json!([3, ADDR_B]));
    connect_nodes(&node0, &node1);
    // equal work: node0 keeps its chain and stores node1's as a fork
    wait_until(SYNC, "node0 has node1's branch", || {
        node0.rpc("getchaintips", json!([])).as_array().unwrap().len() == 2
    });
    let started = Instant::now();
    node0.assert_debug_log(&["Failed to disconnect block"], || {
        node1.rpc("generatetoaddress", json!([1, ADDR_B]));
    });
    node0.wait_until_stopped(Duration::from_secs(5), true);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        node0.stderr().trim(),
        "Error: A fatal internal error occurred, see debug.log for details: Failed to disconnect block."
    );
    node0.start(&[]);
    let status = node0.wait_for_exit(Duration::from_secs(60)).expect("the node exits");
    assert_ne!(status.code(), Some(0));
    node1.stop_node();
}

/// `-connect` makes the only outbound connections (and, without `-bind`,
/// turns listening off); `-listen=0` refuses every inbound connection;
/// bad values and a taken `-bind` address are init errors with Core's
/// texts.
#[test]
fn connect_listen_and_bind_options() {
    let n0 = TestNode::start_new(&[]);
    n0.rpc("generatetoaddress", json!([7, ADDR_A]));
    let n1 = TestNode::start_new(&[&format!("-connect=127.0.0.1:{}", n0.p2p_port)]);
    sync_blocks(&[&n0, &n1], SYNC);
    assert_eq!(peers(&n1)[0]["connection_type"], json!("manual"));
    // a restart of the peer: -connect reconnects
    let old_id = peers(&n0)[0]["id"].clone();
    n0.rpc("disconnectnode", json!(["", old_id]));
    wait_until(SYNC, "reconnected", || {
        peers(&n0).iter().any(|p| p["id"] != old_id && p["bytesrecv_per_msg"]["verack"] == json!(24))
    });

    let n2 = TestNode::start_new(&["-listen=0"]);
    assert!(TcpStream::connect(("127.0.0.1", n2.p2p_port)).is_err(), "-listen=0 does not listen");
    assert_eq!(n2.rpc("getnetworkinfo", json!([]))["connections"], json!(0));

    let mut bad = TestNode::new(&[]);
    bad.assert_start_raises_init_error(&["-port=abc"], "Error: Invalid port specified in -port: 'abc'");
    bad.assert_start_raises_init_error(&["-peertimeout=0"], "Error: peertimeout must be a positive integer.");
    let taken = format!("-bind=127.0.0.1:{}", n0.p2p_port);
    bad.assert_start_raises_init_error(
        &[&taken],
        &format!(
            "Error: Unable to bind to 127.0.0.1:{} on this computer. ferronode is probably already running.",
            n0.p2p_port
        ),
    );
}

/// Connections beyond `-maxconnections` are closed at once; a connection
/// that does not finish the handshake within `-peertimeout` is dropped.
#[test]
fn maxconnections_and_peertimeout() {
    let n0 = TestNode::start_new(&["-maxconnections=2", "-peertimeout=1"]);
    let closed = |s: &mut TcpStream, within: Duration| {
        s.set_read_timeout(Some(within)).unwrap();
        let mut buf = [0u8; 8];
        matches!(s.read(&mut buf), Ok(0))
    };
    let mut a = TcpStream::connect(("127.0.0.1", n0.p2p_port)).unwrap();
    let _b = TcpStream::connect(("127.0.0.1", n0.p2p_port)).unwrap();
    wait_until(SYNC, "two peers", || n0.rpc("getconnectioncount", json!([])) == json!(2));
    let mut c = TcpStream::connect(("127.0.0.1", n0.p2p_port)).unwrap();
    assert!(closed(&mut c, Duration::from_secs(5)), "the third connection is closed at once");
    // silent peers: gone after the 1 s handshake timeout
    let started = Instant::now();
    assert!(closed(&mut a, Duration::from_secs(10)), "a silent peer is dropped");
    assert!(started.elapsed() < Duration::from_secs(5));
    wait_until(SYNC, "no peers", || n0.rpc("getconnectioncount", json!([])) == json!(0));
}

/// A connection to our own listener is recognised by the version nonce
/// and dropped, as in Core.
#[test]
fn connection_to_self_is_dropped() {
    let n0 = TestNode::start_new(&[]);
    n0.assert_debug_log(&["connected to self"], || {
        n0.rpc("addnode", json!([format!("127.0.0.1:{}", n0.p2p_port), "onetry"]));
    });
    wait_until(SYNC, "no peers", || n0.rpc("getconnectioncount", json!([])) == json!(0));
}

/// A peer that sends a block breaking a consensus rule (a coinbase paying
/// more than the subsidy) is disconnected; the chain does not move.
#[test]
fn an_invalid_block_disconnects_the_peer() {
    use bitcoin::block::{Header, Version};
    use bitcoin::hashes::Hash as _;
    use bitcoin::p2p::message::NetworkMessage;
    use bitcoin::{absolute, transaction, Block, CompactTarget, ScriptBuf, Sequence, TxIn, TxMerkleNode, Witness};

    let n0 = TestNode::start_new(&[]);
    let genesis = bitcoin::blockdata::constants::genesis_block(bitcoin::Network::Regtest);
    let coinbase = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: vec![TxIn {
            previous_output: OutPoint::null(),
            script_sig: ScriptBuf::from_bytes(vec![0x01, 0x01, 0x00]),
            sequence: Sequence::MAX,
            witness: Witness::new(),
        }],
        output: vec![TxOut {
            value: Amount::from_sat(100 * 100_000_000),
            script_pubkey: op_true::address().script_pubkey(),
        }],
    };
    let mut block = Block {
        header: Header {
            version: Version::from_consensus(0x2000_0000),
            prev_blockhash: genesis.block_hash(),
            merkle_root: TxMerkleNode::all_zeros(),
            time: genesis.header.time + 1,
            bits: CompactTarget::from_consensus(0x207f_ffff),
            nonce: 0,
        },
        txdata: vec![coinbase],
    };
    ferronode_functional_tests::grind(&mut block);
    let mut s = raw_peer(&n0);
    send_msg(&mut s, NetworkMessage::Block(block));
    wait_disconnected(&mut s);
    wait_until(SYNC, "the peer is gone", || n0.rpc("getconnectioncount", json!([])) == json!(0));
    assert_eq!(n0.rpc("getblockcount", json!([])), json!(0));
}

/// Reads (and drops) whatever the node sends until it closes the
/// connection; fails if that takes 10 s.
fn wait_disconnected(s: &mut TcpStream) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(started.elapsed() < Duration::from_secs(10), "not disconnected"),
        }
    }
}

fn send_msg(s: &mut TcpStream, msg: bitcoin::p2p::message::NetworkMessage) {
    use bitcoin::p2p::message::RawNetworkMessage;
    let bytes = bitcoin::consensus::encode::serialize(&RawNetworkMessage::new(bitcoin::p2p::Magic::REGTEST, msg));
    s.write_all(&bytes).unwrap();
}

/// A raw TCP peer (rust-bitcoin's messages) that has done the handshake
/// with `node`.
fn raw_peer(node: &TestNode) -> TcpStream {
    use bitcoin::p2p::address::Address;
    use bitcoin::p2p::message::NetworkMessage;
    use bitcoin::p2p::message_network::VersionMessage;
    use bitcoin::p2p::ServiceFlags;
    let before = node.rpc("getconnectioncount", json!([])).as_u64().unwrap();
    let mut s = TcpStream::connect(("127.0.0.1", node.p2p_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let (local, remote) = (s.local_addr().unwrap(), s.peer_addr().unwrap());
    let version = VersionMessage {
        version: 70016,
        services: ServiceFlags::NETWORK | ServiceFlags::WITNESS,
        timestamp: 1_700_000_000,
        receiver: Address::new(&remote, ServiceFlags::NONE),
        sender: Address::new(&local, ServiceFlags::NONE),
        nonce: 7,
        user_agent: "/raw-test-peer/".into(),
        start_height: 0,
        relay: true,
    };
    send_msg(&mut s, NetworkMessage::Version(version));
    loop {
        let mut h = [0u8; 24];
        s.read_exact(&mut h).unwrap();
        let mut body = vec![0u8; u32::from_le_bytes([h[16], h[17], h[18], h[19]]) as usize];
        s.read_exact(&mut body).unwrap();
        if h[4..10] == *b"verack" {
            break;
        }
    }
    send_msg(&mut s, NetworkMessage::Verack);
    wait_until(SYNC, "the raw peer's handshake", || {
        peers(node).iter().filter(|p| p["bytesrecv_per_msg"]["verack"] == json!(24)).count() as u64 > before
    });
    s
}

/// A child that arrives before its parent waits as an orphan and enters
/// the mempool right after the parent.
#[test]
fn an_orphan_enters_the_mempool_after_its_parent() {
    use bitcoin::p2p::message::NetworkMessage;
    let n0 = TestNode::start_new(&[]);
    let addr = op_true::address();
    n0.rpc("generatetoaddress", json!([101, addr.to_string()]));
    let hash = n0.rpc("getblockhash", json!([1]));
    let block: bitcoin::Block = deserialize_hex(n0.rpc("getblock", json!([hash, 0])).as_str().unwrap()).unwrap();
    let cb = &block.txdata[0];
    let out = |sats: u64| TxOut { value: Amount::from_sat(sats), script_pubkey: addr.script_pubkey() };
    let parent =
        op_true::spend(OutPoint { txid: cb.compute_txid(), vout: 0 }, vec![out(cb.output[0].value.to_sat() - 10_000)]);
    let child = op_true::spend(
        OutPoint { txid: parent.compute_txid(), vout: 0 },
        vec![out(parent.output[0].value.to_sat() - 10_000)],
    );
    let mut s = raw_peer(&n0);
    send_msg(&mut s, NetworkMessage::Tx(child.clone()));
    // the child alone is not taken
    send_msg(&mut s, NetworkMessage::Ping(1));
    wait_until(SYNC, "the pong", || {
        let mut h = [0u8; 24];
        s.read_exact(&mut h).unwrap();
        let mut body = vec![0u8; u32::from_le_bytes([h[16], h[17], h[18], h[19]]) as usize];
        s.read_exact(&mut body).unwrap();
        h[4..8] == *b"pong"
    });
    assert_eq!(n0.rpc("getrawmempool", json!([])), json!([]));
    send_msg(&mut s, NetworkMessage::Tx(parent.clone()));
    wait_until(SYNC, "both in the mempool", || n0.rpc("getrawmempool", json!([])).as_array().unwrap().len() == 2);
    let pool = n0.rpc("getrawmempool", json!([]));
    assert!(pool.as_array().unwrap().contains(&json!(child.compute_txid().to_string())));
}
