//! The node's `control` commands (src/rpc/node.cpp): `logging`, and the
//! hidden `setmocktime` and ferronode's `gethttpmetrics`. httprpc serves
//! the rest of the category (`help`, `stop`, `uptime`, `getrpcinfo`).

use std::sync::Arc;

use ferronode_httprpc::{Arg, ArgType, Command, RpcError};
use ferronode_httpserver::MetricsHandle;
use serde_json::{json, Value};

use super::{chain_ref, sync_cmd, ChainSlot};
use crate::logging::LogHandle;

/// The control commands; `logging` only with a log, `gethttpmetrics` only
/// with an HTTP server.
pub(crate) fn commands(slot: &ChainSlot, http: Option<MetricsHandle>, log: Option<Arc<LogHandle>>) -> Vec<Command> {
    let mut out = vec![sync_cmd(
        slot,
        "hidden",
        "setmocktime",
        "Set the local time to given timestamp (-regtest only)",
        setmocktime,
    )
    .arg(Arg::required("timestamp", ArgType::Num, "UNIX epoch time. Pass 0 to go back to using the system time."))];
    if let Some(log) = log {
        out.push(
            sync_cmd(&log, "control", "logging", "Gets and sets the logging configuration.\nWhen called without an argument, returns the list of categories with status that are currently being debug logged or not.\nWhen called with arguments, adds or removes categories from debug logging and return the lists above.", logging)
                .arg(Arg::optional("include", ArgType::Arr, "The categories to add to debug logging"))
                .arg(Arg::optional("exclude", ArgType::Arr, "The categories to remove from debug logging")),
        );
    }
    if let Some(http) = http {
        out.push(
            sync_cmd(&Arc::new(http), "hidden", "gethttpmetrics", "Returns the HTTP server's load: open connections, queued and running requests, refusals.", gethttpmetrics)
                .result_help("Result:\n{ \"open_connections\": n, \"queued\": n, \"running\": n, \"rejected_queue_full\": n, \"accepted\": n, \"refused_not_allowed\": n, \"refused_over_capacity\": n }"),
        );
    }
    out
}

pub(crate) fn setmocktime(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    let t = p[0].as_i64().unwrap_or(0);
    if t < 0 {
        return Err(RpcError::invalid_parameter(format!("Mocktime cannot be negative: {t}.")));
    }
    chain_ref(slot)?.set_mocktime(t.unsigned_abs());
    Ok(Value::Null)
}

pub(crate) fn logging(log: &Arc<LogHandle>, p: &[Value]) -> Result<Value, RpcError> {
    let names = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    log.set(&names(p.first()), &names(p.get(1)))
        .map_err(|cat| RpcError::invalid_parameter(format!("unknown logging category {cat}")))?;
    let obj: serde_json::Map<String, Value> = log.categories().into_iter().map(|(c, on)| (c, json!(on))).collect();
    Ok(Value::Object(obj))
}

pub(crate) fn gethttpmetrics(http: &Arc<MetricsHandle>, _: &[Value]) -> Result<Value, RpcError> {
    let m = http.snapshot();
    Ok(json!({
        "open_connections": m.open_connections,
        "parked": m.parked,
        "queued": m.queued,
        "running": m.running,
        "rejected_queue_full": m.rejected,
        "accepted": m.accepted,
        "refused_not_allowed": m.refused_not_allowed,
        "refused_over_capacity": m.refused_over_capacity,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mocktime_is_checked_before_the_chain() {
        let slot = ChainSlot::default();
        let e = setmocktime(&slot, &[json!(-1)]).unwrap_err();
        assert_eq!(e.message, "Mocktime cannot be negative: -1.");
        assert_eq!(setmocktime(&slot, &[json!(5)]).unwrap_err().code, ferronode_httprpc::codes::RPC_IN_WARMUP);
    }
}
