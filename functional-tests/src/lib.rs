//! A harness that starts the real `ferronoded` binary and talks to it the
//! way clients do, shaped like Bitcoin Core's functional test framework
//! (`TestNode`, `wait_until_stopped`, `assert_debug_log`,
//! `assert_start_raises_init_error`).
//!
//! The binaries are taken from `$FERRONODED` and `$FERRONODE_CLI` when set;
//! otherwise they are built (once per test process) with the same cargo
//! profile as the tests. [`TestNodeCli`] runs `ferronode-cli` against a node
//! as Core's `TestNodeCLI` runs bitcoin-cli.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)] // a test harness panics on failure by design

pub mod http;
pub mod op_true;
pub mod wrk;

use std::fs;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub use http::{HttpConn, HttpResponse};

/// Path of the `ferronoded` binary under test.
pub fn ferronoded() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built_binary("ferronode-node", "ferronoded", "FERRONODED"))
}

/// Path of the `ferronode-cli` binary under test: `$FERRONODE_CLI` when
/// set, else built like [`ferronoded`].
pub fn ferronode_cli() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built_binary("ferronode-cli", "ferronode-cli", "FERRONODE_CLI"))
}

/// `$<env>` if set, else the binary `name` of `package`, built with the
/// same cargo profile as the running test.
fn built_binary(package: &str, name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    // tests run from <target>/<profile>/deps/<name>-<hash>, binaries
    // (the benchmarks) from <target>/<profile>/<name>
    let exe = std::env::current_exe().unwrap();
    let mut profile_dir = exe.parent().unwrap().to_path_buf();
    if profile_dir.file_name().is_some_and(|n| n == "deps") {
        profile_dir.pop();
    }
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", package, "--bin", name, "--manifest-path"]).arg(&manifest);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building {name} failed");
    profile_dir.join(name)
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A temporary directory, removed on drop (kept when `FERRONODE_KEEP_TMP`
/// is set, for post-mortems).
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A fresh, empty directory.
    pub fn new(tag: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ferronode-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        Self(p)
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("FERRONODE_KEEP_TMP").is_none() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// An RPC error as returned by the node: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// Error message.
    pub message: String,
}

/// One ferronoded process with its own datadir and ports.
#[derive(Debug)]
pub struct TestNode {
    /// The node's base datadir.
    pub datadir: TempDir,
    /// The RPC port.
    pub rpc_port: u16,
    /// The P2P port (`-port`); the node listens on 127.0.0.1 only, as
    /// Core's framework's nodes do (`bind=127.0.0.1`).
    pub p2p_port: u16,
    /// Arguments added to every start.
    pub extra_args: Vec<String>,
    /// A file-descriptor limit (RLIMIT_NOFILE) for the process, if set.
    pub fd_limit: Option<u64>,
    child: Option<Child>,
    stderr_path: PathBuf,
    stdout_path: PathBuf,
}

impl TestNode {
    /// A node that is not running yet.
    pub fn new(extra_args: &[&str]) -> Self {
        let datadir = TempDir::new("node");
        let stderr_path = datadir.path().join("stderr.txt");
        let stdout_path = datadir.path().join("stdout.txt");
        Self {
            datadir,
            rpc_port: free_port(),
            p2p_port: free_port(),
            extra_args: extra_args.iter().map(|s| (*s).to_owned()).collect(),
            fd_limit: None,
            child: None,
            stderr_path,
            stdout_path,
        }
    }

    /// Starts a node and waits until RPC answers.
    pub fn start_new(extra_args: &[&str]) -> Self {
        let mut node = Self::new(extra_args);
        node.start(&[]);
        node.wait_for_rpc_connection();
        node
    }

    /// Appends lines to `<datadir>/bitcoin.conf`.
    pub fn append_to_config(&self, text: &str) {
        use std::io::Write as _;
        let mut f =
            fs::OpenOptions::new().create(true).append(true).open(self.datadir.path().join("bitcoin.conf")).unwrap();
        writeln!(f, "{text}").unwrap();
    }

    /// Removes `<datadir>/bitcoin.conf`.
    pub fn clear_config(&self) {
        let _ = fs::remove_file(self.datadir.path().join("bitcoin.conf"));
    }

    /// The RSS of the process in KiB (from /proc).
    pub fn rss_kib(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    }

    /// `<datadir>/regtest`.
    pub fn net_dir(&self) -> PathBuf {
        self.datadir.path().join("regtest")
    }

    /// The debug log's path.
    pub fn debug_log_path(&self) -> PathBuf {
        self.net_dir().join("debug.log")
    }

    /// The process id, while running.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("node is running").id()
    }

    fn spawn(&mut self, args: &[&str]) {
        assert!(self.child.is_none(), "node already running");
        let _ = fs::remove_file(self.net_dir().join(".cookie"));
        let mut cmd = Command::new(ferronoded());
        cmd.arg(format!("-datadir={}", self.datadir.path().display()))
            .arg(format!("-rpcport={}", self.rpc_port))
            .arg(format!("-port={}", self.p2p_port))
            .arg("-bind=127.0.0.1")
            .arg("-printtoconsole=0")
            .args(&self.extra_args)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&self.stdout_path).unwrap())
            .stderr(fs::File::create(&self.stderr_path).unwrap());
        if let Some(limit) = self.fd_limit {
            use std::os::unix::process::CommandExt as _;
            let rl = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            // SAFETY: setrlimit is async-signal-safe and only reads `rl`,
            // which is copied into the closure.
            #[allow(unsafe_code)]
            unsafe {
                cmd.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &raw const rl) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        self.child = Some(cmd.spawn().expect("ferronoded starts"));
    }

    /// Starts the process with `args` on top of the defaults.
    pub fn start(&mut self, args: &[&str]) {
        self.spawn(args);
    }

    /// Waits until the cookie exists and `getblockcount` answers (up to 60 s),
    /// tolerating warmup and refused connections, as Core's framework does.
    pub fn wait_for_rpc_connection(&mut self) {
        self.wait_for_rpc_with(None);
    }

    /// Like [`wait_for_rpc_connection`](Self::wait_for_rpc_connection), with
    /// fixed `user:password` credentials instead of the cookie.
    pub fn wait_for_rpc_with(&mut self, credentials: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("ferronoded exited with {status} during initialization: {}", self.stderr());
            }
            let creds =
                credentials.map(str::to_owned).or_else(|| fs::read_to_string(self.net_dir().join(".cookie")).ok());
            if let Some(creds) = creds {
                let attempt =
                    HttpConn::connect(self.rpc_port).and_then(|mut c| c.call(&creds, "getblockcount", json!([])));
                match attempt {
                    Ok(Ok(_)) => return,
                    Ok(Err(e)) if e.code == -28 => {}
                    Ok(Err(e)) => panic!("unexpected error while waiting for RPC: {e:?}"),
                    Err(_) => {}
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("RPC did not come up within 60 s");
    }

    /// `user:password` from the cookie file.
    pub fn cookie(&self) -> String {
        fs::read_to_string(self.net_dir().join(".cookie")).unwrap()
    }

    /// A new keep-alive connection to the RPC port.
    pub fn connect(&self) -> HttpConn {
        HttpConn::connect(self.rpc_port).unwrap()
    }

    /// Calls `method` on a fresh connection; an I/O error is the outer error.
    pub fn try_rpc(&self, method: &str, params: Value) -> std::io::Result<Result<Value, RpcError>> {
        let mut conn = HttpConn::connect(self.rpc_port)?;
        conn.call(&self.cookie(), method, params)
    }

    /// Calls `method` and returns its result, panicking on any error.
    pub fn rpc(&self, method: &str, params: Value) -> Value {
        match self.try_rpc(method, params) {
            Ok(Ok(v)) => v,
            other => panic!("{method} failed: {other:?}"),
        }
    }

    /// Whatever the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// The debug log so far.
    pub fn debug_log(&self) -> String {
        fs::read_to_string(self.debug_log_path()).unwrap_or_default()
    }

    /// Sends a signal to the process.
    pub fn signal(&self, sig: i32) {
        let pid = libc::pid_t::try_from(self.pid()).unwrap();
        // SAFETY-free: libc::kill only reads its integer arguments.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits up to `timeout` for the process to exit; returns its status.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Core's `wait_until_stopped`: the process must exit within `timeout`
    /// with code 0 (or 1 when `expect_error`) and, unless an error is
    /// expected, an empty stderr.
    pub fn wait_until_stopped(&mut self, timeout: Duration, expect_error: bool) {
        let status = self.wait_for_exit(timeout).unwrap_or_else(|| {
            self.kill();
            panic!("node did not stop within {timeout:?}");
        });
        let expected = i32::from(expect_error);
        assert_eq!(status.code(), Some(expected), "exit status; stderr: {}", self.stderr());
        if !expect_error {
            assert_eq!(self.stderr().trim(), "", "stderr must be empty");
        }
    }

    /// Calls `stop` and waits until the process has exited cleanly.
    pub fn stop_node(&mut self) {
        let reply = self.rpc("stop", json!([]));
        assert_eq!(reply, json!("ferronode stopping"));
        self.wait_until_stopped(Duration::from_secs(60), false);
    }

    /// Core's `assert_debug_log`: runs `f`, then checks that every string in
    /// `expected` appears in what the log gained meanwhile (waiting up to 5 s
    /// for it to be written).
    pub fn assert_debug_log(&self, expected: &[&str], f: impl FnOnce()) {
        let before = fs::metadata(self.debug_log_path()).map(|m| m.len()).unwrap_or(0);
        f();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut text = String::new();
            if let Ok(mut file) = fs::File::open(self.debug_log_path()) {
                let _ = std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(before));
                let _ = file.read_to_string(&mut text);
            }
            let missing: Vec<&&str> = expected.iter().filter(|e| !text.contains(**e)).collect();
            if missing.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "missing from debug.log: {missing:?}\n--- log ---\n{text}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Core's `assert_start_raises_init_error`: starting with `args` must fail
    /// with a non-zero exit code and exactly `expected` on stderr.
    pub fn assert_start_raises_init_error(&mut self, args: &[&str], expected: &str) {
        self.spawn(args);
        let status = self.wait_for_exit(Duration::from_secs(60)).unwrap_or_else(|| {
            self.kill();
            panic!("node did not exit on an init error");
        });
        assert_ne!(status.code(), Some(0), "expected a failing exit status");
        assert_eq!(self.stderr().trim(), expected.trim());
    }

    /// Kills the process, if it still runs.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What one `ferronode-cli` run printed, and its exit code.
#[derive(Debug, Clone)]
pub struct CliOutput {
    /// The exit code (`None` if killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `ferronode-cli` against one node, like Core's `TestNodeCLI`: every
/// run gets the node's `-datadir` and `-rpcport`, then the options given
/// with [`option`](Self::option), then the words of the call.
#[derive(Debug, Clone)]
pub struct TestNodeCli {
    options: Vec<String>,
    stdin: Option<String>,
}

impl TestNodeCli {
    /// A runner for a node with this datadir and RPC port.
    pub fn new(datadir: &Path, rpc_port: u16) -> Self {
        Self { options: vec![format!("-datadir={}", datadir.display()), format!("-rpcport={rpc_port}")], stdin: None }
    }

    /// A runner that passes no options of its own (for tests of `-datadir`,
    /// `-conf` and the defaults).
    pub fn bare() -> Self {
        Self { options: Vec::new(), stdin: None }
    }

    /// Adds an option (`-rpcwait`, `-rpcuser=x`, ...).
    #[must_use]
    pub fn option(mut self, option: &str) -> Self {
        self.options.push(option.to_owned());
        self
    }

    /// Feeds `text` to standard input (otherwise it is empty).
    #[must_use]
    pub fn input(mut self, text: &str) -> Self {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Runs the client with the options and then `words`.
    pub fn run(&self, words: &[&str]) -> CliOutput {
        use std::io::Write as _;
        let mut child = Command::new(ferronode_cli())
            .args(&self.options)
            .args(words)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ferronode-cli starts");
        let mut stdin = child.stdin.take().unwrap();
        if let Some(text) = &self.stdin {
            // The client may exit without reading (an early error): ignore EPIPE.
            let _ = stdin.write_all(text.as_bytes());
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        CliOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Core's `TestNodeCLI.send_cli`: an array of params is passed by
    /// position, an object with `-named`; each value as its JSON text,
    /// strings bare. A failure printed as `error code:`/`error message:` is
    /// an [`RpcError`]; the output is parsed as JSON when it is JSON, else
    /// returned as a string (empty output is null).
    pub fn call(&self, method: &str, params: &Value) -> Result<Value, RpcError> {
        fn word(v: &Value) -> String {
            match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        }
        let mut words: Vec<String> = Vec::new();
        match params {
            Value::Object(m) => {
                words.push("-named".into());
                words.push(method.into());
                words.extend(m.iter().map(|(k, v)| format!("{k}={}", word(v))));
            }
            Value::Array(a) => {
                words.push(method.into());
                words.extend(a.iter().map(word));
            }
            other => panic!("params must be an array or an object, not {other}"),
        }
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = self.run(&words);
        if out.code != Some(0) {
            let rest =
                out.stderr.strip_prefix("error code: ").unwrap_or_else(|| panic!("ferronode-cli failed: {out:?}"));
            let (code, message) = rest.split_once("\nerror message:\n").unwrap();
            return Err(RpcError { code: code.parse().unwrap(), message: message.trim_end_matches('\n').to_owned() });
        }
        let text = out.stdout.strip_suffix('\n').unwrap_or(&out.stdout);
        if text.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned())))
    }
}

impl TestNode {
    /// A `ferronode-cli` runner for this node (`-datadir`, `-rpcport`).
    pub fn cli(&self) -> TestNodeCli {
        TestNodeCli::new(self.datadir.path(), self.rpc_port)
    }
}

/// Core's `connect_nodes(a, b)`: `a` makes a manual connection to `b`
/// (`addnode … onetry`), then both must list each other and have had a
/// ping answered (`bytesrecv_per_msg.pong`).
pub fn connect_nodes(a: &TestNode, b: &TestNode) {
    let a_ver = a.rpc("getnetworkinfo", json!([]))["subversion"].clone();
    let b_ver = b.rpc("getnetworkinfo", json!([]))["subversion"].clone();
    a.rpc("addnode", json!([format!("127.0.0.1:{}", b.p2p_port), "onetry"]));
    let ponged = |node: &TestNode, other_ver: &Value, inbound: bool| {
        node.rpc("getpeerinfo", json!([])).as_array().unwrap().iter().any(|p| {
            p["subver"] == *other_ver
                && p["inbound"] == json!(inbound)
                && p["bytesrecv_per_msg"]["pong"].as_u64().unwrap_or(0) >= 29
        })
    };
    wait_until(Duration::from_secs(30), "the nodes connect", || ponged(a, &b_ver, false) && ponged(b, &a_ver, true));
}

/// Waits until `f` holds, polling every 50 ms; panics with `what` after
/// `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Core's `sync_blocks`: waits until every node has the same best block.
pub fn sync_blocks(nodes: &[&TestNode], timeout: Duration) {
    wait_until(timeout, "the nodes have the same tip", || {
        let tips: Vec<Value> = nodes.iter().map(|n| n.rpc("getbestblockhash", json!([]))).collect();
        tips.windows(2).all(|w| w[0] == w[1])
    });
}

/// Core's `sync_mempools`: waits until every node's mempool is the same.
pub fn sync_mempools(nodes: &[&TestNode], timeout: Duration) {
    wait_until(timeout, "the nodes have the same mempool", || {
        let pools: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| {
                let mut v: Vec<String> = n
                    .rpc("getrawmempool", json!([]))
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap().to_owned())
                    .collect();
                v.sort();
                v
            })
            .collect();
        pools.windows(2).all(|w| w[0] == w[1])
    });
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Sets `block`'s merkle root and finds a nonce that meets its (regtest)
/// target, for tests that build blocks by hand.
pub fn grind(block: &mut bitcoin::Block) {
    block.header.merkle_root = block.compute_merkle_root().expect("test blocks have transactions");
    while block.header.validate_pow(block.header.target()).is_err() {
        block.header.nonce += 1;
    }
}
