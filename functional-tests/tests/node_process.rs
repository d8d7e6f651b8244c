//! The node as a process: the data-directory lock, the PID file, the
//! settings file, start-up and shutdown notifications, `-server=0`, and the
//! fatal-error abort when a block cannot be written.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ferronode_functional_tests::TestNode;
use serde_json::json;

fn wait_for_file(path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn lock_pid_and_settings() {
    let mut node = TestNode::start_new(&[]);
    let net = node.net_dir();
    let pid: u32 = std::fs::read_to_string(net.join("ferronoded.pid")).unwrap().trim().parse().unwrap();
    assert_eq!(pid, node.pid());
    assert_eq!(std::fs::read_to_string(net.join("settings.json")).unwrap(), "{\n}\n");
    assert!(net.join(".lock").exists());
    // a second node on the same data directory
    let mut second = TestNode::new(&[]);
    second.rpc_port = ferronode_functional_tests::free_port();
    let datadir = format!("-datadir={}", node.datadir.path().display());
    second.assert_start_raises_init_error(
        &[&datadir],
        &format!("Error: Cannot obtain a lock on directory {}. ferronode is probably already running.", net.display()),
    );
    node.stop_node();
    assert!(!net.join("ferronoded.pid").exists(), "the PID file is removed at stop");
    // custom and disabled files
    node.start(&["-pid=custom.pid", "-nosettings"]);
    node.wait_for_rpc_connection();
    std::fs::remove_file(net.join("settings.json")).unwrap();
    assert!(net.join("custom.pid").exists());
    node.stop_node();
    assert!(!net.join("settings.json").exists());
}

#[test]
fn startup_and_shutdown_notify() {
    let mut node = TestNode::new(&[]);
    let started = node.datadir.path().join("started");
    let stopping = node.datadir.path().join("stopping");
    node.start(&[
        &format!("-startupnotify=touch {}", started.display()),
        &format!("-shutdownnotify=touch {}", stopping.display()),
    ]);
    node.wait_for_rpc_connection();
    wait_for_file(&started);
    assert!(!stopping.exists());
    node.stop_node();
    assert!(stopping.exists(), "shutdownnotify ran, and was waited for, before exit");
}

#[test]
fn server_off_means_no_rpc() {
    let mut node = TestNode::new(&["-server=0"]);
    node.start(&[]);
    std::thread::sleep(Duration::from_millis(500));
    assert!(std::net::TcpStream::connect(("127.0.0.1", node.rpc_port)).is_err(), "nothing listens");
    assert!(!node.net_dir().join(".cookie").exists());
    node.signal(libc::SIGTERM);
    node.wait_until_stopped(Duration::from_secs(5), false);
}

#[test]
fn failed_block_write_aborts_the_node() {
    let mut node = TestNode::start_new(&[]);
    let cookie = node.cookie();
    // idle keep-alive connections must not hold the abort up
    let idle: Vec<_> = (0..100)
        .map(|_| {
            let mut c = node.connect();
            assert_eq!(c.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)));
            c
        })
        .collect();
    // Tests run as root, for whom permissions do not stop writes: put a
    // directory where the block file is, so appending to it fails.
    let blk = node.net_dir().join("blocks/blk00000.dat");
    std::fs::remove_file(&blk).unwrap();
    std::fs::create_dir(&blk).unwrap();
    let started = Instant::now();
    node.assert_debug_log(&["Failed to write block."], || {
        let err =
            node.try_rpc("generatetoaddress", json!([1, "mjTkW3DjgyZck4KbiRusZsqTgaYTxdSz6z"])).unwrap().unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (-32603, "ProcessNewBlock, block not accepted"));
    });
    node.wait_until_stopped(Duration::from_secs(5), true);
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        node.stderr().trim(),
        "Error: A fatal internal error occurred, see debug.log for details: Failed to write block."
    );
    drop(idle);
    // a restart on the damaged state fails
    node.start(&[]);
    let status = node.wait_for_exit(Duration::from_secs(60)).expect("the node exits");
    assert_eq!(status.code(), Some(1));
    assert!(node.stderr().starts_with("Error: "));
}

#[test]
fn logging_rpc_sighup_and_shrink() {
    let mut node = TestNode::new(&[]);
    std::fs::create_dir_all(node.net_dir()).unwrap();
    std::fs::write(node.debug_log_path(), vec![b'x'; 12_000_000]).unwrap();
    node.start(&[]);
    node.wait_for_rpc_connection();
    let size = std::fs::metadata(node.debug_log_path()).unwrap().len();
    assert!(size < 11_000_000, "-shrinkdebugfile keeps the last 10 MB, got {size}");

    let cats = node.rpc("logging", json!([]));
    assert_eq!(cats["http"], json!(false));
    assert!(cats.as_object().unwrap().keys().is_sorted());
    assert_eq!(node.rpc("logging", json!([["http"]]))["http"], json!(true));
    node.assert_debug_log(&["[http] Received a POST request for / from 127.0.0.1:"], || {
        node.rpc("getblockcount", json!([]));
    });
    assert_eq!(node.rpc("logging", json!([[], ["http"]]))["http"], json!(false));
    let err = node.try_rpc("logging", json!([["bogus"]])).unwrap().unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (-8, "unknown logging category bogus"));

    // SIGHUP reopens the log after rotation
    let rotated = node.net_dir().join("debug.log.1");
    std::fs::rename(node.debug_log_path(), &rotated).unwrap();
    node.signal(libc::SIGHUP);
    std::thread::sleep(Duration::from_millis(300));
    node.stop_node();
    let fresh = std::fs::read_to_string(node.debug_log_path()).unwrap();
    assert!(fresh.contains("Shutdown: done"), "{fresh}");
    assert!(!String::from_utf8_lossy(&std::fs::read(&rotated).unwrap()).contains("Shutdown: done"));
}

#[test]
fn log_line_format_and_unwritable_datadir() {
    let mut node = TestNode::start_new(&["-logtimemicros", "-logthreadnames", "-debug=http"]);
    node.rpc("getblockcount", json!([]));
    node.stop_node();
    let log = node.debug_log();
    let line = log.lines().find(|l| l.contains("[http] Received a POST request")).expect("an http line");
    // 2026-11-26T17:09:00.123456Z [thread] [http] Received ...
    let (ts, rest) = line.split_once(' ').unwrap();
    assert_eq!(ts.len(), 27, "{line}");
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T' && ts.as_bytes()[19] == b'.');
    assert!(rest.starts_with('[') && rest.contains("] [http] Received a POST request"), "{line}");

    let status = std::process::Command::new(ferronode_functional_tests::ferronoded())
        .arg("-datadir=/proc/self")
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        stderr.starts_with("Error: Cannot write to directory '/proc/self/regtest'; check permissions."),
        "{stderr}"
    );
}

#[test]
fn loglevel_and_unknown_categories() {
    let mut node = TestNode::new(&[]);
    node.assert_start_raises_init_error(
        &["-loglevel=abc"],
        "Error: Unsupported global logging level -loglevel=abc. Valid values: info, debug, trace.",
    );
    node.assert_start_raises_init_error(&["-debug=abc"], "Error: Unsupported logging category -debug=abc.");
    node.assert_start_raises_init_error(
        &["-debugexclude=abc"],
        "Error: Unsupported logging category -debugexclude=abc.",
    );
    node.start(&["-loglevel=net:abc"]);
    let status = node.wait_for_exit(std::time::Duration::from_secs(30)).unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(node
        .stderr()
        .starts_with("Error: Unsupported category-specific logging level -loglevel=net:abc. Expected -loglevel=<category>:<loglevel>. Valid categories: "));

    // -loglevel=http:info hides the http category's debug lines; the
    // default level (debug) shows them
    node.start(&["-debug=http", "-loglevel=http:info"]);
    node.wait_for_rpc_connection();
    node.stop_node();
    assert!(!node.debug_log().contains("[http] Starting HTTP server"));
    node.start(&["-debug=http", "-loglevel=trace"]);
    node.wait_for_rpc_connection();
    node.stop_node();
    assert!(node.debug_log().contains("[http] Starting HTTP server"));
}

#[test]
fn help_and_version_exit_zero() {
    for (flag, expect) in [("-version", "version"), ("-help", "Usage:"), ("-?", "Usage:")] {
        let out = std::process::Command::new(ferronode_functional_tests::ferronoded()).arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(expect), "{flag}: {text}");
    }
}

#[test]
fn config_sections_prefixes_includeconf_and_command_line_precedence() {
    let mut node = TestNode::new(&[]);
    let txindex_on = |node: &TestNode| node.rpc("getindexinfo", json!([])).get("txindex").is_some();

    // the [regtest] section wins over the top level
    node.append_to_config("txindex=0\n[regtest]\ntxindex=1\n");
    node.start(&[]);
    node.wait_for_rpc_connection();
    assert!(txindex_on(&node));
    node.stop_node();

    // the command line wins over the file
    node.start(&["-txindex=0"]);
    node.wait_for_rpc_connection();
    assert!(!txindex_on(&node));
    node.stop_node();

    // regtest.name= prefixes, and includeconf relative to the datadir
    node.clear_config();
    node.append_to_config("regtest.txindex=1\nincludeconf=extra.conf\n");
    std::fs::write(node.datadir.path().join("extra.conf"), "uacomment=included\n").unwrap();
    node.start(&[]);
    node.wait_for_rpc_connection();
    assert!(txindex_on(&node));
    let subversion = node.rpc("getnetworkinfo", json!([]))["subversion"].as_str().unwrap().to_owned();
    assert!(subversion.ends_with("(included)/"), "{subversion}");
    node.stop_node();
}
