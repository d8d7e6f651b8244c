//! Core's `util` commands that need no wallet (src/rpc/node.cpp's
//! `getindexinfo`).

use ferronode_httprpc::{Arg, ArgType, Command, RpcError};
use serde_json::{json, Map, Value};

use super::{chain_ref, sync_cmd, ChainSlot};

/// The util commands.
pub(crate) fn commands(slot: &ChainSlot) -> Vec<Command> {
    vec![sync_cmd(
        slot,
        "util",
        "getindexinfo",
        "Returns the status of one or all available indices currently running in the node.",
        getindexinfo,
    )
    .arg(Arg::optional("index_name", ArgType::Str, "Filter results for an index with a specific name."))]
}

pub(crate) fn getindexinfo(slot: &ChainSlot, p: &[Value]) -> Result<Value, RpcError> {
    let c = chain_ref(slot)?;
    let mut o = Map::new();
    let wanted = p.first().and_then(Value::as_str);
    let mut add = |name: &str, on: bool| {
        if on && wanted.is_none_or(|w| w == name) {
            o.insert(name.into(), json!({"synced": true, "best_block_height": c.height()}));
        }
    };
    add("txindex", c.has_txindex());
    add("basic block filter index", c.has_filter_index());
    Ok(Value::Object(o))
}
