//! HTTP benchmark: throughput, memory, latency under load, and shutdown with
//! slow clients, each compared with a baseline measured in the same run.
//!
//! 1. Throughput of a trivial handler (`wrk -t2 -c32` and `-c256`, keep-alive):
//!    a bare hyper 1.x http1 server (the baseline) against
//!    `ferronode_httpserver::HttpServer` with default settings (16 workers,
//!    queue 64), both in this process, each on its own 2-worker tokio runtime,
//!    both answering `{"result":0,"error":null,"id":1}`.
//! 2. Authenticated JSON-RPC `getblockcount` through a release `ferronoded`
//!    (JSON-RPC 1.0, 2.0, and a batch of 100 2.0 calls) at 32 connections,
//!    against the bare hyper server fed the same request bytes.
//! 3. 10,000 idle keep-alive connections (each has completed one
//!    `getblockcount`): the node's VmRSS, the latency of a new client's
//!    connect + `getblockcount`, and the time from `stop` to exit; the same
//!    with no idle connection as the baseline. For scale, RSS and latency of
//!    the bare hyper server under the same load, run as a separate process
//!    (this binary re-executed with the hidden argument `--serve-bare-hyper`).
//! 4. 200 slowloris connections (a request head trickled one byte every
//!    500 ms, never finished, `-rpcservertimeout=600`): latency of a normal
//!    client meanwhile, and the time from `stop` to exit (compared with the
//!    no-connection baseline of 3). `stop` is sent about 2 s after the slow
//!    heads started, well inside the server's header deadline, so all of
//!    them are still open (the table says how many were).
//!
//! Everything talks to 127.0.0.1 only. Needs `wrk` on `$PATH`.
//!
//! Every wrk run is repeated for a number of rounds (alternating the order
//! of the servers from round to round); tables give medians, and ratios are
//! the median over rounds of the ratio measured back to back in one round.
//!
//! Run: `cargo run --release -p ferronode-functional-tests --bin bench-http [seconds] [rounds]`
//! (seconds per wrk run, default 5, at most 10; rounds default 3).

#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::io::{BufRead as _, BufReader, ErrorKind, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferronode_functional_tests::http::basic_auth;
use ferronode_functional_tests::wrk::Wrk;
use ferronode_functional_tests::{HttpConn, TestNode};
use ferronode_httpserver::header::{self, HeaderValue};
use ferronode_httpserver::{BoxFuture, Handler, HttpConfig, HttpServer, HttpStatus, Request, Response};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::runtime::Runtime;

/// The reply body of both trivial servers.
const BODY: &[u8] = b"{\"result\":0,\"error\":null,\"id\":1}\n";

/// A 2-worker multi-thread runtime, like the node's on a 2-core machine.
fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Starts the bare hyper server on `rt`; returns its address.
fn start_bare_hyper(rt: &Runtime) -> SocketAddr {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|req: hyper::Request<Incoming>| async move {
                        // read the body, as any real server has to
                        let _ = req.into_body().collect().await;
                        let mut resp = hyper::Response::new(Full::new(Bytes::from_static(BODY)));
                        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                        Ok::<_, Infallible>(resp)
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        addr
    })
}

/// The same fixed reply as the bare server, as a ferronode handler.
struct Trivial;

impl Handler for Trivial {
    fn handle(&self, _req: Request) -> BoxFuture<Response> {
        Box::pin(async {
            Response::with_body(HttpStatus::OK, Bytes::from_static(BODY))
                .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))
        })
    }
}

/// Starts a default-settings `HttpServer` with [`Trivial`] at "/" on `rt`.
fn start_ferronode(rt: &Runtime) -> (HttpServer, SocketAddr) {
    let mut config = HttpConfig::loopback(0);
    config.bind = vec!["127.0.0.1:0".parse().unwrap()];
    let mut server = rt.block_on(HttpServer::bind(config)).unwrap();
    server.routes().register("/", false, Arc::new(Trivial));
    let addr = server.local_addrs()[0];
    {
        let _guard = rt.enter();
        server.start();
    }
    (server, addr)
}

/// A wrk Lua script in a temporary file, removed on drop.
struct Script(PathBuf);

impl Script {
    fn post(name: &str, cookie: &str, body: &str) -> Self {
        let path = std::env::temp_dir().join(format!("ferronode-bench-http-{}-{name}.lua", std::process::id()));
        let lua = format!(
            "wrk.method = \"POST\"\n\
             wrk.headers[\"Authorization\"] = \"{}\"\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.body = [==[{body}]==]\n",
            basic_auth(cookie)
        );
        std::fs::write(&path, lua).unwrap();
        Self(path)
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs `wrk -t2 -c<conns> -d<secs>s` against 127.0.0.1:`port`.
fn wrk(port: u16, conns: usize, secs: u64, script: Option<&Script>) -> Wrk {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", &format!("-c{conns}"), &format!("-d{secs}s")]);
    if let Some(s) = script {
        cmd.arg("-s").arg(&s.0);
    }
    cmd.arg(format!("http://127.0.0.1:{port}/"));
    let out = cmd.output().expect("wrk runs (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    Wrk::parse(&text)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Median and maximum.
fn median_max(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

/// Raises this process's RLIMIT_NOFILE soft limit to the hard limit (the
/// node, a child, inherits it). Returns the new soft limit.
#[allow(unsafe_code)]
fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    lim.rlim_cur
}

/// The process's resident set size in MiB, from /proc/<pid>/status.
#[allow(clippy::cast_precision_loss)]
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb as f64 / 1024.0
}

/// Latencies of `tries` new clients doing connect + `getblockcount`.
fn new_client_latency(port: u16, cookie: &str, tries: usize) -> (Duration, Duration) {
    let samples = (0..tries)
        .map(|_| {
            let start = Instant::now();
            let mut conn = HttpConn::connect(port).unwrap();
            assert_eq!(conn.call(cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
            start.elapsed()
        })
        .collect();
    median_max(samples)
}

/// Sends `stop` on a connection opened beforehand; time until the process
/// has exited (with status 0).
fn stop_to_exit(node: &mut TestNode, cookie: &str) -> Duration {
    let mut stopper = node.connect();
    let start = Instant::now();
    assert_eq!(stopper.call(cookie, "stop", json!([])).unwrap(), Ok(json!("ferronode stopping")));
    let status = node.wait_for_exit(Duration::from_secs(60)).expect("node exits within 60 s");
    let elapsed = start.elapsed();
    assert!(status.success(), "exit status {status}");
    elapsed
}

/// Runs every job `rounds` times, in forward order in even rounds and in
/// backward order in odd ones, so that a drift in the machine's load favours
/// no job. Returns each job's results in round order.
fn run_rounds(jobs: &[&dyn Fn() -> Wrk], rounds: usize) -> Vec<Vec<Wrk>> {
    let mut results: Vec<Vec<Wrk>> = jobs.iter().map(|_| Vec::with_capacity(rounds)).collect();
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..jobs.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            results[i].push(jobs[i]());
        }
    }
    results
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One job's runs, summed up for a table row.
struct Summary {
    /// Median and range of requests/s.
    rps: (f64, f64, f64),
    /// Median of 2xx requests/s.
    ok_rps: f64,
    /// Median over rounds of (this job / baseline job of the same round), on 2xx requests/s.
    ratio: f64,
    /// Non-2xx replies over all rounds.
    non2xx: u64,
    /// Socket errors of every run that had any.
    errors: String,
    /// Latency line of the run with the median requests/s.
    latency: String,
}

impl Summary {
    fn new(runs: &[Wrk], baseline: &[Wrk]) -> Self {
        let rps: Vec<f64> = runs.iter().map(|r| r.rps).collect();
        let (lo, hi) = (rps.iter().copied().fold(f64::MAX, f64::min), rps.iter().copied().fold(0.0, f64::max));
        let med = median_f64(rps);
        let median_run = runs.iter().find(|r| r.rps.total_cmp(&med).is_eq()).unwrap();
        let errors: Vec<String> = runs.iter().filter_map(|r| r.socket_errors.clone()).collect();
        Self {
            rps: (med, lo, hi),
            ok_rps: median_f64(runs.iter().map(Wrk::ok_rps).collect()),
            ratio: median_f64(runs.iter().zip(baseline).map(|(r, b)| r.ok_rps() / b.ok_rps()).collect()),
            non2xx: runs.iter().map(|r| r.non2xx).sum(),
            errors: if errors.is_empty() { "none".to_owned() } else { errors.join("; ") },
            latency: median_run.latency.clone(),
        }
    }

    fn rps(&self) -> String {
        let (med, lo, hi) = self.rps;
        format!("{med:.0} ({lo:.0}-{hi:.0})")
    }
}

fn section_throughput(secs: u64, rounds: usize) {
    println!("### 1. Trivial handler, `wrk -t2 -c<N> -d{secs}s`, GET /, {rounds} rounds\n");
    println!("| server | connections | req/s, median (min-max) | 2xx req/s, median | ratio to bare hyper (2xx, median of rounds) | non-2xx, all rounds | socket errors | latency avg / stdev / max (median run) |");
    println!("|---|---|---|---|---|---|---|---|");
    let bare_rt = runtime();
    let bare = start_bare_hyper(&bare_rt);
    let ferro_rt = runtime();
    let (server, ferro) = start_ferronode(&ferro_rt);
    for conns in [32, 256] {
        let bare_job = || wrk(bare.port(), conns, secs, None);
        let ferro_job = || wrk(ferro.port(), conns, secs, None);
        let results = run_rounds(&[&bare_job, &ferro_job], rounds);
        for (name, runs) in [("bare hyper (baseline)", &results[0]), ("ferronode HttpServer", &results[1])] {
            let s = Summary::new(runs, &results[0]);
            println!(
                "| {name} | {conns} | {} | {:.0} | {:.2}x | {} | {} | {} |",
                s.rps(),
                s.ok_rps,
                s.ratio,
                s.non2xx,
                s.errors,
                s.latency
            );
        }
    }
    let m = server.metrics();
    println!(
        "\nferronode HttpServer metrics after the runs: {} connections accepted, {} requests rejected with 503 (queue full)\n",
        m.accepted, m.rejected
    );
    ferro_rt.block_on(server.stop());
    bare_rt.shutdown_background();
    ferro_rt.shutdown_background();
}

fn section_jsonrpc(secs: u64, rounds: usize) {
    println!("### 2. Authenticated JSON-RPC `getblockcount` through `ferronoded`, `wrk -t2 -c32 -d{secs}s`, POST /, {rounds} rounds\n");
    let mut node = TestNode::start_new(&["-rpcthreads=16"]);
    let cookie = node.cookie();
    let call = |v: &str| json!({"jsonrpc": v, "id": 1, "method": "getblockcount", "params": []});
    let legacy = call("1.0").to_string();
    let v2 = call("2.0").to_string();
    let batch = Value::Array((0..100).map(|_| call("2.0")).collect()).to_string();
    // each body answers 200 with the expected payload
    let mut conn = node.connect();
    for (body, calls) in [(&legacy, 1), (&v2, 1), (&batch, 100)] {
        let resp = conn.post_json(&cookie, body).unwrap();
        assert_eq!(resp.status, 200, "{}", resp.text());
        let n = resp.json().as_array().map_or(1, Vec::len);
        assert_eq!(n, calls, "{}", resp.text());
    }
    drop(conn);

    let bare_rt = runtime();
    let bare = start_bare_hyper(&bare_rt);
    let legacy_script = Script::post("legacy", &cookie, &legacy);
    let v2_script = Script::post("v2", &cookie, &v2);
    let batch_script = Script::post("batch", &cookie, &batch);
    let port = node.rpc_port;
    let bare_job = || wrk(bare.port(), 32, secs, Some(&legacy_script));
    let legacy_job = || wrk(port, 32, secs, Some(&legacy_script));
    let v2_job = || wrk(port, 32, secs, Some(&v2_script));
    let batch_job = || wrk(port, 32, secs, Some(&batch_script));
    let results = run_rounds(&[&bare_job, &legacy_job, &v2_job, &batch_job], rounds);
    println!("| server, request | req/s, median (min-max) | getblockcount calls/s, median | ratio to bare hyper (req/s, median of rounds) | non-2xx, all rounds | socket errors | latency avg / stdev / max (median run) |");
    println!("|---|---|---|---|---|---|---|");
    for (name, runs, calls) in [
        ("bare hyper, same bytes as the 1.0 request (baseline)", &results[0], None),
        ("ferronoded, JSON-RPC 1.0", &results[1], Some(1.0)),
        ("ferronoded, JSON-RPC 2.0", &results[2], Some(1.0)),
        ("ferronoded, batch of 100 2.0 calls", &results[3], Some(100.0)),
    ] {
        let s = Summary::new(runs, &results[0]);
        let calls = calls.map_or_else(|| "-".to_owned(), |c| format!("{:.0}", s.ok_rps * c));
        println!("| {name} | {} | {calls} | {:.2}x | {} | {} | {} |", s.rps(), s.ratio, s.non2xx, s.errors, s.latency);
    }
    println!();
    bare_rt.shutdown_background();
    node.stop_node();
}

/// Opens `idle` connections to 127.0.0.1:`port` that each complete one
/// `getblockcount` and stay open; then measures the server's (`pid`) RSS and
/// the latency of 100 new clients.
fn load_idle(port: u16, pid: u32, cookie: &str, idle: usize) -> (Vec<HttpConn>, f64, (Duration, Duration)) {
    let mut conns = Vec::with_capacity(idle);
    for _ in 0..idle {
        let mut c = HttpConn::connect(port).unwrap();
        assert_eq!(c.call(cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
        conns.push(c);
    }
    thread::sleep(Duration::from_millis(500));
    let rss = rss_mib(pid);
    let latency = new_client_latency(port, cookie, 100);
    (conns, rss, latency)
}

/// The hidden argument that makes this binary serve the bare hyper server
/// as a separate process (so its RSS can be measured on its own).
const SERVE_BARE: &str = "--serve-bare-hyper";

/// Child-process mode: serves bare hyper on 127.0.0.1, prints the port,
/// runs until killed.
fn serve_bare_hyper() -> ! {
    let rt = runtime();
    let addr = start_bare_hyper(&rt);
    println!("{}", addr.port());
    loop {
        thread::park();
    }
}

/// This binary re-executed in [`SERVE_BARE`] mode; killed on drop.
struct BareProcess {
    child: Child,
    port: u16,
}

impl BareProcess {
    fn spawn() -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg(SERVE_BARE)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap();
        Self { child, port }
    }
}

impl Drop for BareProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns the baseline stop → exit (no other connection).
fn section_idle() -> Duration {
    const IDLE: usize = 10_000;
    println!("### 3. Idle keep-alive connections (each completed one `getblockcount`)\n");
    println!("| server | idle connections | VmRSS | RSS per idle connection | new client connect + getblockcount, median / max of 100 | stop → exit | ratio to baseline (stop → exit) |");
    println!("|---|---|---|---|---|---|---|");
    let mut baseline_stop = Duration::ZERO;
    let mut baseline_rss = 0.0;
    for idle in [0, IDLE] {
        let mut node = TestNode::start_new(&["-rpcthreads=16"]);
        let cookie = node.cookie();
        let (conns, rss, (med, max)) = load_idle(node.rpc_port, node.pid(), &cookie, idle);
        let stop = stop_to_exit(&mut node, &cookie);
        drop(conns);
        let name = if idle == 0 {
            baseline_stop = stop;
            baseline_rss = rss;
            "ferronoded (baseline)"
        } else {
            "ferronoded"
        };
        println!(
            "| {name} | {idle} | {rss:.1} MiB | {} | {} / {} ms | {} ms | {:.2}x |",
            per_conn_kib(rss, baseline_rss, idle),
            ms(med),
            ms(max),
            ms(stop),
            stop.as_secs_f64() / baseline_stop.as_secs_f64()
        );
    }
    // the same load on a bare hyper server in its own process: what hyper and
    // tokio cost by themselves (the server ignores auth and answers `0`)
    let bare = BareProcess::spawn();
    let pid = bare.child.id();
    let (_, bare_rss, (med, max)) = load_idle(bare.port, pid, "x:y", 0);
    println!("| bare hyper process | 0 | {bare_rss:.1} MiB | - | {} / {} ms | - | - |", ms(med), ms(max));
    let (conns, rss, (med, max)) = load_idle(bare.port, pid, "x:y", IDLE);
    println!(
        "| bare hyper process | {IDLE} | {rss:.1} MiB | {} | {} / {} ms | - | - |",
        per_conn_kib(rss, bare_rss, IDLE),
        ms(med),
        ms(max)
    );
    drop(bare);
    drop(conns);
    println!();
    baseline_stop
}

/// (RSS − baseline RSS) / connections, in KiB, or "-" without connections.
#[allow(clippy::cast_precision_loss)]
fn per_conn_kib(rss_mib: f64, base_mib: f64, conns: usize) -> String {
    if conns == 0 {
        return "-".to_owned();
    }
    format!("{:.1} KiB", (rss_mib - base_mib) * 1024.0 / conns as f64)
}

/// How many of `streams` the server has neither closed nor answered.
fn still_open(streams: &[TcpStream]) -> usize {
    let mut buf = [0u8; 1];
    streams.iter().filter(|s| matches!(s.peek(&mut buf), Err(e) if e.kind() == ErrorKind::WouldBlock)).count()
}

fn section_slowloris(baseline_stop: Duration) {
    const SLOW: usize = 200;
    println!("### 4. {SLOW} slowloris connections (`-rpcservertimeout=600`, one header byte every 500 ms)\n");
    let mut node = TestNode::start_new(&["-rpcthreads=16", "-rpcservertimeout=600"]);
    let cookie = node.cookie();
    let streams: Vec<TcpStream> = (0..SLOW)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", node.rpc_port)).unwrap();
            s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    let writers: Vec<TcpStream> = streams.iter().map(|s| s.try_clone().unwrap()).collect();
    let quit = Arc::new(AtomicBool::new(false));
    let trickle = {
        let quit = Arc::clone(&quit);
        thread::spawn(move || {
            let mut writers = writers;
            let header = b"X-Slow: ";
            let mut i = 0;
            while !quit.load(Ordering::Relaxed) {
                let byte = header.get(i).copied().unwrap_or(b'a');
                for w in &mut writers {
                    let _ = w.write(&[byte]);
                }
                i += 1;
                thread::sleep(Duration::from_millis(500));
            }
        })
    };
    thread::sleep(Duration::from_secs(2));
    let (med, max) = new_client_latency(node.rpc_port, &cookie, 20);
    let open = still_open(&streams);
    let stop = stop_to_exit(&mut node, &cookie);
    quit.store(true, Ordering::Relaxed);
    trickle.join().unwrap();
    drop(streams);
    println!("| slow connections still open at `stop` | normal client connect + getblockcount, median / max of 20 | stop → exit | ratio to section 3 baseline (stop → exit) |");
    println!("|---|---|---|---|");
    println!(
        "| {open} of {SLOW} | {} / {} ms | {} ms | {:.2}x |\n",
        ms(med),
        ms(max),
        ms(stop),
        stop.as_secs_f64() / baseline_stop.as_secs_f64()
    );
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some(SERVE_BARE) {
        serve_bare_hyper();
    }
    let arg = |i: usize, default: u64| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let secs = arg(1, 5).clamp(1, 10);
    let rounds = usize::try_from(arg(2, 3).max(1)).unwrap();
    let nofile = raise_nofile_limit();
    // build ferronoded before anything is timed
    let _ = ferronode_functional_tests::ferronoded();
    println!(
        "ferronode HTTP benchmark: {secs} s per wrk run, {rounds} rounds of each wrk run, RLIMIT_NOFILE {nofile}, 127.0.0.1 only\n"
    );
    // optional third argument: which sections to run, e.g. "34" (default all)
    let only = std::env::args().nth(3).unwrap_or_else(|| "1234".to_owned());
    if only.contains('1') {
        section_throughput(secs, rounds);
    }
    if only.contains('2') {
        section_jsonrpc(secs, rounds);
    }
    if only.contains('3') || only.contains('4') {
        let baseline_stop = section_idle();
        if only.contains('4') {
            section_slowloris(baseline_stop);
        }
    }
}
