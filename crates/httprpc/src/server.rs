//! The RPC server proper: the command table with its lifecycle (StartRPC,
//! InterruptRPC, StopRPC), warmup, and the record of running commands.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;

use crate::auth::CookieFile;
use crate::request::{JsonRpcRequest, Params};
use crate::table::{Command, CommandFn, RpcTable};
use crate::{codes, RpcError};

/// Asks the embedding program to shut down (the `stop` command calls it).
pub type ShutdownRequest = Arc<dyn Fn() + Send + Sync>;

const ACTIVE_SHARDS: usize = 16;

/// The warmup text Core shows until the node reports its first init step.
pub const WARMUP_STARTED: &str = "RPC server started";

struct Active {
    id: u64,
    method: &'static str,
    started: Instant,
}

/// One shard of the running-command list, on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
struct ActiveShard(Mutex<ActiveList>);

#[derive(Default)]
struct ActiveList {
    next_id: u64,
    running: Vec<Active>,
}

/// Counts threads as they first run a command, to spread them over shards.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard: a worker thread uses its own, so two workers
    /// running commands at once take different locks on different cache
    /// lines.
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % ACTIVE_SHARDS;
}

struct State {
    table: RpcTable,
    /// true between StartRPC and InterruptRPC.
    running: AtomicBool,
    /// Fires at InterruptRPC: long-running commands return `Shutting down`.
    interrupted: watch::Sender<bool>,
    /// Fires at StopRPC: long polls return the current state.
    stopped: watch::Sender<bool>,
    /// `Some(status)` while warming up.
    warmup: Mutex<Option<String>>,
    /// Mirrors `warmup.is_some()` so the hot path needs no lock.
    in_warmup: AtomicBool,
    /// Running commands, sharded by thread so concurrent calls rarely share
    /// a lock.
    active: [ActiveShard; ACTIVE_SHARDS],
    started_at: Instant,
    log_path: PathBuf,
    /// `-rpcdoccheck`: results checked against their schema.
    doc_check: bool,
    shutdown: ShutdownRequest,
    cookie: Mutex<Option<CookieFile>>,
}

/// The RPC server's settings.
#[derive(Debug, Clone, Default)]
pub struct RpcConfig {
    /// What `getrpcinfo` reports as the log file.
    pub log_path: PathBuf,
    /// `-rpcdoccheck` (Core's default: off; its test framework turns it
    /// on): every result of a command with a schema is checked against its
    /// documented shape, a mismatch answered with Core's internal-bug error.
    pub doc_check: bool,
}

/// The RPC server: cheap to clone, shared by the HTTP handler and the node.
#[derive(Clone)]
pub struct RpcServer {
    state: Arc<State>,
}

impl std::fmt::Debug for RpcServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcServer").field("running", &self.is_running()).finish_non_exhaustive()
    }
}

impl RpcServer {
    /// A server over `table`, in warmup, not yet running. `log_path` is what
    /// `getrpcinfo` reports; `shutdown` is called by `stop`.
    #[must_use]
    pub fn new(table: RpcTable, log_path: PathBuf, shutdown: ShutdownRequest) -> Self {
        Self::with_config(table, RpcConfig { log_path, doc_check: false }, shutdown)
    }

    /// A server over `table` with `config`, in warmup, not yet running.
    #[must_use]
    pub fn with_config(table: RpcTable, config: RpcConfig, shutdown: ShutdownRequest) -> Self {
        let RpcConfig { log_path, doc_check } = config;
        Self {
            state: Arc::new(State {
                table,
                running: AtomicBool::new(false),
                interrupted: watch::channel(false).0,
                stopped: watch::channel(false).0,
                warmup: Mutex::new(Some(WARMUP_STARTED.to_owned())),
                in_warmup: AtomicBool::new(true),
                active: std::array::from_fn(|_| ActiveShard::default()),
                started_at: Instant::now(),
                log_path,
                doc_check,
                shutdown,
                cookie: Mutex::new(None),
            }),
        }
    }

    /// StartRPC: marks the server running. Does not end warmup.
    pub fn start(&self) {
        tracing::debug!(target: "rpc", "Starting RPC");
        self.state.running.store(true, Ordering::SeqCst);
    }

    /// InterruptRPC: long-running commands stop waiting and return
    /// `Shutting down` (-9). Idempotent.
    pub fn interrupt(&self) {
        self.state.running.store(false, Ordering::SeqCst);
        if !self.state.interrupted.send_replace(true) {
            tracing::debug!(target: "rpc", "Interrupting RPC");
        }
    }

    /// StopRPC: deletes the cookie this process wrote and wakes long polls.
    /// Idempotent; implies [`interrupt`](Self::interrupt).
    pub fn stop(&self) {
        self.interrupt();
        if self.state.stopped.send_replace(true) {
            return;
        }
        tracing::debug!(target: "rpc", "Stopping RPC");
        let cookie = self.state.cookie.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(cookie) = cookie {
            cookie.delete();
        }
        tracing::debug!(target: "rpc", "RPC stopped.");
    }

    /// Whether StartRPC ran and InterruptRPC did not.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.state.running.load(Ordering::SeqCst)
    }

    /// Replaces the warmup status text (Core's init messages).
    pub fn set_warmup_status(&self, status: impl Into<String>) {
        let mut w = self.state.warmup.lock().unwrap_or_else(PoisonError::into_inner);
        if w.is_some() {
            *w = Some(status.into());
        }
    }

    /// Ends warmup: from now on commands run.
    pub fn set_warmup_finished(&self) {
        *self.state.warmup.lock().unwrap_or_else(PoisonError::into_inner) = None;
        self.state.in_warmup.store(false, Ordering::Release);
    }

    /// The warmup status, while warming up.
    #[must_use]
    pub fn warmup_status(&self) -> Option<String> {
        if !self.state.in_warmup.load(Ordering::Acquire) {
            return None;
        }
        self.state.warmup.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub(crate) fn adopt_cookie(&self, cookie: CookieFile) {
        *self.state.cookie.lock().unwrap_or_else(PoisonError::into_inner) = Some(cookie);
    }

    /// The command table.
    #[must_use]
    pub fn table(&self) -> &RpcTable {
        &self.state.table
    }

    /// Runs one parsed request (Core's `CRPCTable::execute`).
    ///
    /// # Errors
    /// -28 during warmup, -32601 for an unknown method, the parameter errors,
    /// and whatever the command returns.
    pub async fn execute(&self, req: JsonRpcRequest, caller: Caller) -> Result<Value, RpcError> {
        match self.execute_now(req, caller) {
            Execution::Done(outcome) => outcome,
            Execution::Pending(req, caller) => self.run(req, caller).await,
        }
    }

    /// [`execute`](Self::execute) for a caller that would rather not wait:
    /// a request that can be answered at once (an error, or a command
    /// registered with [`Command::sync`](crate::Command::sync)) is; one for a
    /// command that may wait is handed back.
    #[must_use]
    pub fn execute_now(&self, req: JsonRpcRequest, caller: Caller) -> Execution {
        let cmd = match self.lookup(&req.method) {
            Ok(cmd) => cmd,
            Err(e) => return Execution::Done(Err(e)),
        };
        let CommandFn::Sync(f) = &cmd.handler else {
            return Execution::Pending(req, caller);
        };
        let _active = ActiveGuard::new(&self.state, cmd.name);
        Execution::Done(
            positional(cmd, req.params)
                .and_then(|params| f(params, &CallContext { server: Cow::Borrowed(self), caller }))
                .and_then(|v| self.doc_checked(cmd, v)),
        )
    }

    async fn run(&self, req: JsonRpcRequest, caller: Caller) -> Result<Value, RpcError> {
        let cmd = self.lookup(&req.method)?;
        let _active = ActiveGuard::new(&self.state, cmd.name);
        let params = positional(cmd, req.params)?;
        let result = match &cmd.handler {
            CommandFn::Sync(f) => f(params, &CallContext { server: Cow::Borrowed(self), caller }),
            CommandFn::Async(f) => f(params, CallContext { server: Cow::Owned(self.clone()), caller }).await,
        };
        result.and_then(|v| self.doc_checked(cmd, v))
    }

    /// The result, or with `-rpcdoccheck` Core's internal-bug error when it
    /// does not match the command's schema.
    fn doc_checked(&self, cmd: &Command, result: Value) -> Result<Value, RpcError> {
        if self.state.doc_check {
            cmd.check_result(&result)?;
        }
        Ok(result)
    }

    /// The command for `method`, unless warming up.
    fn lookup(&self, method: &str) -> Result<&Command, RpcError> {
        if let Some(status) = self.warmup_status() {
            return Err(RpcError::new(codes::RPC_IN_WARMUP, status));
        }
        self.state.table.get(method).map(|cmd| &**cmd).ok_or_else(RpcError::method_not_found)
    }
}

/// The arguments by position, checked against the command's.
fn positional(cmd: &Command, params: Params) -> Result<Vec<Value>, RpcError> {
    let params = match params {
        Params::Positional(p) => p,
        Params::Named(n) => cmd.named_to_positional(n)?,
    };
    cmd.check_params(&params)?;
    Ok(params)
}

/// What [`RpcServer::execute_now`] did with a request.
#[derive(Debug)]
pub enum Execution {
    /// The request was answered.
    Done(Result<Value, RpcError>),
    /// The command may wait: run it with [`RpcServer::execute`].
    Pending(JsonRpcRequest, Caller),
}

/// Removes a command from the active list when it ends, however it ends.
struct ActiveGuard<'a> {
    state: &'a State,
    shard: usize,
    id: u64,
}

impl<'a> ActiveGuard<'a> {
    fn new(state: &'a State, method: &'static str) -> Self {
        let shard = SHARD.with(|s| *s);
        let mut list = state.active[shard].0.lock().unwrap_or_else(PoisonError::into_inner);
        let id = list.next_id;
        list.next_id += 1;
        list.running.push(Active { id, method, started: Instant::now() });
        Self { state, shard, id }
    }
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        let mut list = self.state.active[self.shard].0.lock().unwrap_or_else(PoisonError::into_inner);
        list.running.retain(|a| a.id != self.id);
    }
}

/// Who made a call.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The authenticated user name.
    pub user: std::sync::Arc<str>,
    /// The request URI (`/` or `/wallet/<name>`).
    pub uri: String,
    /// The client, when the call came over HTTP.
    pub peer: Option<ferronode_httpserver::Peer>,
}

/// What a running command can see of the server.
///
/// A command that answers at once borrows the server for the call (no
/// reference count is touched on the way); one that may wait owns a handle
/// (`CallContext<'static>`).
#[derive(Clone)]
pub struct CallContext<'a> {
    server: Cow<'a, RpcServer>,
    /// Who made the call.
    pub caller: Caller,
}

impl std::fmt::Debug for CallContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallContext").field("caller", &self.caller).finish_non_exhaustive()
    }
}

impl CallContext<'_> {
    /// The server the call runs on.
    #[must_use]
    pub fn server(&self) -> &RpcServer {
        &self.server
    }

    /// Core's `RpcInterruptionPoint`.
    ///
    /// # Errors
    /// -9 `Shutting down` once InterruptRPC has run.
    pub fn interruption_point(&self) -> Result<(), RpcError> {
        if *self.server.state.interrupted.borrow() {
            Err(RpcError::shutting_down())
        } else {
            Ok(())
        }
    }

    /// Resolves when InterruptRPC runs (at once if it already has).
    pub async fn interrupted(&self) {
        let mut rx = self.server.state.interrupted.subscribe();
        let _ = rx.wait_for(|v| *v).await.map(|_| ());
    }

    /// Resolves when StopRPC runs (at once if it already has): long polls
    /// return their current answer then.
    pub async fn stopped(&self) {
        let mut rx = self.server.state.stopped.subscribe();
        let _ = rx.wait_for(|v| *v).await.map(|_| ());
    }

    /// Asks the program to shut down.
    pub fn request_shutdown(&self) {
        (self.server.state.shutdown)();
    }

    /// Seconds since the server was created.
    #[must_use]
    pub fn uptime(&self) -> Duration {
        self.server.state.started_at.elapsed()
    }

    /// The debug log's path, for `getrpcinfo`.
    #[must_use]
    pub fn log_path(&self) -> &std::path::Path {
        &self.server.state.log_path
    }

    /// Commands running now, with how long each has run.
    #[must_use]
    pub fn active_commands(&self) -> Vec<(String, Duration)> {
        let mut all: Vec<(Instant, String, Duration)> = Vec::new();
        for shard in &self.server.state.active {
            let list = shard.0.lock().unwrap_or_else(PoisonError::into_inner);
            all.extend(list.running.iter().map(|a| (a.started, a.method.to_owned(), a.started.elapsed())));
        }
        // in the order the commands started, as Core lists them
        all.sort_by_key(|(started, _, _)| *started);
        all.into_iter().map(|(_, m, d)| (m, d)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ResultDoc, ResultType, Schema};
    use serde_json::json;

    static WRONG: Schema = Schema {
        category: "test",
        name: "wrong",
        description: "",
        params: &[],
        results: &[ResultDoc::new(ResultType::Obj, "", "").inner(&[ResultDoc::new(ResultType::Num, "n", "")])],
        examples: &[],
    };

    fn run(doc_check: bool, result: Value) -> Result<Value, RpcError> {
        let mut table = RpcTable::new();
        table.add(Command::from_schema_sync(&WRONG, move |_, _| Ok(result.clone())));
        table.add(Command::sync("test", "legacy", "", |_, _| Ok(json!("anything"))));
        let server = RpcServer::with_config(table, RpcConfig { log_path: PathBuf::new(), doc_check }, Arc::new(|| {}));
        server.set_warmup_finished();
        let req = |method: &str| JsonRpcRequest { method: method.to_owned(), params: Params::Positional(vec![]) };
        let Execution::Done(legacy) = server.execute_now(req("legacy"), Caller::default()) else { panic!("sync") };
        assert_eq!(legacy.unwrap(), json!("anything"), "a command without a schema is not checked");
        match server.execute_now(req("wrong"), Caller::default()) {
            Execution::Done(outcome) => outcome,
            Execution::Pending(..) => panic!("sync command"),
        }
    }

    #[test]
    fn doc_check_only_when_on() {
        assert_eq!(run(false, json!({"n": "x"})).unwrap(), json!({"n": "x"}));
        assert_eq!(run(true, json!({"n": 1})).unwrap(), json!({"n": 1}));
        let e = run(true, json!({"n": "x"})).unwrap_err();
        assert_eq!(e.code, -1);
        assert!(e.message.starts_with(
            "Internal bug detected: RPC call \"wrong\" returned incorrect type:\n{\n    \"n\": \"returned type is string, but declared as number in doc\"\n}\n"
        ));
    }
}
