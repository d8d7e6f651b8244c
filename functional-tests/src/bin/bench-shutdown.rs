//! Shutdown benchmark: time from sending `stop` to the process's exit.
//!
//! Scenarios: no other connection (the baseline of this run), 100 and 1000
//! idle keep-alive connections, and one request in flight that finishes
//! about 200 ms after `stop` (reported as the time from that reply to exit).
//!
//! Run: `cargo run --release -p ferronode-functional-tests --bin bench-shutdown [rounds]`

#![allow(clippy::unwrap_used)]

use std::thread;
use std::time::{Duration, Instant};

use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::json;

struct Sample {
    stop_to_exit: Duration,
    reply_to_exit: Option<Duration>,
}

fn run(idle: usize, in_flight: bool) -> Sample {
    let mut node = TestNode::start_new(&["-rpcthreads=16"]);
    let cookie = node.cookie();
    let mut conns = Vec::with_capacity(idle);
    for _ in 0..idle {
        let mut c = node.connect();
        assert_eq!(c.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
        conns.push(c);
    }
    let slow = in_flight.then(|| {
        let port = node.rpc_port;
        let cookie = cookie.clone();
        let handle = thread::spawn(move || {
            let mut c = HttpConn::connect(port).unwrap();
            let r = c.call(&cookie, "sleep", json!([300])).unwrap();
            assert_eq!(r, Ok(json!(null)));
            Instant::now()
        });
        // send stop when the sleep has about 200 ms left
        loop {
            let info = node.rpc("getrpcinfo", json!([]));
            let running = info["active_commands"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["method"] == "sleep")
                .map(|c| c["duration"].as_u64().unwrap());
            if running.is_some_and(|us| us >= 100_000) {
                break;
            }
            thread::sleep(Duration::from_millis(1));
        }
        handle
    });
    let mut stopper = node.connect();
    let start = Instant::now();
    assert_eq!(stopper.call(&cookie, "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    let status = node.wait_for_exit(Duration::from_secs(60)).expect("node exits");
    let exited = Instant::now();
    assert!(status.success());
    let reply_to_exit = slow.map(|h| exited.saturating_duration_since(h.join().unwrap()));
    Sample { stop_to_exit: exited - start, reply_to_exit }
}

/// The kernel's cost of closing `n` accepted loopback sockets from one
/// thread: the floor under any server's "close every idle connection".
fn close_floor(n: usize) -> Duration {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::with_capacity(n);
    let mut accepted = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(std::net::TcpStream::connect(addr).unwrap());
        accepted.push(listener.accept().unwrap().0);
    }
    let start = Instant::now();
    drop(accepted);
    start.elapsed()
}

/// The fatal-error abort: a block write fails (its file replaced by a
/// directory) with `idle` keep-alive connections open; time from the
/// failing RPC's reply to the process's exit (status 1).
fn abort_run(idle: usize) -> Duration {
    let mut node = TestNode::start_new(&[]);
    let cookie = node.cookie();
    let mut conns = Vec::with_capacity(idle);
    for _ in 0..idle {
        let mut c = node.connect();
        assert_eq!(c.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
        conns.push(c);
    }
    let blk = node.net_dir().join("blocks/blk00000.dat");
    std::fs::remove_file(&blk).unwrap();
    std::fs::create_dir(&blk).unwrap();
    let mut c = node.connect();
    let reply = c.call(&cookie, "generatetoaddress", json!([1, "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z"])).unwrap();
    let replied = Instant::now();
    assert!(reply.is_err());
    let status = node.wait_for_exit(Duration::from_secs(60)).expect("node exits");
    assert_eq!(status.code(), Some(1));
    replied.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn main() {
    let rounds: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    println!("ferronoded shutdown, {rounds} rounds per scenario (median, min-max in ms)\n");
    println!("| scenario | stop → exit | ratio to baseline | in-flight reply → exit |");
    println!("|---|---|---|---|");
    let floor: Vec<Duration> = (0..rounds).map(|_| close_floor(1000)).collect();
    println!(
        "| reference: close() of 1000 accepted loopback sockets, one thread, no server | {} | - | - |",
        ms(median(floor))
    );
    let mut baseline = None;
    for (name, idle, in_flight) in [
        ("no other connection (baseline)", 0, false),
        ("100 idle keep-alive connections", 100, false),
        ("1000 idle keep-alive connections", 1000, false),
        ("1000 idle + 1 request finishing ~200 ms after stop", 1000, true),
    ] {
        let samples: Vec<Sample> = (0..rounds).map(|_| run(idle, in_flight)).collect();
        let total: Vec<Duration> = samples.iter().map(|s| s.stop_to_exit).collect();
        let min = *total.iter().min().unwrap();
        let max = *total.iter().max().unwrap();
        let med = median(total);
        let base = *baseline.get_or_insert(med);
        let after: Vec<Duration> = samples.iter().filter_map(|s| s.reply_to_exit).collect();
        let after = if after.is_empty() {
            "-".to_owned()
        } else {
            let (lo, hi) = (*after.iter().min().unwrap(), *after.iter().max().unwrap());
            format!("{} ({}-{})", ms(median(after)), ms(lo), ms(hi))
        };
        println!(
            "| {name} | {} ({}-{}) | {:.2}x | {after} |",
            ms(med),
            ms(min),
            ms(max),
            med.as_secs_f64() / base.as_secs_f64()
        );
    }
    let aborts: Vec<Duration> = (0..rounds).map(|_| abort_run(1000)).collect();
    let (lo, hi) = (*aborts.iter().min().unwrap(), *aborts.iter().max().unwrap());
    println!();
    println!("| fatal error (block write fails) with 1000 idle keep-alive connections | failing reply → exit 1 |");
    println!("|---|---|");
    println!("| median (min-max) | {} ({}-{}) ms |", ms(median(aborts)), ms(lo), ms(hi));
}
