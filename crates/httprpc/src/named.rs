//! Named parameters mapped to positions (Core's `transformNamedArguments`),
//! with the `args` catch-all and the options of an `OBJ_NAMED_PARAMS`
//! argument, which may be passed as top-level names.

use serde_json::{Map, Value};

use crate::table::Arg;
use crate::RpcError;

/// Maps named parameters to the positions of the legacy arguments `args`.
///
/// # Errors
/// Core's -8 errors for duplicate, unknown and conflicting names.
pub fn named_to_positional(args: &[Arg], named: Vec<(String, Value)>) -> Result<Vec<Value>, RpcError> {
    let names: Vec<(&str, bool)> = args.iter().map(|a| (a.names, false)).collect();
    transform(&names, named)
}

/// Maps named parameters to positions. `names` lists every position's
/// names (`a|b`) in order, each named-only option (`true`) just before the
/// options argument it belongs to (Core's `GetArgNames`).
///
/// # Errors
/// Core's -8 errors for duplicate, unknown and conflicting names.
pub fn transform(names: &[(&str, bool)], named: Vec<(String, Value)>) -> Result<Vec<Value>, RpcError> {
    let mut given: Vec<(String, Option<Value>)> = Vec::with_capacity(named.len());
    for (k, v) in named {
        if given.iter().any(|(g, _)| *g == k) {
            return Err(RpcError::invalid_parameter(format!("Parameter {k} specified multiple times")));
        }
        given.push((k, Some(v)));
    }
    let mut take = |pattern: &str| -> Option<(String, Value)> {
        pattern.split('|').find_map(|n| {
            given.iter_mut().find(|(k, v)| k == n && v.is_some()).and_then(|(k, v)| v.take().map(|v| (k.clone(), v)))
        })
    };
    let mut out = Vec::new();
    let mut hole = 0usize;
    let mut initial_hole = 0usize;
    let mut initial_param: Option<&str> = None;
    let mut options = Map::new();
    for &(pattern, named_only) in names {
        let found = take(pattern);
        if named_only {
            if let Some((k, v)) = found {
                if options.contains_key(&k) {
                    return Err(RpcError::invalid_parameter(format!("Parameter {k} specified multiple times")));
                }
                options.insert(k, v);
            }
            continue;
        }
        if !options.is_empty() || found.is_some() {
            out.extend(std::iter::repeat_n(Value::Null, hole));
            hole = 0;
            initial_param.get_or_insert(pattern);
        } else {
            hole += 1;
            if out.is_empty() {
                initial_hole = hole;
            }
        }
        if let Some((k, v)) = found {
            if let Some(first) = options.keys().next() {
                return Err(RpcError::invalid_parameter(format!("Parameter {k} conflicts with parameter {first}")));
            }
            out.push(v);
        }
        if !options.is_empty() {
            out.push(Value::Object(std::mem::take(&mut options)));
        }
    }
    let out = apply_args_catch_all(&mut given, out, initial_hole, initial_param)?;
    if let Some((k, _)) = given.iter().find(|(_, v)| v.is_some()) {
        return Err(RpcError::invalid_parameter(format!("Unknown named parameter {k}")));
    }
    Ok(out)
}

/// A leftover `args` array gives the positional arguments; the named ones
/// follow it.
fn apply_args_catch_all(
    given: &mut [(String, Option<Value>)],
    mut out: Vec<Value>,
    initial_hole: usize,
    initial_param: Option<&str>,
) -> Result<Vec<Value>, RpcError> {
    let Some(pos) = given.iter().position(|(k, v)| k == "args" && v.is_some()) else { return Ok(out) };
    if let Some(Value::Array(positional)) = given[pos].1.take() {
        if initial_hole < positional.len() {
            if let Some(p) = initial_param {
                return Err(RpcError::invalid_parameter(format!(
                    "Parameter {p} specified twice both as positional and named argument"
                )));
            }
        }
        let named_out = std::mem::replace(&mut out, positional);
        let start = out.len();
        out.extend(named_out.into_iter().skip(start));
    } else {
        // a non-array `args` stays in the map and is reported as unknown
        given[pos].1 = Some(Value::Null);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Fallback, Param, ParamType as P, Schema};
    use serde_json::json;

    fn named(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    static PARAMS: &[Param] = &[
        Param::new("address", P::Str, Fallback::Required, ""),
        Param::new("options", P::ObjNamedParams, Fallback::Omitted, "").inner(&[
            Param::new("fee_rate", P::Amount, Fallback::Omitted, ""),
            Param::new("replaceable", P::Bool, Fallback::Omitted, ""),
        ]),
        Param::new("verbose", P::Bool, Fallback::Default("false"), ""),
    ];

    #[test]
    fn named_only_options_become_the_options_object() {
        let names = Schema::arg_names(PARAMS);
        assert_eq!(
            transform(&names, named(&[("replaceable", json!(true)), ("address", json!("a")), ("fee_rate", json!(1))]))
                .unwrap(),
            vec![json!("a"), json!({"fee_rate": 1, "replaceable": true})]
        );
        assert_eq!(
            transform(&names, named(&[("verbose", json!(true)), ("fee_rate", json!(2))])).unwrap(),
            vec![json!(null), json!({"fee_rate": 2}), json!(true)]
        );
        assert_eq!(
            transform(&names, named(&[("options", json!({})), ("fee_rate", json!(2))])).unwrap_err().message,
            "Parameter options conflicts with parameter fee_rate"
        );
        assert_eq!(
            transform(&names, named(&[("args", json!(["a"])), ("fee_rate", json!(2))])).unwrap(),
            vec![json!("a"), json!({"fee_rate": 2})]
        );
        assert_eq!(
            transform(&names, named(&[("args", json!(["a", {}])), ("fee_rate", json!(2))])).unwrap_err().message,
            "Parameter options specified twice both as positional and named argument"
        );
    }

    #[test]
    fn legacy_arguments() {
        use crate::table::ArgType;
        let a = [
            Arg::required("nblocks", ArgType::Num, ""),
            Arg::required("address", ArgType::Str, ""),
            Arg::optional("maxtries|tries", ArgType::Num, ""),
        ];
        assert_eq!(
            named_to_positional(&a, named(&[("address", json!("x")), ("nblocks", json!(1))])).unwrap(),
            vec![json!(1), json!("x")]
        );
        // hole filled with null, no trailing nulls
        assert_eq!(
            named_to_positional(&a, named(&[("tries", json!(5))])).unwrap(),
            vec![json!(null), json!(null), json!(5)]
        );
        assert_eq!(
            named_to_positional(&a, named(&[("args", json!([1, "x"])), ("maxtries", json!(3))])).unwrap(),
            vec![json!(1), json!("x"), json!(3)]
        );
        assert_eq!(
            named_to_positional(&a, named(&[("a", json!(1)), ("a", json!(2))])).unwrap_err().message,
            "Parameter a specified multiple times"
        );
        assert_eq!(
            named_to_positional(&a, named(&[("bogus", json!(1))])).unwrap_err().message,
            "Unknown named parameter bogus"
        );
        assert_eq!(
            named_to_positional(&a, named(&[("args", json!([1])), ("nblocks", json!(2))])).unwrap_err().message,
            "Parameter nblocks specified twice both as positional and named argument"
        );
        assert_eq!(
            named_to_positional(&a, named(&[("args", json!(1))])).unwrap_err().message,
            "Unknown named parameter args"
        );
    }
}
