//! `-rpcdoccheck`: a command's result checked against its documented
//! shape (Core's `RPCResult::MatchesType` and the check at the end of
//! `RPCHelpMan::HandleRequest`), and Core's internal-bug error.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::schema::{ResultDoc, ResultType};
use crate::table::{json_type_name, pretty4};
use crate::RpcError;

/// Where to report a bug, in the internal-bug text (Core's
/// `CLIENT_BUGREPORT`).
pub const BUG_REPORT_URL: &str = "https://github.com/ferronode/ferronode/issues";

/// Core's internal-bug error (`NonFatalCheckError`, `STR_INTERNAL_BUG`),
/// as the RPC server reports it: -1 with
/// `Internal bug detected: <msg>\n<file>:<line> (<function>)\n<client>
/// <version>\nPlease report this issue here: <url>\n`.
#[must_use]
#[track_caller]
pub fn internal_bug(msg: &str) -> RpcError {
    let loc = std::panic::Location::caller();
    RpcError::misc(format!(
        "Internal bug detected: {msg}\n{}:{} ({})\nferronode v{}\nPlease report this issue here: {BUG_REPORT_URL}\n",
        loc.file(),
        loc.line(),
        "ferronode_httprpc",
        env!("CARGO_PKG_VERSION"),
    ))
}

impl ResultDoc {
    /// Core's `RPCResult::MatchesType`: `Ok` or the mismatch, a string or
    /// an object of mismatches by key or index.
    ///
    /// # Errors
    /// The mismatch, as Core words it.
    pub fn matches(&self, v: &Value) -> Result<(), Value> {
        if self.skip_type_check {
            return Ok(());
        }
        let Some(expected) = self.ty.expected() else { return Ok(()) };
        if json_type_name(v) != expected {
            return Err(Value::String(format!(
                "returned type is {}, but declared as {expected} in doc",
                json_type_name(v)
            )));
        }
        let errors = match v {
            Value::Array(items) => self.array_errors(items),
            Value::Object(obj) if self.ty == ResultType::ObjDyn => self.dyn_errors(obj),
            Value::Object(obj) => self.object_errors(obj),
            _ => Map::new(),
        };
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Value::Object(errors))
        }
    }

    fn array_errors(&self, items: &[Value]) -> Map<String, Value> {
        let mut errors = Map::new();
        for (i, item) in items.iter().enumerate() {
            // more results than documented reuse the last documented one
            let Some(doc) = self.inner.get(i.min(self.inner.len().saturating_sub(1))) else { break };
            if let Err(e) = doc.matches(item) {
                errors.insert(i.to_string(), e);
            }
        }
        errors
    }

    fn dyn_errors(&self, obj: &Map<String, Value>) -> Map<String, Value> {
        let mut errors = Map::new();
        if let Some(doc) = self.inner.first() {
            for (k, item) in obj {
                if let Err(e) = doc.matches(item) {
                    errors.insert(k.clone(), e);
                }
            }
        }
        errors
    }

    fn object_errors(&self, obj: &Map<String, Value>) -> Map<String, Value> {
        let mut errors = Map::new();
        let doc_keys: HashSet<&str> = self.inner.iter().map(|d| d.key).collect();
        // Core walks the result's keys sorted (a std::map)
        let mut keys: Vec<&String> = obj.keys().collect();
        keys.sort();
        for k in keys {
            if !doc_keys.contains(k.as_str()) {
                errors.insert(k.clone(), Value::String("key returned that was not in doc".to_owned()));
            }
        }
        for doc in self.inner.iter().filter(|d| d.ty != ResultType::Elision) {
            match obj.get(doc.key) {
                None if !doc.optional => {
                    errors.insert(
                        doc.key.to_owned(),
                        Value::String("key missing, despite not being optional in doc".to_owned()),
                    );
                }
                None => {}
                Some(item) => {
                    if let Err(e) = doc.matches(item) {
                        errors.insert(doc.key.to_owned(), e);
                    }
                }
            }
        }
        errors
    }
}

/// The `-rpcdoccheck` check of `result` against the alternatives
/// `results` of command `name`.
///
/// # Errors
/// Core's internal bug: `RPC call "<name>" returned incorrect type:` and
/// the mismatches (one, or an array of one per alternative).
pub fn check_result(name: &str, results: &[ResultDoc], result: &Value) -> Result<(), RpcError> {
    let mut mismatches = Vec::with_capacity(results.len());
    for doc in results {
        match doc.matches(result) {
            Ok(()) => return Ok(()),
            Err(e) => mismatches.push(e),
        }
    }
    let explain = match mismatches.as_slice() {
        [] => "no possible results defined".to_owned(),
        [one] => pretty4(one),
        _ => pretty4(&Value::Array(mismatches)),
    };
    Err(internal_bug(&format!("RPC call \"{name}\" returned incorrect type:\n{explain}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::ResultType as R;
    use serde_json::json;

    static INFO: &[ResultDoc] = &[ResultDoc::new(R::Obj, "", "").inner(&[
        ResultDoc::new(R::Arr, "active", "").inner(&[ResultDoc::new(R::Obj, "", "")
            .inner(&[ResultDoc::new(R::Str, "method", ""), ResultDoc::new(R::Num, "duration", "")])]),
        ResultDoc::optional(R::Str, "logpath", ""),
    ])];

    #[test]
    fn accepts_a_matching_result() {
        assert!(check_result("x", INFO, &json!({"active": [{"method": "a", "duration": 1}], "logpath": "/l"})).is_ok());
        assert!(check_result("x", INFO, &json!({"active": []})).is_ok());
    }

    #[test]
    fn rejects_missing_key_wrong_type_and_extra_key() {
        let e = check_result("x", INFO, &json!({"active": [{"method": 1}], "extra": 2})).unwrap_err();
        assert_eq!(e.code, -1);
        let expected = concat!(
            "Internal bug detected: RPC call \"x\" returned incorrect type:\n",
            "{\n",
            "    \"extra\": \"key returned that was not in doc\",\n",
            "    \"active\": {\n",
            "        \"0\": {\n",
            "            \"method\": \"returned type is number, but declared as string in doc\",\n",
            "            \"duration\": \"key missing, despite not being optional in doc\"\n",
            "        }\n",
            "    }\n",
            "}\n",
        );
        assert!(e.message.starts_with(expected), "{}", e.message);
        assert!(e.message.ends_with(&format!("Please report this issue here: {BUG_REPORT_URL}\n")));
        let e = check_result("x", INFO, &json!([])).unwrap_err();
        assert!(e.message.contains("type:\n\"returned type is array, but declared as object in doc\"\n"));
    }

    #[test]
    fn alternatives_and_no_results() {
        let alts = [ResultDoc::new(R::Str, "", "").cond("a"), ResultDoc::new(R::Null, "", "").cond("b")];
        assert!(check_result("x", &alts, &json!(null)).is_ok());
        assert!(check_result("x", &alts, &json!("s")).is_ok());
        let e = check_result("x", &alts, &json!(1)).unwrap_err();
        assert!(e.message.contains(
            "type:\n[\n    \"returned type is number, but declared as string in doc\",\n    \"returned type is number, but declared as null in doc\"\n]\n"
        ));
        let e = check_result("x", &[], &json!(1)).unwrap_err();
        assert!(e.message.starts_with(
            "Internal bug detected: RPC call \"x\" returned incorrect type:\nno possible results defined\n"
        ));
    }

    #[test]
    fn dynamic_objects_and_arrays_reuse_their_inner_doc() {
        const DOC: ResultDoc = ResultDoc::new(R::ObjDyn, "", "").inner(&[ResultDoc::new(R::Num, "", "")]);
        assert!(DOC.matches(&json!({"a": 1, "b": 2})).is_ok());
        assert_eq!(
            DOC.matches(&json!({"a": "x"})).unwrap_err()["a"],
            "returned type is string, but declared as number in doc"
        );
        const ARR: ResultDoc = ResultDoc::new(R::Arr, "", "").inner(&[ResultDoc::new(R::Num, "", "")]);
        assert_eq!(
            ARR.matches(&json!([1, 2, "x"])).unwrap_err()["2"],
            "returned type is string, but declared as number in doc"
        );
    }
}
