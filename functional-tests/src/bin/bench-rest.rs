//! REST benchmark, each figure next to a baseline measured in the same run.
//!
//! The node (a release `ferronoded -rest`) first gets one block of 2,000
//! transactions, each spending a P2WSH output with two 520-byte witness
//! items (about 2.3 MB serialized).
//!
//! 1. `/rest/block/<hash>.bin` of that block over keep-alive connections
//!    (`wrk -t1 -c<n>`), against a bare hyper 1.x server in this process
//!    (its own 2-worker tokio runtime) answering every request with the same
//!    bytes from memory: blocks per second and MB/s, and their ratio. The
//!    node keeps the last blocks it served in memory, so this measures the
//!    served-from-memory path; `/rest/blockpart` with the whole block as
//!    the range reads the block file on every request and shows that path.
//! 2. The block as JSON: `/rest/block/<hash>.json` (Core's REST form, every
//!    transaction with its prevouts) and `/rest/block/notxdetails/<hash>.json`
//!    against the JSON-RPC `getblock <hash> 2` (and `3`, which is what the
//!    REST form contains), one keep-alive connection,
//!    requests back to back: latency per request.
//! 3. `/rest/getutxos/<15 outpoints>.bin` and `.json` (`wrk -t2 -c32`):
//!    requests per second, next to `/rest/blockhashbyheight/1.bin` (the
//!    cheapest REST request: the ceiling of the REST path).
//!
//! Everything talks to 127.0.0.1 only; each measurement runs a bounded
//! number of seconds. Needs `wrk` on `$PATH`.
//!
//! Run: `cargo run --release -p ferronode-functional-tests --bin bench-rest [seconds] [rounds]`
//! (seconds per measurement, default 5, at most 10; rounds default 3).

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::process::Command;
use std::time::{Duration, Instant};

use bitcoin::consensus::encode::serialize_hex;
use bitcoin::opcodes::all::{OP_2DROP, OP_PUSHNUM_1};
use bitcoin::script::Builder;
use bitcoin::{
    absolute, transaction, Address, Amount, KnownHrp, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid,
    Witness,
};
use bytes::Bytes;
use ferronode_functional_tests::wrk::Wrk;
use ferronode_functional_tests::{op_true, HttpConn, TestNode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

const TXS: u32 = 2_000;

/// `OP_2DROP OP_TRUE`: spent with two junk items and the script.
fn heavy_script() -> ScriptBuf {
    Builder::new().push_opcode(OP_2DROP).push_opcode(OP_PUSHNUM_1).into_script()
}

/// `wrk -t<threads> -c<conns> -d<secs>s <url>`.
fn wrk(threads: usize, conns: usize, secs: u64, url: &str) -> Wrk {
    let out = Command::new("wrk")
        .args([format!("-t{threads}"), format!("-c{conns}"), format!("-d{secs}s"), url.to_owned()])
        .output()
        .expect("wrk runs (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    let res = Wrk::parse(&text);
    assert!(res.non2xx == 0, "unexpected wrk output: {text}");
    res
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A bare hyper server answering every request with `body`.
fn start_bare_hyper(rt: &tokio::runtime::Runtime, body: Bytes) -> u16 {
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |_req| {
                        let body = body.clone();
                        async move {
                            let mut resp = hyper::Response::new(Full::new(body));
                            resp.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static("application/octet-stream"),
                            );
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        port
    })
}

/// Requests back to back on one connection for `secs`; the median latency.
fn sequential(conn: &mut HttpConn, secs: u64, mut one: impl FnMut(&mut HttpConn) -> usize) -> Run {
    let mut times = Vec::new();
    let mut size = 0;
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end && times.len() < 10_000 {
        let started = Instant::now();
        size = one(conn);
        times.push(started.elapsed());
    }
    times.sort();
    (times[times.len() / 2], size, u32::try_from(times.len()).unwrap_or(u32::MAX))
}

/// One sequential run: median latency, reply size, requests made.
type Run = (Duration, usize, u32);

/// The run with the median latency.
fn mid(mut v: Vec<Run>) -> Run {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(5).clamp(1, 10);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3).clamp(1, 10);
    let _ = ferronode_functional_tests::ferronoded();
    let mut node = TestNode::start_new(&["-rest"]);
    let cookie = node.cookie();
    let mut conn = node.connect();
    let mut call = |method: &str, params: Value| -> Value {
        conn.call(&cookie, method, params).unwrap().unwrap_or_else(|e| panic!("{method}: {e:?}"))
    };

    // the block: a fan-out of 2,000 outputs to P2WSH(OP_2DROP OP_TRUE), then
    // 2,000 transactions spending them with 2 × 520 bytes of witness each
    let addr = op_true::address();
    let heavy = heavy_script();
    let heavy_spk = Address::p2wsh(&heavy, KnownHrp::Regtest).script_pubkey();
    call("generatetoaddress", json!([101, addr.to_string()]));
    let hash = call("getblockhash", json!([1]));
    let cb: Txid = call("getblock", json!([hash, 1]))["tx"][0].as_str().unwrap().parse().unwrap();
    let each = (50 * 100_000_000 - 100_000) / u64::from(TXS);
    let outs = (0..TXS).map(|_| TxOut { value: Amount::from_sat(each), script_pubkey: heavy_spk.clone() });
    let fan = op_true::spend(OutPoint { txid: cb, vout: 0 }, outs.collect());
    call("generateblock", json!([addr.to_string(), [serialize_hex(&fan)]]));
    let fan_txid = fan.compute_txid();
    let spends: Vec<Transaction> = (0..TXS)
        .map(|vout| Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint { txid: fan_txid, vout },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::from_slice(&[vec![vout as u8; 520], vec![1u8; 520], heavy.to_bytes()]),
            }],
            output: vec![TxOut { value: Amount::from_sat(each - 1_000), script_pubkey: addr.script_pubkey() }],
        })
        .collect();
    let hexes: Vec<String> = spends.iter().map(serialize_hex).collect();
    let big = call("generateblock", json!([addr.to_string(), hexes]))["hash"].as_str().unwrap().to_owned();
    let raw = call("getblock", json!([big, 0]));
    let raw = Bytes::from(
        (0..raw.as_str().unwrap().len() / 2)
            .map(|i| u8::from_str_radix(&raw.as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<u8>>(),
    );
    let port = node.rpc_port;
    let mb = raw.len() as f64 / 1e6;
    println!(
        "ferronoded REST benchmark (release build, 127.0.0.1; {secs} s per measurement, {rounds} rounds, medians)\n"
    );
    println!("block: {} transactions, {} bytes\n", TXS + 1, raw.len());

    // 1. raw block bytes vs bare hyper
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let bare = start_bare_hyper(&rt, raw.clone());
    println!("## 1. `/rest/block/<hash>.bin` ({mb:.2} MB) over keep-alive, `wrk -t1`\n");
    println!("| connections | bare hyper from memory, blocks/s (MB/s) | `/rest/block/<hash>.bin`, blocks/s (MB/s) | ratio | `/rest/blockpart/<hash>.bin?offset=0&size=<all>` (read from the block file every time), blocks/s (MB/s) | ratio | `/rest/block` latency avg / stdev / max |");
    println!("|---|---|---|---|---|---|---|");
    let url_b = format!("http://127.0.0.1:{bare}/rest/block/{big}.bin");
    let url_f = format!("http://127.0.0.1:{port}/rest/block/{big}.bin");
    let url_p = format!("http://127.0.0.1:{port}/rest/blockpart/{big}.bin?offset=0&size={}", raw.len());
    for conns in [1usize, 4] {
        let (mut b, mut f, mut p, mut rf, mut rp, mut lat) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), String::new());
        for round in 0..rounds {
            // alternate the order from round to round
            let mut runs: Vec<(usize, Wrk)> = Vec::new();
            let mut order = vec![0usize, 1, 2];
            order.rotate_left(round % 3);
            for which in order {
                let url = [&url_b, &url_f, &url_p][which];
                runs.push((which, wrk(1, conns, secs, url)));
            }
            runs.sort_by_key(|(w, _)| *w);
            let [(_, wb), (_, wf), (_, wp)] = <[(usize, Wrk); 3]>::try_from(runs).ok().unwrap();
            rf.push(wf.rps / wb.rps);
            rp.push(wp.rps / wb.rps);
            b.push(wb.rps);
            f.push(wf.rps);
            p.push(wp.rps);
            lat = wf.latency;
        }
        let (b, f, p) = (median(b), median(f), median(p));
        println!(
            "| {conns} | {b:.0} ({:.0}) | {f:.0} ({:.0}) | {:.2} | {p:.0} ({:.0}) | {:.2} | {lat} |",
            b * mb,
            f * mb,
            median(rf),
            p * mb,
            median(rp)
        );
    }

    // 2. JSON
    println!("\n## 2. the 2,001-transaction block as JSON, one keep-alive connection, back to back\n");
    println!("| request | reply size | median latency | requests | ratio to `getblock <hash> 2` |");
    println!("|---|---|---|---|---|");
    let (mut rpcs, mut rpc3s, mut fulls, mut idss) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let mut c = node.connect();
        let cookie = node.cookie();
        let rpc_body = json!({"jsonrpc": "1.0", "id": 1, "method": "getblock", "params": [big, 2]}).to_string();
        rpcs.push(sequential(&mut c, secs, |c| c.post_json(&cookie, &rpc_body).unwrap().body.len()));
        let rpc3_body = json!({"jsonrpc": "1.0", "id": 1, "method": "getblock", "params": [big, 3]}).to_string();
        rpc3s.push(sequential(&mut c, secs, |c| c.post_json(&cookie, &rpc3_body).unwrap().body.len()));
        fulls.push(sequential(&mut c, secs, |c| {
            let r = c.request("GET", &format!("/rest/block/{big}.json"), &[], b"").unwrap();
            assert_eq!(r.status, 200);
            r.body.len()
        }));
        idss.push(sequential(&mut c, secs, |c| {
            c.request("GET", &format!("/rest/block/notxdetails/{big}.json"), &[], b"").unwrap().body.len()
        }));
    }
    let (rpc, rpc3, full, ids) = (mid(rpcs), mid(rpc3s), mid(fulls), mid(idss));
    for (name, (lat, size, n)) in [
        ("JSON-RPC `getblock <hash> 2` (baseline)", rpc),
        ("JSON-RPC `getblock <hash> 3` (the same data as REST's JSON)", rpc3),
        ("`/rest/block/<hash>.json` (with prevouts, as Core)", full),
        ("`/rest/block/notxdetails/<hash>.json`", ids),
    ] {
        println!(
            "| {name} | {:.2} MB | {:.1} ms | {n} | {:.2} |",
            size as f64 / 1e6,
            lat.as_secs_f64() * 1000.0,
            lat.as_secs_f64() / rpc.0.as_secs_f64()
        );
    }

    // 3. getutxos with 15 outpoints
    let ops: Vec<String> = spends.iter().take(15).map(|t| format!("{}-0", t.compute_txid())).collect();
    println!("\n## 3. `/rest/getutxos` with 15 outpoints, `wrk -t2 -c32`\n");
    println!("| request | req/s (median) | latency avg / stdev / max (last round) |");
    println!("|---|---|---|");
    for (name, path) in [
        ("`/rest/blockhashbyheight/1.bin` (ceiling of the REST path)", "/rest/blockhashbyheight/1.bin".to_owned()),
        ("`/rest/getutxos/<15>.bin`", format!("/rest/getutxos/{}.bin", ops.join("/"))),
        ("`/rest/getutxos/checkmempool/<15>.json`", format!("/rest/getutxos/checkmempool/{}.json", ops.join("/"))),
    ] {
        let mut rps = Vec::new();
        let mut lat = String::new();
        for _ in 0..rounds {
            let w = wrk(2, 32, secs, &format!("http://127.0.0.1:{port}{path}"));
            rps.push(w.rps);
            lat = w.latency;
        }
        println!("| {name} | {:.0} | {lat} |", median(rps));
    }
    drop(rt);
    node.stop_node();
}
