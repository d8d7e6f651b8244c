//! A command's help schema as data, as Core's `RPCHelpMan` holds it: the
//! arguments ([`Param`]), the documented results ([`ResultDoc`]), the
//! examples ([`Example`]) and the category, gathered in one [`Schema`].
//!
//! Everything here is `const`-constructible, so a command's schema is a
//! `static` next to its handler. From it come the `help <command>` text
//! ([`crate::help`]), the argument type checks ([`Param::matches`]), the
//! named-argument table, `help dump_all_command_conversions` and the
//! `-rpcdoccheck` result check ([`crate::doccheck`]).
//!
//! # Example
//! ```
//! use ferronode_httprpc::schema::{Example, Fallback, Param, ParamType as P, ResultDoc, ResultType as R, Schema};
//!
//! static GETTHING: Schema = Schema {
//!     category: "blockchain",
//!     name: "getthing",
//!     description: "Returns a thing.",
//!     params: &[
//!         Param::new("id|thing_id", P::StrHex, Fallback::Required, "The thing's id"),
//!         Param::new("options", P::ObjNamedParams, Fallback::Omitted, "").inner(&[
//!             Param::new("verbose", P::Bool, Fallback::Default("false"), "Say more"),
//!             Param::new("depth", P::Num, Fallback::Hint("all"), "How deep to look"),
//!         ]),
//!     ],
//!     results: &[
//!         ResultDoc::new(R::StrHex, "", "The thing, serialized").cond("if verbose is false"),
//!         ResultDoc::new(R::Obj, "", "").cond("if verbose is true").inner(&[
//!             ResultDoc::new(R::Str, "id", "The id"),
//!             ResultDoc::optional(R::Arr, "parts", "Its parts").inner(&[ResultDoc::new(R::Num, "", "A part")]),
//!         ]),
//!     ],
//!     examples: &[Example::Cli("getthing", "\"00ff\""), Example::RpcNamed("getthing", &[("id", "\"00ff\"")])],
//! };
//! assert!(GETTHING.help_text().starts_with("getthing \"id\" ( {\"verbose\":bool,\"depth\":n,...} )\n"));
//! ```
//! The handler is attached with [`Command::from_schema`](crate::Command::from_schema)
//! or [`Command::from_schema_sync`](crate::Command::from_schema_sync).

use serde_json::Value;

use crate::table::json_type_name;

/// An argument's type (Core's `RPCArg::Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A JSON object with the keys listed in `inner` (`OBJ`).
    Obj,
    /// A JSON array of the elements listed in `inner` (`ARR`).
    Arr,
    /// A string (`STR`).
    Str,
    /// A number (`NUM`).
    Num,
    /// A boolean (`BOOL`).
    Bool,
    /// An options object whose keys may also be passed as top-level named
    /// parameters (`OBJ_NAMED_PARAMS`).
    ObjNamedParams,
    /// An object whose keys the user chooses (`OBJ_USER_KEYS`).
    ObjUserKeys,
    /// An amount, a number or a string; the command checks it (`AMOUNT`).
    Amount,
    /// A hex string (`STR_HEX`).
    StrHex,
    /// A number or `[begin, end]`; the command checks it (`RANGE`).
    Range,
}

impl ParamType {
    /// The JSON type checked before the command runs (Core's
    /// `ExpectedType`), if any.
    #[must_use]
    pub const fn expected(self) -> Option<&'static str> {
        match self {
            Self::Str | Self::StrHex => Some("string"),
            Self::Num => Some("number"),
            Self::Bool => Some("bool"),
            Self::Obj | Self::ObjNamedParams | Self::ObjUserKeys => Some("object"),
            Self::Arr => Some("array"),
            Self::Amount | Self::Range => None,
        }
    }

    /// Whether bitcoin-cli passes the argument as a string, unconverted
    /// (the last column of `dump_all_command_conversions`).
    #[must_use]
    pub const fn is_string(self) -> bool {
        matches!(self, Self::Str | Self::StrHex)
    }
}

/// What happens when an argument is left out (Core's `RPCArg::Fallback`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The argument must be given (`Optional::NO`).
    Required,
    /// The argument may be left out and has no default (`Optional::OMITTED`).
    Omitted,
    /// The default value, as compact JSON text (`"true"`, `"6"`, `"\"all\""`).
    Default(&'static str),
    /// A text describing the default (`DefaultHint`).
    Hint(&'static str),
}

/// Core's `RPCArgOptions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamOpts {
    /// No type check before the command runs.
    pub skip_type_check: bool,
    /// Replaces the argument in the synopsis line.
    pub oneline_description: &'static str,
    /// Replaces the type shown: in a key-value pair, and in the description.
    pub type_str: Option<[&'static str; 2]>,
    /// Left out of help, with every argument after it (for testing).
    pub hidden: bool,
    /// A named-params option that may share its name with a top-level one.
    pub also_positional: bool,
}

impl ParamOpts {
    /// No options set.
    pub const NONE: Self =
        Self { skip_type_check: false, oneline_description: "", type_str: None, hidden: false, also_positional: false };
}

/// One argument (Core's `RPCArg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Name, with aliases separated by `|` (`"nblocks|n"`).
    pub names: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// Required, omitted, or its default.
    pub fallback: Fallback,
    /// Text for help.
    pub description: &'static str,
    /// Keys of an object, elements of an array.
    pub inner: &'static [Param],
    /// Options.
    pub opts: ParamOpts,
}

impl Param {
    /// An argument with no inner arguments and no options.
    #[must_use]
    pub const fn new(names: &'static str, ty: ParamType, fallback: Fallback, description: &'static str) -> Self {
        Self { names, ty, fallback, description, inner: &[], opts: ParamOpts::NONE }
    }

    /// Sets the keys of an object or the elements of an array.
    #[must_use]
    pub const fn inner(mut self, inner: &'static [Param]) -> Self {
        self.inner = inner;
        self
    }

    /// Sets `skip_type_check`.
    #[must_use]
    pub const fn skip_type_check(mut self) -> Self {
        self.opts.skip_type_check = true;
        self
    }

    /// Sets the synopsis text (`oneline_description`).
    #[must_use]
    pub const fn oneline(mut self, text: &'static str) -> Self {
        self.opts.oneline_description = text;
        self
    }

    /// Sets `type_str`: the type in a key-value pair, and in the description.
    #[must_use]
    pub const fn type_str(mut self, in_pair: &'static str, in_description: &'static str) -> Self {
        self.opts.type_str = Some([in_pair, in_description]);
        self
    }

    /// Hides the argument (and every later one) from help.
    #[must_use]
    pub const fn hidden(mut self) -> Self {
        self.opts.hidden = true;
        self
    }

    /// Sets `also_positional`.
    #[must_use]
    pub const fn also_positional(mut self) -> Self {
        self.opts.also_positional = true;
        self
    }

    /// The first of the names (`GetFirstName`).
    #[must_use]
    pub fn first_name(&self) -> &'static str {
        self.names.split('|').next().unwrap_or(self.names)
    }

    /// Whether the argument may be left out (`IsOptional`).
    #[must_use]
    pub const fn is_optional(&self) -> bool {
        !matches!(self.fallback, Fallback::Required)
    }

    /// Core's `RPCArg::MatchesType`: `Err` with the mismatch text.
    ///
    /// # Errors
    /// `JSON value of type <got> is not of expected type <expected>`.
    pub fn matches(&self, v: &Value) -> Result<(), String> {
        if self.opts.skip_type_check || (self.is_optional() && v.is_null()) {
            return Ok(());
        }
        match self.ty.expected() {
            Some(expected) if json_type_name(v) != expected => {
                Err(format!("JSON value of type {} is not of expected type {expected}", json_type_name(v)))
            }
            _ => Ok(()),
        }
    }

    /// The default value, parsed (`RPCArg::Default`).
    #[must_use]
    pub fn default_value(&self) -> Option<Value> {
        match self.fallback {
            Fallback::Default(text) => serde_json::from_str(text).ok(),
            _ => None,
        }
    }
}

/// A result's type (Core's `RPCResult::Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultType {
    /// An object with the keys in `inner` (`OBJ`).
    Obj,
    /// An array of `inner` elements, the last repeating (`ARR`).
    Arr,
    /// A string (`STR`).
    Str,
    /// A number (`NUM`).
    Num,
    /// A boolean (`BOOL`).
    Bool,
    /// JSON null (Core's `NONE`).
    Null,
    /// Anything (`ANY`).
    Any,
    /// An amount, a number (`STR_AMOUNT`).
    StrAmount,
    /// A hex string (`STR_HEX`).
    StrHex,
    /// An object whose keys are not literals, values as `inner[0]`
    /// (`OBJ_DYN`).
    ObjDyn,
    /// An array with a fixed number of entries (`ARR_FIXED`).
    ArrFixed,
    /// A Unix time, a number (`NUM_TIME`).
    NumTime,
    /// `...` in help with the description as its text; matches anything
    /// (Core's `ELISION`, now `print_elision`).
    Elision,
}

impl ResultType {
    /// The JSON type the result must have, if any (Core's `ExpectedType`).
    #[must_use]
    pub const fn expected(self) -> Option<&'static str> {
        match self {
            Self::Any | Self::Elision => None,
            Self::Null => Some("null"),
            Self::Str | Self::StrHex => Some("string"),
            Self::Num | Self::StrAmount | Self::NumTime => Some("number"),
            Self::Bool => Some("bool"),
            Self::Arr | Self::ArrFixed => Some("array"),
            Self::Obj | Self::ObjDyn => Some("object"),
        }
    }
}

/// One documented result, or a key or element of one (Core's `RPCResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultDoc {
    /// Its type.
    pub ty: ResultType,
    /// The key, inside an object.
    pub key: &'static str,
    /// Text for help.
    pub description: &'static str,
    /// Whether the key may be missing.
    pub optional: bool,
    /// Keys of an object, elements of an array.
    pub inner: &'static [ResultDoc],
    /// For a top-level alternative: when it is the result (`m_cond`).
    pub cond: &'static str,
    /// Not checked by `-rpcdoccheck`.
    pub skip_type_check: bool,
    /// Left out of help (`HelpElisionSkip`).
    pub help_skip: bool,
}

impl ResultDoc {
    /// A result that is always present.
    #[must_use]
    pub const fn new(ty: ResultType, key: &'static str, description: &'static str) -> Self {
        Self { ty, key, description, optional: false, inner: &[], cond: "", skip_type_check: false, help_skip: false }
    }

    /// A key that may be missing.
    #[must_use]
    pub const fn optional(ty: ResultType, key: &'static str, description: &'static str) -> Self {
        let mut r = Self::new(ty, key, description);
        r.optional = true;
        r
    }

    /// `...` with `text` in help.
    #[must_use]
    pub const fn elision(text: &'static str) -> Self {
        Self::new(ResultType::Elision, "", text)
    }

    /// Sets the keys or elements.
    #[must_use]
    pub const fn inner(mut self, inner: &'static [ResultDoc]) -> Self {
        self.inner = inner;
        self
    }

    /// Sets the condition of an alternative result.
    #[must_use]
    pub const fn cond(mut self, cond: &'static str) -> Self {
        self.cond = cond;
        self
    }

    /// Sets `skip_type_check`.
    #[must_use]
    pub const fn skip_type_check(mut self) -> Self {
        self.skip_type_check = true;
        self
    }

    /// Leaves the result out of help.
    #[must_use]
    pub const fn help_skip(mut self) -> Self {
        self.help_skip = true;
        self
    }

    /// Core's `CheckInnerDoc`: arrays and dynamic objects need inner
    /// entries, scalars must have none.
    #[must_use]
    pub fn inner_doc_ok(&self) -> bool {
        let ok = match self.ty {
            ResultType::Obj => true,
            ResultType::Arr | ResultType::ArrFixed | ResultType::ObjDyn => !self.inner.is_empty(),
            _ => self.inner.is_empty(),
        };
        ok && self.inner.iter().all(Self::inner_doc_ok)
    }
}

/// One example of the help text (Core's `HelpExample*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Example {
    /// `HelpExampleCli(method, args)`.
    Cli(&'static str, &'static str),
    /// `HelpExampleRpc(method, args)`.
    Rpc(&'static str, &'static str),
    /// `HelpExampleCliNamed(method, {name: JSON text})`.
    CliNamed(&'static str, &'static [(&'static str, &'static str)]),
    /// `HelpExampleRpcNamed(method, {name: JSON text})`.
    RpcNamed(&'static str, &'static [(&'static str, &'static str)]),
    /// Literal text, newline included where wanted.
    Text(&'static str),
}

/// A command's whole schema (Core's `RPCHelpMan` without the handler).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schema {
    /// Category for `help` (`control`, `blockchain`, ...; `hidden`).
    pub category: &'static str,
    /// Method name.
    pub name: &'static str,
    /// What the command does.
    pub description: &'static str,
    /// Arguments, in positional order.
    pub params: &'static [Param],
    /// The possible results; each but a lone one has a condition.
    pub results: &'static [ResultDoc],
    /// The examples, in order.
    pub examples: &'static [Example],
}

impl Schema {
    /// The names for mapping named parameters to positions, with whether
    /// each is a named-only option (Core's `GetArgNames`).
    #[must_use]
    pub fn arg_names(params: &[Param]) -> Vec<(&'static str, bool)> {
        let mut out = Vec::with_capacity(params.len());
        for p in params {
            if p.ty == ParamType::ObjNamedParams {
                out.extend(p.inner.iter().map(|inner| (inner.names, true)));
            }
            out.push((p.names, false));
        }
        out
    }

    /// The argument at position `i`: given, or its default (Core's
    /// `Arg<T>`, with `CheckRequiredOrDefault`).
    ///
    /// # Errors
    /// Core's internal-bug error when the argument is neither required nor
    /// has a default (use [`maybe_arg`](Self::maybe_arg) for those), or is
    /// out of range.
    pub fn arg(&self, params: &[Value], i: usize) -> Result<Value, crate::RpcError> {
        let param = self.params.get(i).ok_or_else(|| crate::doccheck::internal_bug("i < params.size()"))?;
        if !matches!(param.fallback, Fallback::Required | Fallback::Default(_)) {
            return Err(crate::doccheck::internal_bug(
                "required || std::holds_alternative<RPCArg::Default>(param.m_fallback)",
            ));
        }
        match params.get(i).filter(|v| !v.is_null()) {
            Some(v) => Ok(v.clone()),
            None => param.default_value().ok_or_else(|| crate::doccheck::internal_bug("maybe_arg")),
        }
    }

    /// Core's construction checks (`RPCHelpMan`'s constructor and
    /// `CheckInnerDoc`): unique names, an options key sharing a top-level
    /// name only with `also_positional`, defaults that parse and fit their
    /// type, well-formed results. A test per category should call it.
    ///
    /// # Errors
    /// What is wrong, naming the argument or the command.
    pub fn validate(&self) -> Result<(), String> {
        let mut positional = std::collections::HashSet::new();
        let mut named = std::collections::HashSet::new();
        for p in self.params {
            for name in p.names.split('|') {
                if named.contains(name) || !positional.insert(name) {
                    return Err(format!("{}: argument name {name} used twice", self.name));
                }
            }
            for inner in p.inner.iter().filter(|_| p.ty == ParamType::ObjNamedParams) {
                for name in inner.names.split('|') {
                    if (positional.contains(name) && !inner.opts.also_positional) || !named.insert(name) {
                        return Err(format!("{}: option name {name} used twice", self.name));
                    }
                }
            }
            if let Fallback::Default(text) = p.fallback {
                let fits = match serde_json::from_str::<Value>(text) {
                    Ok(Value::Object(_)) => p.ty == ParamType::Obj,
                    Ok(Value::Array(_)) => p.ty == ParamType::Arr,
                    Ok(Value::String(_)) => matches!(p.ty, ParamType::Str | ParamType::StrHex | ParamType::Amount),
                    Ok(Value::Number(_)) => matches!(p.ty, ParamType::Num | ParamType::Amount | ParamType::Range),
                    Ok(Value::Bool(_)) => p.ty == ParamType::Bool,
                    Ok(Value::Null) => true,
                    Err(_) => false,
                };
                if !fits {
                    return Err(format!("{}: default {text} of {} does not fit its type", self.name, p.names));
                }
            }
        }
        if self.description.starts_with('\n') || !self.results.iter().all(ResultDoc::inner_doc_ok) {
            return Err(format!("{}: description or results malformed", self.name));
        }
        Ok(())
    }

    /// The argument at position `i` if given and not null (Core's
    /// `MaybeArg`).
    #[must_use]
    pub fn maybe_arg<'a>(&self, params: &'a [Value], i: usize) -> Option<&'a Value> {
        params.get(i).filter(|v| !v.is_null())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use ParamType as P;

    #[test]
    fn type_checks_for_each_type() {
        let cases: [(ParamType, Value, Option<&str>); 12] = [
            (P::Str, json!(1), Some("number is not of expected type string")),
            (P::StrHex, json!(true), Some("bool is not of expected type string")),
            (P::Num, json!("1"), Some("string is not of expected type number")),
            (P::Bool, json!(0), Some("number is not of expected type bool")),
            (P::Obj, json!([]), Some("array is not of expected type object")),
            (P::ObjNamedParams, json!(1), Some("number is not of expected type object")),
            (P::ObjUserKeys, json!("x"), Some("string is not of expected type object")),
            (P::Arr, json!({}), Some("object is not of expected type array")),
            (P::Amount, json!("1.0"), None),
            (P::Amount, json!([]), None),
            (P::Range, json!([1, 2]), None),
            (P::Num, json!(3), None),
        ];
        for (ty, v, err) in cases {
            let got = Param::new("x", ty, Fallback::Required, "").matches(&v).err();
            assert_eq!(got, err.map(|e| format!("JSON value of type {e}")), "{ty:?} {v}");
        }
        let required = Param::new("x", P::Num, Fallback::Required, "");
        assert_eq!(
            required.matches(&json!(null)).unwrap_err(),
            "JSON value of type null is not of expected type number"
        );
        assert!(Param::new("x", P::Num, Fallback::Omitted, "").matches(&json!(null)).is_ok());
        assert!(Param::new("x", P::Num, Fallback::Default("1"), "").matches(&json!(null)).is_ok());
        assert!(required.skip_type_check().matches(&json!("s")).is_ok());
    }

    #[test]
    fn validation_like_cores_constructor() {
        const fn schema(params: &'static [Param]) -> Schema {
            Schema { category: "t", name: "t", description: "", params, results: &[], examples: &[] }
        }
        static OK: Schema = schema(&[
            Param::new("a|b", P::Num, Fallback::Default("1"), ""),
            Param::new("o", P::ObjNamedParams, Fallback::Omitted, "").inner(&[Param::new(
                "a",
                P::Num,
                Fallback::Omitted,
                "",
            )
            .also_positional()]),
        ]);
        assert_eq!(OK.validate(), Ok(()));
        static TWICE: Schema = schema(&[
            Param::new("a", P::Num, Fallback::Required, ""),
            Param::new("o", P::ObjNamedParams, Fallback::Omitted, "").inner(&[Param::new(
                "a",
                P::Num,
                Fallback::Omitted,
                "",
            )]),
        ]);
        assert!(TWICE.validate().is_err());
        static BAD_DEFAULT: Schema = schema(&[Param::new("a", P::Bool, Fallback::Default("1"), "")]);
        assert!(BAD_DEFAULT.validate().is_err());
    }

    #[test]
    fn arg_values_and_defaults() {
        static S: Schema = Schema {
            category: "test",
            name: "t",
            description: "",
            params: &[
                Param::new("a", P::Num, Fallback::Required, ""),
                Param::new("b", P::Bool, Fallback::Default("true"), ""),
                Param::new("c", P::Str, Fallback::Omitted, ""),
            ],
            results: &[],
            examples: &[],
        };
        let params = [json!(5), json!(null)];
        assert_eq!(S.arg(&params, 0).unwrap(), json!(5));
        assert_eq!(S.arg(&params, 1).unwrap(), json!(true));
        assert_eq!(S.arg(&params, 2).unwrap_err().code, -1);
        assert_eq!(S.maybe_arg(&params, 2), None);
        assert_eq!(S.maybe_arg(&params, 0), Some(&json!(5)));
    }
}
