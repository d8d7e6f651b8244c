//! Hostile and malformed request bodies: each gets Core's error reply, the
//! node's memory stays bounded, and other clients keep being served.

#![allow(clippy::unwrap_used)]

use ferronode_functional_tests::TestNode;
use serde_json::{json, Value};

/// A case: name, body, expected status, check of the reply body.
type Case<'a> = (&'a str, Vec<u8>, u16, Box<dyn Fn(&str)>);

const PARSE_ERROR: &str = r#"{"result":null,"error":{"code":-32700,"message":"Parse error"},"id":null}"#;

#[test]
fn bad_input_table() {
    let mut node = TestNode::start_new(&[]);
    let cookie = node.cookie();
    let mut observer = node.connect();
    let whitespace = " ".repeat(32 << 20);
    let nested = "[".repeat(100_000) + &"]".repeat(100_000);
    let big_batch = format!("[{}]", vec![r#"{"jsonrpc":"2.0","id":1,"method":"getblockcount"}"#; 100_000].join(","));
    let mut non_utf8 = br#"{"method":"echo","params":[""#.to_vec();
    non_utf8.extend_from_slice(&[0xff, 0xfe, 0x80]);
    non_utf8.extend_from_slice(br#""],"id":1}"#);

    let cases: Vec<Case<'_>> = vec![
        ("empty body", Vec::new(), 500, Box::new(|b| assert_eq!(b, PARSE_ERROR))),
        ("32 MiB of whitespace", whitespace.into_bytes(), 500, Box::new(|b| assert_eq!(b, PARSE_ERROR))),
        ("100,000 nested arrays", nested.into_bytes(), 500, Box::new(|b| assert_eq!(b, PARSE_ERROR))),
        (
            "batch of 100,000",
            big_batch.into_bytes(),
            200,
            Box::new(|b| {
                let v: Value = serde_json::from_str(b).unwrap();
                let items = v.as_array().unwrap();
                assert_eq!(items.len(), 100_000);
                assert!(items.iter().all(|i| i == &json!({"jsonrpc":"2.0","result":0,"id":1})));
            }),
        ),
        ("non-UTF-8 bytes", non_utf8, 500, Box::new(|b| assert_eq!(b, PARSE_ERROR))),
        (
            "huge numbers are kept (exponents gain an explicit sign, see docs/compat.md)",
            br#"{"method":"echo","params":[1e99999,123456789012345678901234567890,0.10000000000000000001],"id":1}"#
                .to_vec(),
            200,
            Box::new(|b| {
                assert_eq!(
                    b,
                    r#"{"result":[1e+99999,123456789012345678901234567890,0.10000000000000000001],"error":null,"id":1}"#
                )
            }),
        ),
        (
            "duplicate named parameters",
            br#"{"method":"echo","params":{"arg0":1,"arg0":2},"id":1}"#.to_vec(),
            500,
            Box::new(|b| {
                assert_eq!(
                    b,
                    r#"{"result":null,"error":{"code":-8,"message":"Parameter arg0 specified multiple times"},"id":1}"#
                )
            }),
        ),
        (
            "a string where a number is expected",
            br#"{"method":"stop","params":["soon"],"id":1}"#.to_vec(),
            500,
            Box::new(|b| {
                assert_eq!(
                    b,
                    r#"{"result":null,"error":{"code":-3,"message":"Wrong type passed:\n{\n    \"Position 1 (wait)\": \"JSON value of type string is not of expected type number\"\n}"},"id":1}"#
                )
            }),
        ),
        (
            "an object where a string is expected",
            br#"{"method":"help","params":[{}],"id":1}"#.to_vec(),
            500,
            Box::new(|b| assert!(b.contains("JSON value of type object is not of expected type string"))),
        ),
    ];
    for (name, body, status, check) in cases {
        let mut c = node.connect();
        let auth = ferronode_functional_tests::http::basic_auth(&cookie);
        let resp = c.request("POST", "/", &[("Authorization", &auth)], &body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(resp.status, status, "{name}");
        check(resp.text().trim_end());
        // the node keeps serving others
        assert_eq!(observer.call(&cookie, "getblockcount", json!([])).unwrap(), Ok(json!(0)), "{name}");
    }
    // a body over 32 MiB is refused before it is read
    let mut c = node.connect();
    let auth = ferronode_functional_tests::http::basic_auth(&cookie);
    c.send_raw(format!("POST / HTTP/1.1\r\nAuthorization: {auth}\r\nContent-Length: 1073741824\r\n\r\n").as_bytes())
        .unwrap();
    assert_eq!(c.read_response().unwrap().status, 413);
    let rss_mib = node.rss_kib() / 1024;
    assert!(rss_mib < 512, "resident memory grew to {rss_mib} MiB");
    // the stopped node really was still stopping fine after all that
    node.stop_node();
}
