//! Property tests: no request body, however malformed, panics the JSON-RPC
//! parser, and named parameters map without panicking.

#![allow(clippy::unwrap_used)]

use ferronode_httprpc::request::{parse_body, parse_object, parse_request, Body, Params, ReplyShape, MAX_JSON_DEPTH};
use ferronode_httprpc::table::named_to_positional;
use ferronode_httprpc::{Arg, ArgType};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z\\\\\"]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec(("(id|method|params|jsonrpc|args|[a-z]{1,3})", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn use_request(
    req: Result<ferronode_httprpc::request::JsonRpcRequest, ferronode_httprpc::RpcError>,
    shape: &ReplyShape,
) {
    if let Ok(req) = req {
        let _ = shape.reply(Ok(Value::Null));
        if let Params::Named(named) = req.params {
            let args = [Arg::required("a|b", ArgType::Num, ""), Arg::optional("c", ArgType::Str, "")];
            let _ = named_to_positional(&args, named);
        }
    }
}

fn exercise(bytes: &[u8]) {
    // The body is accepted exactly when it is JSON (within the depth limit),
    // whichever way it is read.
    let is_json = serde_json::from_slice::<&serde_json::value::RawValue>(bytes).is_ok();
    let parsed = parse_body(bytes);
    assert!(parsed.is_err() || is_json, "accepted a body that is not JSON: {:?}", String::from_utf8_lossy(bytes));
    assert!(
        parsed.is_ok() || !is_json || bytes.len() > MAX_JSON_DEPTH,
        "refused JSON: {:?}",
        String::from_utf8_lossy(bytes)
    );
    if let Ok(body) = parsed {
        let mut shape = ReplyShape::default();
        match body {
            Body::Single(object) => use_request(parse_object(object, &mut shape), &shape),
            Body::Batch(items) => {
                for raw in items {
                    use_request(parse_request(raw, &mut shape), &shape);
                }
            }
            Body::Other => {}
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        exercise(&bytes);
    }

    #[test]
    fn arbitrary_json_requests(v in json_value()) {
        exercise(v.to_string().as_bytes());
    }
}

#[test]
fn deep_nesting_is_a_parse_error_not_a_crash() {
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    assert_eq!(parse_body(deep.as_bytes()).unwrap_err().message, "Parse error");
    for raw in [&b"[{}, 3]"[..], b"[{\"method\":5}]"] {
        if let Ok(Body::Batch(items)) = parse_body(raw) {
            for item in items {
                let _ = ferronode_httprpc::request::batch_method(item);
            }
        }
    }
}
