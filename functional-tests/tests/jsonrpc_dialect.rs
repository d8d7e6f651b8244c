//! bitcoind's JSON-RPC dialect, rule by rule, over real HTTP: versions and
//! reply shapes, status codes, batches, named parameters, parameter errors.
//! Expected bodies are Core's (src/httprpc.cpp, src/rpc/request.cpp).

#![allow(clippy::unwrap_used)]

use ferronode_functional_tests::{HttpConn, TestNode};
use serde_json::{json, Value};

struct Rpc {
    node: TestNode,
    conn: HttpConn,
    cookie: String,
}

impl Rpc {
    fn new() -> Self {
        let node = TestNode::start_new(&[]);
        let conn = node.connect();
        let cookie = node.cookie();
        Self { node, conn, cookie }
    }

    /// Posts `body`; returns status and exact body text.
    fn post(&mut self, body: &str) -> (u16, String) {
        let r = self.conn.post_json(&self.cookie, body).unwrap();
        if r.status != 204 && r.status != 403 {
            assert_eq!(r.header("content-type"), Some("application/json"), "{body}");
            assert!(r.text().ends_with('\n'), "reply ends with a newline");
        }
        (r.status, r.text().trim_end().to_owned())
    }

    fn check(&mut self, body: &str, status: u16, reply: &str) {
        let (st, text) = self.post(body);
        assert_eq!((st, text.as_str()), (status, reply), "request: {body}");
    }
}

#[test]
fn single_requests_versions_and_status_codes() {
    let mut r = Rpc::new();
    let cases: &[(&str, u16, &str)] = &[
        // legacy: absent or "1.0"; both result and error; id kept verbatim or omitted
        (r#"{"method":"getblockcount"}"#, 200, r#"{"result":0,"error":null}"#),
        (r#"{"method":"getblockcount","id":null}"#, 200, r#"{"result":0,"error":null,"id":null}"#),
        (r#"{"jsonrpc":"1.0","method":"getblockcount","id":"x"}"#, 200, r#"{"result":0,"error":null,"id":"x"}"#),
        (r#"{"jsonrpc":null,"method":"getblockcount","id":1.50}"#, 200, r#"{"result":0,"error":null,"id":1.50}"#),
        (r#"{"version":"1.1","method":"getblockcount","id":1}"#, 200, r#"{"result":0,"error":null,"id":1}"#),
        // 2.0: only one of result/error
        (
            r#"{"jsonrpc":"2.0","method":"getblockcount","id":[1,{"a":2}]}"#,
            200,
            r#"{"jsonrpc":"2.0","result":0,"id":[1,{"a":2}]}"#,
        ),
        (r#"{"jsonrpc":"2.0","method":"getblockcount","id":null}"#, 200, r#"{"jsonrpc":"2.0","result":0,"id":null}"#),
        // unknown method: 404 legacy, 200 for 2.0
        (
            r#"{"method":"nope","id":1}"#,
            404,
            r#"{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":1}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"nope","id":1}"#,
            200,
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":1}"#,
        ),
        // other errors: 500 legacy, 200 for 2.0
        (
            r#"{"method":"help","params":[1],"id":1}"#,
            500,
            r#"{"result":null,"error":{"code":-3,"message":"Wrong type passed:\n{\n    \"Position 1 (command)\": \"JSON value of type number is not of expected type string\"\n}"},"id":1}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"help","params":[1],"id":1}"#,
            200,
            r#"{"jsonrpc":"2.0","error":{"code":-3,"message":"Wrong type passed:\n{\n    \"Position 1 (command)\": \"JSON value of type number is not of expected type string\"\n}"},"id":1}"#,
        ),
        // errors while parsing the object: legacy mapping even for 2.0, shape as detected so far
        (
            r#"{"jsonrpc":"3.0","method":"getblockcount","id":1}"#,
            400,
            r#"{"result":null,"error":{"code":-32600,"message":"JSON-RPC version not supported"},"id":1}"#,
        ),
        (
            r#"{"jsonrpc":2,"method":"getblockcount"}"#,
            400,
            r#"{"result":null,"error":{"code":-32600,"message":"jsonrpc field must be a string"}}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","id":1}"#,
            400,
            r#"{"jsonrpc":"2.0","error":{"code":-32600,"message":"Missing method"},"id":1}"#,
        ),
        (
            r#"{"method":1,"id":1}"#,
            400,
            r#"{"result":null,"error":{"code":-32600,"message":"Method must be a string"},"id":1}"#,
        ),
        (
            r#"{"method":"getblockcount","params":3,"id":1}"#,
            400,
            r#"{"result":null,"error":{"code":-32600,"message":"Params must be an array or object"},"id":1}"#,
        ),
        (r#"{"method":"getblockcount","params":null,"id":1}"#, 200, r#"{"result":0,"error":null,"id":1}"#),
        // not JSON, or not an object/array
        ("{nope", 500, r#"{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}"#),
        ("", 500, r#"{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}"#),
        ("3", 500, r#"{"result":null,"error":{"code":-32700,"message":"Top-level object parse error"},"id":null}"#),
        (
            r#""str""#,
            500,
            r#"{"result":null,"error":{"code":-32700,"message":"Top-level object parse error"},"id":null}"#,
        ),
        // first occurrence of a key wins
        (r#"{"method":"getblockcount","method":"nope","id":1}"#, 200, r#"{"result":0,"error":null,"id":1}"#),
    ];
    for (body, status, reply) in cases {
        r.check(body, *status, reply);
    }
    // a 2.0 notification runs and gets 204 with no body, even when it fails
    let resp = r.conn.post_json(&r.cookie, r#"{"jsonrpc":"2.0","method":"nope"}"#).unwrap();
    assert_eq!((resp.status, resp.body.len()), (204, 0));
    r.node.stop_node();
}

#[test]
fn batches() {
    let mut r = Rpc::new();
    r.check("[]", 200, "[]");
    let resp = r
        .conn
        .post_json(&r.cookie, r#"[{"jsonrpc":"2.0","method":"getblockcount"},{"jsonrpc":"2.0","method":"nope"}]"#)
        .unwrap();
    assert_eq!((resp.status, resp.body.len()), (204, 0), "all notifications → 204");
    r.check(
        r#"[{"method":"getblockcount","id":1},{"jsonrpc":"2.0","method":"getblockcount","id":2},{"jsonrpc":"2.0","method":"getblockcount"},{"jsonrpc":"2.0","method":"nope","id":3},{"method":"nope","id":4},5,{"jsonrpc":"4"}]"#,
        200,
        concat!(
            r#"[{"result":0,"error":null,"id":1},{"jsonrpc":"2.0","result":0,"id":2},"#,
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":3},"#,
            r#"{"result":null,"error":{"code":-32601,"message":"Method not found"},"id":4},"#,
            // Core keeps the previous element's id and version for a non-object element
            r#"{"result":null,"error":{"code":-32600,"message":"Invalid Request object"},"id":4},"#,
            r#"{"result":null,"error":{"code":-32600,"message":"JSON-RPC version not supported"}}]"#
        ),
    );
    r.node.stop_node();
}

#[test]
fn named_parameters() {
    let mut r = Rpc::new();
    let call = |r: &mut Rpc, params: &str| -> Value {
        let (_, text) = r.post(&format!(r#"{{"jsonrpc":"2.0","id":1,"method":"echojson","params":{params}}}"#));
        let v: Value = serde_json::from_str(&text).unwrap();
        v.get("result").cloned().unwrap_or_else(|| v["error"].clone())
    };
    assert_eq!(call(&mut r, r#"{"arg1":5}"#), json!([null, 5]));
    assert_eq!(call(&mut r, r#"{"args":[1,2],"arg3":4}"#), json!([1, 2, null, 4]));
    assert_eq!(
        call(&mut r, r#"{"arg0":1,"arg0":2}"#),
        json!({"code":-8,"message":"Parameter arg0 specified multiple times"})
    );
    assert_eq!(call(&mut r, r#"{"foo":1}"#), json!({"code":-8,"message":"Unknown named parameter foo"}));
    assert_eq!(
        call(&mut r, r#"{"args":[1],"arg0":2}"#),
        json!({"code":-8,"message":"Parameter arg0 specified twice both as positional and named argument"})
    );
    assert_eq!(call(&mut r, r#"[1,"a",{"b":[]}]"#), json!([1, "a", {"b": []}]));
    r.node.stop_node();
}

#[test]
fn parameter_count_and_type_errors() {
    let mut r = Rpc::new();
    let (st, text) = r.post(r#"{"jsonrpc":"2.0","id":1,"method":"getblockcount","params":[1]}"#);
    assert_eq!(st, 200);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], -1);
    let help = v["error"]["message"].as_str().unwrap();
    assert!(help.starts_with("getblockcount\n\nReturns the height of the most-work fully-validated chain."), "{help}");
    assert_eq!(json!(help), r.node.rpc("help", json!(["getblockcount"])), "the error is the command's help");
    let (_, text) = r.post(r#"{"jsonrpc":"2.0","id":1,"method":"help","params":["a","b"]}"#);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["error"]["code"], -1);
    assert!(v["error"]["message"].as_str().unwrap().starts_with("help ( \"command\" )\n"));
    r.node.stop_node();
}

#[test]
fn help_and_hidden_commands() {
    let mut node = TestNode::start_new(&[]);
    let help = node.rpc("help", json!([]));
    let help = help.as_str().unwrap();
    assert!(help.starts_with("== Blockchain ==\ngetbestblockhash\ngetblock \"blockhash\" ( verbosity )\n"), "{help}");
    assert!(
        help.contains("\n\n== Control ==\ngetrpcinfo\nhelp ( \"command\" )\nlogging ( [...] [...] )\nstop\nuptime\n\n== Generating ==\n"),
        "{help}"
    );
    assert!(help.contains("\n\n== Mining ==\nsubmitblock \"hexdata\" ( dummy )\n"), "{help}");
    // categories in Core's order: sorted by name, each headed once
    let heads: Vec<&str> = help.lines().filter(|l| l.starts_with("== ")).collect();
    let mut sorted = heads.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(heads, sorted);
    let stop_help = node.rpc("help", json!(["stop"]));
    assert!(stop_help.as_str().unwrap().starts_with("stop\n\nRequest a graceful shutdown of ferronode."));
    assert!(!stop_help.as_str().unwrap().contains("wait"), "hidden arguments are not shown");
    assert_eq!(node.rpc("echo", json!(["a", 1, null, [2]])), json!(["a", 1, null, [2]]));
    node.stop_node();
}
