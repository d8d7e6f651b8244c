//! Core's `zmq` commands (src/zmq/zmqrpc.cpp), and ferronode's
//! `getzmqstats`.

use ferronode_httprpc::{Command, RpcError};
use serde_json::{json, Value};

use super::sync_cmd;
use crate::zmq::ZmqSlot;

/// The ZMQ commands.
pub(crate) fn commands(slot: &ZmqSlot) -> Vec<Command> {
    vec![
        sync_cmd(slot, "zmq", "getzmqnotifications", "Returns information about the active ZeroMQ notifications.", getzmqnotifications)
            .result_help("Result:\n[                         (json array)\n  {                       (json object)\n    \"type\" : \"str\",       (string) Type of notification\n    \"address\" : \"str\",    (string) Address of the publisher\n    \"hwm\" : n            (numeric) Outbound message high water mark\n  },\n  ...\n]"),
        sync_cmd(slot, "zmq", "getzmqstats", "Returns, for each active ZeroMQ notifier, the messages sent and the messages dropped, either because a subscriber was at its high water mark or because the publishing queue was full. Dropped messages use up a sequence number, so subscribers see them as gaps. (ferronode only)", getzmqstats)
            .result_help("Result:\n[                              (json array)\n  {                            (json object)\n    \"type\" : \"str\",            (string) Type of notification\n    \"address\" : \"str\",         (string) Address of the publisher\n    \"hwm\" : n,                 (numeric) Outbound message high water mark\n    \"next_sequence\" : n,       (numeric) The sequence number of the next message\n    \"sent\" : n,                (numeric) Messages sent\n    \"dropped_hwm\" : n,         (numeric) Messages dropped because a subscriber was at its high water mark\n    \"dropped_queue\" : n        (numeric) Messages dropped because the publishing queue was full\n  },\n  ...\n]"),
    ]
}

pub(crate) fn getzmqnotifications(slot: &ZmqSlot, _: &[Value]) -> Result<Value, RpcError> {
    let list = slot.get().map(|n| n.active()).unwrap_or_default();
    Ok(Value::Array(list.into_iter().map(|i| json!({"type": i.kind, "address": i.address, "hwm": i.hwm})).collect()))
}

pub(crate) fn getzmqstats(slot: &ZmqSlot, _: &[Value]) -> Result<Value, RpcError> {
    let stats = slot.get().map(|n| n.stats()).unwrap_or_default();
    Ok(Value::Array(
        stats
            .into_iter()
            .map(|st| {
                json!({
                    "type": st.kind,
                    "address": st.address,
                    "hwm": st.hwm,
                    "next_sequence": st.next_sequence,
                    "sent": st.sent,
                    "dropped_hwm": st.dropped_hwm,
                    "dropped_queue": st.dropped_queue,
                })
            })
            .collect(),
    ))
}
