//! The `help <command>` text of a [`Schema`], laid out exactly as Core's
//! `RPCHelpMan::ToString` does (its `Sections`, `RPCArg::ToString`,
//! `ToDescriptionString` and `RPCResult::ToSections`).

use serde_json::Value;

use crate::schema::{Example, Fallback, Param, ParamType, ResultDoc, ResultType, Schema};

/// The client named in `Examples:` lines (Core: `bitcoin-cli`).
pub const EXAMPLE_CLI: &str = "ferronode-cli";

/// The URL of `Examples:` curl lines (Core: port 8332; ours: regtest's).
pub const EXAMPLE_URL: &str = "http://127.0.0.1:18443/";

/// Where a nested entry sits (Core's `OuterType`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outer {
    None,
    Obj,
    Arr,
}

/// Left and right columns, padded to a common width (Core's `Sections`).
#[derive(Default)]
struct Sections {
    rows: Vec<(String, String)>,
    max_pad: usize,
}

impl Sections {
    fn push(&mut self, left: String, right: String) {
        self.max_pad = self.max_pad.max(left.len());
        self.rows.push((left, right));
    }

    /// The nested rows of an argument (Core's `Sections::Push`).
    fn push_param(&mut self, p: &Param, indent: usize, outer: Outer) {
        let pad = " ".repeat(indent);
        let push_name = outer == Outer::Obj;
        let top = outer == Outer::None;
        let right = || if top { String::new() } else { description(p, push_name) };
        match p.ty {
            ParamType::Obj | ParamType::ObjUserKeys => {
                let key = if push_name { format!("\"{}\": ", p.names) } else { String::new() };
                self.push(format!("{pad}{key}{{"), right());
                for inner in p.inner {
                    self.push_param(inner, indent + 2, Outer::Obj);
                }
                if p.ty != ParamType::Obj {
                    self.push(format!("{pad}  ..."), String::new());
                }
                self.push(format!("{pad}}}{}", if top { "" } else { "," }), String::new());
            }
            ParamType::Arr => {
                let key = if push_name { format!("\"{}\": ", p.names) } else { String::new() };
                self.push(format!("{pad}{key}["), right());
                for inner in p.inner {
                    self.push_param(inner, indent + 2, Outer::Arr);
                }
                self.push(format!("{pad}  ..."), String::new());
                self.push(format!("{pad}]{}", if top { "" } else { "," }), String::new());
            }
            _ if top => {}
            _ => {
                let left = match p.opts.type_str {
                    Some([in_pair, _]) if push_name => format!("\"{}\": {in_pair}", p.names),
                    _ if push_name => param_obj_string(p, false),
                    _ => param_string(p, false),
                };
                self.push(format!("{pad}{left},"), description(p, push_name));
            }
        }
    }

    /// The rows of a result (Core's `RPCResult::ToSections`).
    fn push_result(&mut self, r: &ResultDoc, outer: Outer, indent: usize) {
        let pad = " ".repeat(indent);
        let sep = if outer == Outer::None { "" } else { "," };
        let key = if outer == Outer::Obj { format!("\"{}\" : ", r.key) } else { String::new() };
        let desc = |ty: &str| {
            let optional = if r.optional { ", optional" } else { "" };
            let text = if r.description.is_empty() { String::new() } else { format!(" {}", r.description) };
            format!("({ty}{optional}){text}")
        };
        if r.help_skip {
            return;
        }
        let scalar = match r.ty {
            ResultType::Elision => return self.push(format!("{pad}...{sep}"), r.description.to_owned()),
            ResultType::Any => Some(("xxx", "any")),
            ResultType::Null => return self.push(format!("{pad}null{sep}"), desc("json null")),
            ResultType::Str => Some(("\"str\"", "string")),
            ResultType::StrAmount | ResultType::Num => Some(("n", "numeric")),
            ResultType::StrHex => Some(("\"hex\"", "string")),
            ResultType::NumTime => Some(("xxx", "numeric")),
            ResultType::Bool => Some(("true|false", "boolean")),
            ResultType::Arr | ResultType::ArrFixed | ResultType::Obj | ResultType::ObjDyn => None,
        };
        if let Some((shown, ty)) = scalar {
            return self.push(format!("{pad}{key}{shown}{sep}"), desc(ty));
        }
        let is_arr = matches!(r.ty, ResultType::Arr | ResultType::ArrFixed);
        if !is_arr && r.inner.is_empty() {
            return self.push(format!("{pad}{key}{{}}"), desc("empty JSON object"));
        }
        let (open, close, ty) = if is_arr { ("[", "]", "json array") } else { ("{", "}", "json object") };
        self.push(format!("{pad}{key}{open}"), desc(ty));
        for inner in r.inner {
            self.push_result(inner, if is_arr { Outer::Arr } else { Outer::Obj }, indent + 2);
        }
        let last_elides = r.inner.last().is_some_and(|l| l.ty == ResultType::Elision);
        if (r.ty == ResultType::Arr && !last_elides) || r.ty == ResultType::ObjDyn {
            self.push(format!("{pad}  ..."), String::new());
        } else if let Some(last) = self.rows.last_mut() {
            // no comma after the last entry: it would be invalid JSON
            last.0.pop();
        }
        self.push(format!("{pad}{close}{sep}"), String::new());
    }

    /// Every row, the right column padded past the widest left one, with
    /// continuation lines indented to it (Core's `Sections::ToString`).
    fn render(&self) -> String {
        let pad = self.max_pad + 4;
        let mut out = String::new();
        for (left, right) in &self.rows {
            out.push_str(left);
            if !right.is_empty() {
                out.push_str(&" ".repeat(pad.saturating_sub(left.len())));
                out.push_str(&pad_continuations(right, pad));
            }
            out.push('\n');
        }
        out
    }
}

/// Core's newline handling in `Sections::ToString`: each line after a
/// newline is indented to `pad`, its own leading spaces dropped.
fn pad_continuations(right: &str, pad: usize) -> String {
    let bytes = right.as_bytes();
    let find_nl = |from: usize| bytes.get(from..).and_then(|b| b.iter().position(|&c| c == b'\n')).map(|p| p + from);
    let mut out = String::new();
    let mut begin = 0;
    let mut nl = find_nl(0);
    loop {
        let end = nl.unwrap_or(bytes.len());
        out.push_str(right.get(begin..end).unwrap_or(""));
        let Some(at) = nl else { break };
        out.push('\n');
        out.push_str(&" ".repeat(pad));
        let Some(next) = bytes.get(at + 1..).and_then(|b| b.iter().position(|&c| c != b' ')).map(|p| p + at + 1) else {
            break;
        };
        begin = next;
        nl = find_nl(begin + 1);
    }
    out
}

/// An argument in the synopsis or an array (Core's `RPCArg::ToString`).
fn param_string(p: &Param, oneline: bool) -> String {
    if oneline && !p.opts.oneline_description.is_empty() {
        return p.opts.oneline_description.to_owned();
    }
    match p.ty {
        ParamType::Str | ParamType::StrHex => format!("\"{}\"", p.first_name()),
        ParamType::Num | ParamType::Range | ParamType::Amount | ParamType::Bool => p.first_name().to_owned(),
        ParamType::Obj | ParamType::ObjNamedParams | ParamType::ObjUserKeys => {
            let keys: Vec<String> = p.inner.iter().map(|i| param_obj_string(i, oneline)).collect();
            let more = if p.ty == ParamType::Obj { "" } else { ",..." };
            format!("{{{}{more}}}", keys.join(","))
        }
        ParamType::Arr => {
            let items: String = p.inner.iter().map(|i| param_string(i, oneline) + ",").collect();
            format!("[{items}...]")
        }
    }
}

/// An object key and its value's shape (Core's `RPCArg::ToStringObj`).
fn param_obj_string(p: &Param, oneline: bool) -> String {
    let key = format!("\"{}\":{}", p.first_name(), if oneline { "" } else { " " });
    let value = match p.ty {
        ParamType::Str => "\"str\"".to_owned(),
        ParamType::StrHex => "\"hex\"".to_owned(),
        ParamType::Num => "n".to_owned(),
        ParamType::Range => "n or [n,n]".to_owned(),
        ParamType::Amount => "amount".to_owned(),
        ParamType::Bool => "bool".to_owned(),
        ParamType::Arr => {
            let items: String = p.inner.iter().map(|i| param_string(i, oneline) + ",").collect();
            format!("[{items}...]")
        }
        // unused in Core (NONFATAL_UNREACHABLE there)
        ParamType::Obj | ParamType::ObjNamedParams | ParamType::ObjUserKeys => "{...}".to_owned(),
    };
    key + &value
}

/// `(type, required|optional[, default=...]) description` (Core's
/// `RPCArg::ToDescriptionString`).
fn description(p: &Param, is_named: bool) -> String {
    let ty = match (p.opts.type_str, p.ty) {
        (Some([_, in_description]), _) => in_description,
        (None, ParamType::Str | ParamType::StrHex) => "string",
        (None, ParamType::Num) => "numeric",
        (None, ParamType::Amount) => "numeric or string",
        (None, ParamType::Range) => "numeric or array",
        (None, ParamType::Bool) => "boolean",
        (None, ParamType::Obj | ParamType::ObjNamedParams | ParamType::ObjUserKeys) => "json object",
        (None, ParamType::Arr) => "json array",
    };
    let fallback = match p.fallback {
        Fallback::Hint(hint) => format!(", optional, default={hint}"),
        Fallback::Default(json) => format!(", optional, default={json}"),
        Fallback::Omitted if is_named => ", optional".to_owned(),
        Fallback::Omitted => String::new(),
        Fallback::Required => ", required".to_owned(),
    };
    let named = if p.ty == ParamType::ObjNamedParams {
        " Options object that can be used to pass named arguments, listed below."
    } else {
        ""
    };
    let text = if p.description.is_empty() { String::new() } else { format!(" {}", p.description) };
    format!("({ty}{fallback}){named}{text}")
}

/// The synopsis line: name, arguments, `( ... )` around optional runs.
fn synopsis(s: &Schema) -> String {
    let mut ret = s.name.to_owned();
    let mut was_optional = false;
    for p in s.params.iter().take_while(|p| !p.opts.hidden) {
        ret.push(' ');
        if p.is_optional() {
            if !was_optional {
                ret.push_str("( ");
            }
            was_optional = true;
        } else {
            if was_optional {
                ret.push_str(") ");
            }
            was_optional = false;
        }
        ret.push_str(&param_string(p, true));
    }
    if was_optional {
        ret.push_str(" )");
    }
    ret
}

fn arguments(s: &Schema) -> String {
    let mut sections = Sections::default();
    let mut named_only = Sections::default();
    for (i, p) in s.params.iter().take_while(|p| !p.opts.hidden).enumerate() {
        sections.push(format!("{}. {}", i + 1, p.first_name()), description(p, true));
        sections.push_param(p, 5, Outer::None);
        if p.ty == ParamType::ObjNamedParams {
            for inner in p.inner {
                named_only.push(inner.first_name().to_owned(), description(inner, true));
                named_only.push_param(inner, 5, Outer::None);
            }
        }
    }
    let mut ret = String::new();
    if !sections.rows.is_empty() {
        ret.push_str("\nArguments:\n");
    }
    ret.push_str(&sections.render());
    if !named_only.rows.is_empty() {
        ret.push_str("\nNamed Arguments:\n");
    }
    ret.push_str(&named_only.render());
    ret
}

fn results(s: &Schema) -> String {
    let mut ret = String::new();
    for r in s.results {
        let mut sections = Sections::default();
        sections.push_result(r, Outer::None, 0);
        if sections.rows.is_empty() {
            continue;
        }
        if r.cond.is_empty() {
            ret.push_str("\nResult:\n");
        } else {
            ret.push_str(&format!("\nResult ({}):\n", r.cond));
        }
        ret.push_str(&sections.render());
    }
    ret
}

/// Core's `ShellQuoteIfNeeded`.
fn shell_quote_if_needed(s: &str) -> String {
    if s.contains([' ', '\'', '"']) {
        format!("'{}'", s.replace('\'', "'\\''"))
    } else {
        s.to_owned()
    }
}

fn parse_json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// One example line, as Core's `HelpExample*` writes it.
#[must_use]
pub fn example_line(e: &Example) -> String {
    let curl = |method: &str, params: &str| {
        format!(
            "> curl --user myusername --data-binary '{{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"{method}\", \"params\": {params}}}' -H 'content-type: application/json' {EXAMPLE_URL}\n"
        )
    };
    match *e {
        Example::Cli(method, args) => format!("> {EXAMPLE_CLI} {method} {args}\n"),
        Example::Rpc(method, args) => curl(method, &format!("[{args}]")),
        Example::CliNamed(method, args) => {
            let mut line = format!("> {EXAMPLE_CLI} -named {method}");
            for (name, json) in args {
                let v = parse_json(json);
                let shown = match &v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                line.push_str(&format!(" {name}={}", shell_quote_if_needed(&shown)));
            }
            line + "\n"
        }
        Example::RpcNamed(method, args) => {
            let obj: serde_json::Map<String, Value> =
                args.iter().map(|(name, json)| ((*name).to_owned(), parse_json(json))).collect();
            curl(method, &Value::Object(obj).to_string())
        }
        Example::Text(text) => text.to_owned(),
    }
}

impl Schema {
    /// The first line of the help text.
    #[must_use]
    pub fn synopsis(&self) -> String {
        synopsis(self)
    }

    /// The full help text, exactly as Core's `RPCHelpMan::ToString`.
    #[must_use]
    pub fn help_text(&self) -> String {
        let mut ret = synopsis(self);
        ret.push_str("\n\n");
        ret.push_str(self.description.trim_matches(|c| " \x0c\n\r\t\x0b".contains(c)));
        ret.push('\n');
        ret.push_str(&arguments(self));
        ret.push_str(&results(self));
        let examples: String = self.examples.iter().map(example_line).collect();
        if !examples.is_empty() {
            ret.push_str("\nExamples:\n");
            ret.push_str(&examples);
        }
        ret
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{ParamType as P, ResultType as R};

    static NESTED: Schema = Schema {
        category: "test",
        name: "nested",
        description: "Does things.\nOn two lines.\n",
        params: &[
            Param::new("inputs", P::Arr, Fallback::Required, "The inputs").inner(&[Param::new(
                "",
                P::Obj,
                Fallback::Omitted,
                "",
            )
            .inner(&[
                Param::new("txid", P::StrHex, Fallback::Required, "The id"),
                Param::new("vout", P::Num, Fallback::Required, "The output"),
            ])]),
            Param::new("amounts", P::ObjUserKeys, Fallback::Required, "").inner(&[Param::new(
                "address",
                P::Amount,
                Fallback::Required,
                "A key-value pair",
            )]),
            Param::new("conf_target", P::Num, Fallback::Default("6"), "Confirmation target"),
            Param::new("mode", P::Str, Fallback::Hint("\"unset\""), "The mode\nsecond line"),
            Param::new("verbose|v", P::Bool, Fallback::Default("false"), ""),
        ],
        results: &[
            ResultDoc::new(R::StrHex, "", "The hex").cond("if verbose is not set"),
            ResultDoc::new(R::Obj, "", "").cond("if verbose is set").inner(&[
                ResultDoc::new(R::Str, "txid", "The id"),
                ResultDoc::optional(R::NumTime, "time", "When"),
                ResultDoc::new(R::Arr, "vals", "").inner(&[ResultDoc::new(R::StrAmount, "", "A value")]),
                ResultDoc::new(R::ObjDyn, "map", "By key").inner(&[ResultDoc::new(R::Bool, "key", "Set")]),
            ]),
        ],
        examples: &[
            Example::Cli("nested", "'[]' '{}'"),
            Example::CliNamed("nested", &[("inputs", "[]"), ("mode", "\"a b\"")]),
            Example::RpcNamed("nested", &[("inputs", "[]"), ("mode", "\"economical\"")]),
        ],
    };

    #[test]
    fn nested_args_results_and_defaults() {
        let expected = concat!(
            "nested [{\"txid\":\"hex\",\"vout\":n},...] {\"address\":amount,...} ( conf_target \"mode\" verbose )\n",
            "\n",
            "Does things.\nOn two lines.\n",
            "\n",
            "Arguments:\n",
            "1. inputs                    (json array, required) The inputs\n",
            "     [\n",
            "       {                     (json object)\n",
            "         \"txid\": \"hex\",      (string, required) The id\n",
            "         \"vout\": n,          (numeric, required) The output\n",
            "       },\n",
            "       ...\n",
            "     ]\n",
            "2. amounts                   (json object, required)\n",
            "     {\n",
            "       \"address\": amount,    (numeric or string, required) A key-value pair\n",
            "       ...\n",
            "     }\n",
            "3. conf_target               (numeric, optional, default=6) Confirmation target\n",
            "4. mode                      (string, optional, default=\"unset\") The mode\n",
            "                             second line\n",
            "5. verbose                   (boolean, optional, default=false)\n",
            "\n",
            "Result (if verbose is not set):\n",
            "\"hex\"    (string) The hex\n",
            "\n",
            "Result (if verbose is set):\n",
            "{                          (json object)\n",
            "  \"txid\" : \"str\",          (string) The id\n",
            "  \"time\" : xxx,            (numeric, optional) When\n",
            "  \"vals\" : [               (json array)\n",
            "    n,                     (numeric) A value\n",
            "    ...\n",
            "  ],\n",
            "  \"map\" : {                (json object) By key\n",
            "    \"key\" : true|false,    (boolean) Set\n",
            "    ...\n",
            "  }\n",
            "}\n",
            "\n",
            "Examples:\n",
            "> ferronode-cli nested '[]' '{}'\n",
            "> ferronode-cli -named nested inputs=[] mode='a b'\n",
            "> curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"nested\", \"params\": {\"inputs\":[],\"mode\":\"economical\"}}' -H 'content-type: application/json' http://127.0.0.1:18443/\n",
        );
        assert_eq!(NESTED.help_text(), expected);
    }

    #[test]
    fn named_params_section_and_elision() {
        static S: Schema = Schema {
            category: "test",
            name: "opts",
            description: "Options.",
            params: &[
                Param::new("a", P::Str, Fallback::Required, ""),
                Param::new("options", P::ObjNamedParams, Fallback::Omitted, "").inner(&[Param::new(
                    "fee_rate",
                    P::Amount,
                    Fallback::Hint("not set"),
                    "The rate",
                )]),
                Param::new("secret", P::Num, Fallback::Omitted, "").hidden(),
            ],
            results: &[
                ResultDoc::new(R::Arr, "", "").inner(&[ResultDoc::new(R::Num, "", ""), ResultDoc::elision("more")]),
                ResultDoc::new(R::Any, "", "skipped").help_skip(),
            ],
            examples: &[],
        };
        let expected = concat!(
            "opts \"a\" ( {\"fee_rate\":amount,...} )\n\nOptions.\n\nArguments:\n",
            "1. a          (string, required)\n",
            "2. options    (json object, optional) Options object that can be used to pass named arguments, listed below.\n",
            "\nNamed Arguments:\n",
            "fee_rate    (numeric or string, optional, default=not set) The rate\n",
            "\nResult:\n",
            "[         (json array)\n",
            "  n,      (numeric)\n",
            "  ...     more\n",
            "]\n",
        );
        assert_eq!(S.help_text(), expected);
    }

    #[test]
    fn continuation_lines_like_core() {
        assert_eq!(pad_continuations("a\n  b", 2), "a\n  b");
        assert_eq!(pad_continuations("a\n", 2), "a\n  ");
        assert_eq!(pad_continuations("a\n\nb", 1), "a\n \nb");
    }
}
