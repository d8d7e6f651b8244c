//! Parsing of JSON-RPC request objects and building of replies, without I/O.
//!
//! Core's parser is followed closely, including its quirks, because clients
//! depend on them: the first occurrence of a key wins; a request without
//! `jsonrpc` (or with `"1.0"`) is legacy; the `id` and version detected before
//! a parse error shape the error reply; within a batch the id and version of
//! the previous element survive into an element that is not an object.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::RpcError;

/// The JSON-RPC version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `jsonrpc` absent or `"1.0"`: errors become HTTP errors, replies carry
    /// both `result` and `error`.
    Legacy,
    /// `jsonrpc` is `"2.0"`: errors are sent with 200, notifications get 204.
    V2,
}

/// Parameters as sent: by position, or by name (duplicates kept so that they
/// can be reported).
#[derive(Debug, Clone, PartialEq)]
pub enum Params {
    /// A JSON array.
    Positional(Vec<Value>),
    /// A JSON object, in the order and with the duplicates the client sent.
    Named(Vec<(String, Value)>),
}

/// A parsed request object.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonRpcRequest {
    /// Method name.
    pub method: String,
    /// Parameters.
    pub params: Params,
}

/// What the parser has learnt so far about the request being answered: the
/// reply's `id` (None: no `id` key) and version.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplyShape {
    /// The request's `id`, verbatim; `None` when the key was absent.
    pub id: Option<Value>,
    /// The request's version.
    pub version: Version,
}

impl Default for ReplyShape {
    fn default() -> Self {
        Self { id: Some(Value::Null), version: Version::Legacy }
    }
}

impl ReplyShape {
    /// A JSON-RPC 2.0 request without an `id` key.
    #[must_use]
    pub fn is_notification(&self) -> bool {
        self.id.is_none() && self.version == Version::V2
    }

    /// The reply object as JSON text, written directly (the same bytes as
    /// serialising [`Self::reply`], without building the object first).
    #[must_use]
    pub fn reply_text(&self, outcome: &Result<Value, RpcError>) -> String {
        let mut out = String::with_capacity(64);
        self.write_reply(outcome, &mut out);
        out
    }

    /// [`reply_text`](Self::reply_text), appended to `out`.
    pub fn write_reply(&self, outcome: &Result<Value, RpcError>, out: &mut String) {
        fn push(out: &mut String, v: &Value) {
            use std::fmt::Write as _;
            match v {
                // the usual results and ids, without the formatter: a
                // number keeps its text as parsed or printed
                Value::Number(n) => out.push_str(n.as_str()),
                Value::Null => out.push_str("null"),
                Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
                // Value's Display is its compact JSON, written in place
                _ => {
                    let _ = write!(out, "{v}");
                }
            }
        }
        out.push('{');
        if self.version == Version::V2 {
            out.push_str("\"jsonrpc\":\"2.0\",");
        }
        match outcome {
            Ok(result) => {
                out.push_str("\"result\":");
                push(out, result);
                if self.version == Version::Legacy {
                    out.push_str(",\"error\":null");
                }
            }
            Err(e) => {
                if self.version == Version::Legacy {
                    out.push_str("\"result\":null,");
                }
                out.push_str("\"error\":");
                push(out, &e.to_json());
            }
        }
        if let Some(id) = &self.id {
            out.push_str(",\"id\":");
            push(out, id);
        }
        out.push('}');
    }

    /// The reply object for a result or an error.
    #[must_use]
    pub fn reply(&self, outcome: Result<Value, RpcError>) -> Value {
        let mut obj = Map::new();
        if self.version == Version::V2 {
            obj.insert("jsonrpc".into(), Value::from("2.0"));
        }
        match outcome {
            Ok(result) => {
                obj.insert("result".into(), result);
                if self.version == Version::Legacy {
                    obj.insert("error".into(), Value::Null);
                }
            }
            Err(e) => {
                if self.version == Version::Legacy {
                    obj.insert("result".into(), Value::Null);
                }
                obj.insert("error".into(), e.to_json());
            }
        }
        if let Some(id) = &self.id {
            obj.insert("id".into(), id.clone());
        }
        Value::Object(obj)
    }
}

/// A JSON object as a list of members, duplicates kept. Keys borrow from
/// the request body unless they contain escapes.
#[derive(Debug)]
pub(crate) struct Members<'a>(pub(crate) Vec<(Key<'a>, &'a RawValue)>);

/// An object key: borrowed from the body, or unescaped into a new string.
#[derive(Debug)]
pub(crate) struct Key<'a>(pub(crate) std::borrow::Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Key<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    members.push((k, v));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// A request object: the first `id`, `jsonrpc`, `method` and `params`
/// members (values still raw). Other members are checked as JSON (and
/// UTF-8) and skipped; nothing is collected, so reading one costs no
/// allocation.
#[derive(Debug, Default)]
pub struct Object<'a> {
    id: Option<&'a RawValue>,
    jsonrpc: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    params: Option<&'a RawValue>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Object<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Object<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut object = Object::default();
                while let Some(key) = map.next_key::<Key<'de>>()? {
                    let slot = match &*key.0 {
                        "id" => &mut object.id,
                        "jsonrpc" => &mut object.jsonrpc,
                        "method" => &mut object.method,
                        "params" => &mut object.params,
                        _ => {
                            // read as raw text rather than `IgnoredAny`, which
                            // would let invalid UTF-8 in a string through
                            map.next_value::<&'de RawValue>()?;
                            continue;
                        }
                    };
                    let value = map.next_value::<&'de RawValue>()?;
                    // of duplicate keys, the first counts
                    slot.get_or_insert(value);
                }
                Ok(object)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The top level of a request body.
#[derive(Debug)]
pub enum Body<'a> {
    /// One request object, parsed in the same pass that checked the body.
    Single(Object<'a>),
    /// A batch.
    Batch(Vec<&'a RawValue>),
    /// Valid JSON that is neither (Core answers `Top-level object parse
    /// error`, after its whitelist check).
    Other,
}

/// Parses a request body into a single request or a batch.
///
/// # Errors
/// -32700 `Parse error` for anything that is not JSON or nested deeper than
/// [`MAX_JSON_DEPTH`].
pub fn parse_body(body: &[u8]) -> Result<Body<'_>, RpcError> {
    // nesting deeper than the limit takes more bytes than the limit
    if body.len() > MAX_JSON_DEPTH && nesting_depth(body) > MAX_JSON_DEPTH {
        return Err(RpcError::parse("Parse error"));
    }
    if first_byte(body) == Some(b'{') {
        // Every valid JSON object reads as members, so one pass both checks
        // the body and splits the request.
        let object: Object<'_> = serde_json::from_slice(body).map_err(|_| RpcError::parse("Parse error"))?;
        return Ok(Body::Single(object));
    }
    let raw: &RawValue = serde_json::from_slice(body).map_err(|_| RpcError::parse("Parse error"))?;
    match raw.get().as_bytes().first() {
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| RpcError::parse("Parse error"))?;
            Ok(Body::Batch(items))
        }
        _ => Ok(Body::Other),
    }
}

/// The first byte of `body` that is not JSON whitespace: `{` for a request
/// object, `[` for a batch.
pub(crate) fn first_byte(body: &[u8]) -> Option<u8> {
    body.iter().copied().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// UniValue refuses documents nested deeper than this; so do we.
pub const MAX_JSON_DEPTH: usize = 512;

/// The deepest array/object nesting in `body`, counted outside strings.
fn nesting_depth(body: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn value(raw: &RawValue) -> Value {
    // `raw` was validated as JSON, and its depth bounded by MAX_JSON_DEPTH,
    // before it got here, so lifting serde_json's own limit of 128 is safe.
    let mut de = serde_json::Deserializer::from_str(raw.get());
    de.disable_recursion_limit();
    serde::Deserialize::deserialize(&mut de).unwrap_or(Value::Null)
}

/// A value that is usually a plain string (a method name): such a string
/// is taken as it is, anything else parsed.
fn string_or_value(raw: &RawValue) -> Value {
    let text = raw.get();
    match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // validated JSON: without a backslash, the text between the quotes
        // is the string
        Some(inner) if !inner.contains(['\\', '"']) => Value::String(inner.to_owned()),
        _ => value(raw),
    }
}

/// A request's `id`. The usual one, a small unsigned integer, is built
/// directly: its digits read back unchanged, so the reply repeats it
/// verbatim, and it costs one allocation instead of the three of a full
/// parse of an arbitrary-precision number.
fn id_value(raw: &RawValue) -> Value {
    let text = raw.get();
    let plain = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) && (text == "0" || !text.starts_with('0'));
    match text.parse::<u64>() {
        Ok(n) if plain => Value::Number(n.into()),
        _ => value(raw),
    }
}

/// The `method` member of a batch element as Core's whitelist check reads
/// it (`find_value("method").get_str()`).
///
/// # Errors
/// -32600 `Invalid Request object` for a non-object; -32700 with UniValue's
/// type-error text when `method` is missing or not a string.
pub fn batch_method(raw: &RawValue) -> Result<String, RpcError> {
    match request_object(raw)?.method.map(string_or_value) {
        Some(Value::String(m)) => Ok(m),
        other => {
            let v = other.unwrap_or(Value::Null);
            Err(RpcError::parse(format!(
                "JSON value of type {} is not of expected type string",
                crate::table::json_type_name(&v)
            )))
        }
    }
}

/// Parses one request object the way Core's `JSONRPCRequest::parse` does,
/// updating `shape` as it learns the id and version.
///
/// # Errors
/// Core's -32600 errors for a malformed request object.
pub fn parse_request(raw: &RawValue, shape: &mut ReplyShape) -> Result<JsonRpcRequest, RpcError> {
    parse_object(request_object(raw)?, shape)
}

/// A batch element as a request object; -32600 `Invalid Request object`
/// for anything else.
fn request_object(raw: &RawValue) -> Result<Object<'_>, RpcError> {
    if !raw.get().starts_with('{') {
        return Err(RpcError::invalid_request("Invalid Request object"));
    }
    serde_json::from_str(raw.get()).map_err(|_| RpcError::invalid_request("Invalid Request object"))
}

/// [`parse_request`] for a body's single request object.
///
/// # Errors
/// As [`parse_request`].
pub fn parse_object(object: Object<'_>, shape: &mut ReplyShape) -> Result<JsonRpcRequest, RpcError> {
    shape.id = object.id.map(id_value);
    shape.version = Version::Legacy;
    if let Some(raw) = object.jsonrpc {
        match raw.get() {
            // the usual spellings, without building a value
            "\"2.0\"" => shape.version = Version::V2,
            "\"1.0\"" | "null" => {}
            _ => match value(raw) {
                Value::Null => {}
                Value::String(s) if s == "1.0" => {}
                Value::String(s) if s == "2.0" => shape.version = Version::V2,
                Value::String(_) => return Err(RpcError::invalid_request("JSON-RPC version not supported")),
                _ => return Err(RpcError::invalid_request("jsonrpc field must be a string")),
            },
        }
    }
    let method = match object.method.map(string_or_value) {
        None | Some(Value::Null) => return Err(RpcError::invalid_request("Missing method")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(RpcError::invalid_request("Method must be a string")),
    };
    let params = match object.params {
        None => Params::Positional(Vec::new()),
        Some(raw) => match raw.get().as_bytes().first() {
            Some(b'[') => match value(raw) {
                Value::Array(items) => Params::Positional(items),
                _ => Params::Positional(Vec::new()),
            },
            Some(b'{') => {
                let members: Members<'_> = serde_json::from_str(raw.get())
                    .map_err(|_| RpcError::invalid_request("Params must be an array or object"))?;
                Params::Named(members.0.into_iter().map(|(k, v)| (k.0.into_owned(), value(v))).collect())
            }
            Some(b'n') => Params::Positional(Vec::new()),
            _ => return Err(RpcError::invalid_request("Params must be an array or object")),
        },
    };
    Ok(JsonRpcRequest { method, params })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> (Result<JsonRpcRequest, RpcError>, ReplyShape) {
        let raw: &RawValue = serde_json::from_str(s).expect("test input is JSON");
        let mut shape = ReplyShape::default();
        (parse_request(raw, &mut shape), shape)
    }

    #[test]
    fn versions_and_ids() {
        let (r, s) = parse(r#"{"method":"x","id":7}"#);
        assert!(r.is_ok());
        assert_eq!(s, ReplyShape { id: Some(json!(7)), version: Version::Legacy });
        let (_, s) = parse(r#"{"jsonrpc":"2.0","method":"x"}"#);
        assert!(s.is_notification());
        let (_, s) = parse(r#"{"jsonrpc":"1.0","method":"x"}"#);
        assert!(!s.is_notification());
        assert_eq!(s.id, None);
        let (r, _) = parse(r#"{"jsonrpc":"3.0","method":"x"}"#);
        assert_eq!(r.unwrap_err().message, "JSON-RPC version not supported");
        let (r, s) = parse(r#"{"jsonrpc":2,"method":"x"}"#);
        assert_eq!(r.unwrap_err().message, "jsonrpc field must be a string");
        assert_eq!(s.id, None);
        // ids are kept verbatim, numbers included
        let (_, s) = parse(r#"{"method":"x","id":1.50}"#);
        assert_eq!(serde_json::to_string(&s.id).unwrap(), "1.50");
    }

    #[test]
    fn method_and_params() {
        assert_eq!(parse(r#"{"id":1}"#).0.unwrap_err().message, "Missing method");
        assert_eq!(parse(r#"{"method":1}"#).0.unwrap_err().message, "Method must be a string");
        assert_eq!(parse(r#"{"method":"x","params":3}"#).0.unwrap_err().message, "Params must be an array or object");
        assert_eq!(parse(r#"{"method":"x","params":null}"#).0.unwrap().params, Params::Positional(vec![]));
        assert_eq!(
            parse(r#"{"method":"x","params":{"a":1,"a":2}}"#).0.unwrap().params,
            Params::Named(vec![("a".into(), json!(1)), ("a".into(), json!(2))])
        );
        // the first occurrence of a key wins
        assert_eq!(parse(r#"{"method":"x","method":"y"}"#).0.unwrap().method, "x");
    }

    #[test]
    fn reply_shapes() {
        let legacy = ReplyShape { id: Some(json!(1)), version: Version::Legacy };
        assert_eq!(serde_json::to_string(&legacy.reply(Ok(json!(0)))).unwrap(), r#"{"result":0,"error":null,"id":1}"#);
        let v2 = ReplyShape { id: Some(json!("a")), version: Version::V2 };
        assert_eq!(
            serde_json::to_string(&v2.reply(Err(RpcError::method_not_found()))).unwrap(),
            r#"{"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"a"}"#
        );
        let none = ReplyShape { id: None, version: Version::Legacy };
        assert_eq!(
            serde_json::to_string(&none.reply(Err(RpcError::parse("Parse error")))).unwrap(),
            r#"{"result":null,"error":{"code":-32700,"message":"Parse error"}}"#
        );
    }

    #[test]
    fn reply_text_is_the_reply_object_serialised() {
        let ids = [
            None,
            Some(json!(null)),
            Some(json!(1)),
            Some(json!("x\"y")),
            Some(json!([1, {"a": 2}])),
            Some(json!(1.50)),
            Some(json!(true)),
            Some(json!(-7)),
        ];
        let outcomes = [
            Ok(json!(0)),
            Ok(json!(null)),
            Ok(json!(false)),
            Ok(json!(u64::MAX)),
            Ok(json!(1e300)),
            Ok(serde_json::from_str("123456789012345678901234567890.000").unwrap()),
            Ok(json!({"b": 1, "a": [true, "\u{e9}"]})),
            Err(RpcError::method_not_found()),
            Err(RpcError::parse("Parse \"error\"")),
        ];
        for version in [Version::Legacy, Version::V2] {
            for id in &ids {
                for outcome in &outcomes {
                    let shape = ReplyShape { id: id.clone(), version };
                    let want = serde_json::to_string(&shape.reply(outcome.clone())).unwrap();
                    assert_eq!(shape.reply_text(outcome), want);
                }
            }
        }
    }

    #[test]
    fn ids_are_repeated_verbatim() {
        for id in [
            "0",
            "7",
            "18446744073709551615",
            "18446744073709551616",
            "-0",
            "-3",
            "1.0",
            "1e3",
            "\"x\"",
            "null",
            "[1, 2]",
        ] {
            let raw: &RawValue = serde_json::from_str(id).unwrap();
            assert_eq!(id_value(raw), value(raw), "{id}");
            assert_eq!(id_value(raw).to_string(), value(raw).to_string(), "{id}");
        }
    }

    #[test]
    fn bodies() {
        assert!(matches!(parse_body(b"{}"), Ok(Body::Single(_))));
        assert!(matches!(parse_body(b" \r\n\t{\"id\":1} \n"), Ok(Body::Single(_))));
        assert_eq!(parse_body(b"{} x").unwrap_err().message, "Parse error");
        assert_eq!(parse_body(b"\x0c{}").unwrap_err().message, "Parse error");
        assert_eq!(parse_body(b"{\"a\":1,}").unwrap_err().message, "Parse error");
        assert_eq!(parse_body(b"{\"a\":\"\xff\"}").unwrap_err().message, "Parse error");
        assert!(matches!(parse_body(b" [1, {}] "), Ok(Body::Batch(v)) if v.len() == 2));
        assert_eq!(parse_body(b"").unwrap_err().message, "Parse error");
        assert_eq!(parse_body(b"{").unwrap_err().message, "Parse error");
        assert_eq!(parse_body(b"\xff").unwrap_err().message, "Parse error");
        assert!(matches!(parse_body(b"3"), Ok(Body::Other)));
        let ok = "[".repeat(MAX_JSON_DEPTH) + &"]".repeat(MAX_JSON_DEPTH);
        assert!(parse_body(ok.as_bytes()).is_ok());
        let deep = "[".repeat(MAX_JSON_DEPTH + 1) + &"]".repeat(MAX_JSON_DEPTH + 1);
        assert_eq!(parse_body(deep.as_bytes()).unwrap_err().message, "Parse error");
        // brackets inside strings do not count
        let quoted = format!("[\"{}\\\"\"]", "[".repeat(1000));
        assert!(parse_body(quoted.as_bytes()).is_ok());
    }
}
