//! The RPC command table: commands are data (name, category, arguments, help
//! and a handler), added by any crate through the same API.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use ferronode_httpserver::BoxFuture;
use serde_json::Value;

/// Core's name for a JSON value's type (`uvTypeName`); its one home is
/// [`ferronode_protocol`].
pub use ferronode_protocol::json_type_name;

use crate::server::CallContext;
use crate::RpcError;

/// JSON type an argument must have (Core's `RPCArg::Type`, reduced to what
/// is checked on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// A JSON string (`STR`, `STR_HEX`).
    Str,
    /// A JSON number.
    Num,
    /// A JSON boolean.
    Bool,
    /// A JSON object.
    Obj,
    /// A JSON array.
    Arr,
    /// An amount: a number or a string, checked by the command.
    Amount,
    /// Anything; the command checks it.
    Any,
}

impl ArgType {
    /// The JSON type Core checks before calling the command, if any.
    fn expected(self) -> Option<&'static str> {
        match self {
            Self::Str => Some("string"),
            Self::Num => Some("number"),
            Self::Bool => Some("bool"),
            Self::Obj => Some("object"),
            Self::Arr => Some("array"),
            Self::Amount | Self::Any => None,
        }
    }

    fn help_name(self) -> &'static str {
        match self {
            Self::Str => "string",
            Self::Num => "numeric",
            Self::Bool => "boolean",
            Self::Obj => "json object",
            Self::Arr => "json array",
            Self::Amount => "numeric or string",
            Self::Any => "any",
        }
    }
}

/// One argument of a command.
#[derive(Debug, Clone)]
pub struct Arg {
    /// Name, with aliases separated by `|` (as in Core: `"nblocks|n"`).
    pub names: &'static str,
    /// Type checked before the command runs.
    pub ty: ArgType,
    /// Whether the argument may be left out.
    pub optional: bool,
    /// Omitted from help (Core's hidden arguments, such as `stop`'s `wait`).
    pub hidden: bool,
    /// Text for `help <command>`, including the default where there is one.
    pub description: &'static str,
}

impl Arg {
    /// A required argument.
    #[must_use]
    pub const fn required(names: &'static str, ty: ArgType, description: &'static str) -> Self {
        Self { names, ty, optional: false, hidden: false, description }
    }

    /// An optional argument.
    #[must_use]
    pub const fn optional(names: &'static str, ty: ArgType, description: &'static str) -> Self {
        Self { names, ty, optional: true, hidden: false, description }
    }

    /// Marks the argument hidden from help.
    #[must_use]
    pub const fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    fn first_name(&self) -> &'static str {
        self.names.split('|').next().unwrap_or(self.names)
    }
}

/// The future a command returns.
pub type CommandFuture = BoxFuture<Result<Value, RpcError>>;

/// An async command: positional parameters (named ones already mapped to
/// positions) and the call's context, to a future of the result.
pub type AsyncCommandFn = Arc<dyn Fn(Vec<Value>, CallContext<'static>) -> CommandFuture + Send + Sync>;

/// A command that answers at once: parameters and context to the result.
pub type SyncCommandFn = Arc<dyn Fn(Vec<Value>, &CallContext<'_>) -> Result<Value, RpcError> + Send + Sync>;

/// A command's implementation.
#[derive(Clone)]
pub enum CommandFn {
    /// A command that may wait (for the chain, a long poll, a timer).
    Async(AsyncCommandFn),
    /// A command that answers at once from what it can read without
    /// waiting (`getblockcount`, `uptime`): called inline, with no future
    /// to allocate and poll.
    Sync(SyncCommandFn),
}

impl std::fmt::Debug for CommandFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Async(_) => "CommandFn::Async",
            Self::Sync(_) => "CommandFn::Sync",
        })
    }
}

/// One entry of the command table.
#[derive(Clone)]
pub struct Command {
    /// Category, for `help` grouping (`control`, `blockchain`, ...);
    /// `hidden` keeps it out of the listing.
    pub category: &'static str,
    /// Method name.
    pub name: &'static str,
    /// Arguments, in positional order.
    pub args: Vec<Arg>,
    /// What the command does (first paragraph of its help).
    pub description: &'static str,
    /// `Result:` and `Examples:` sections of its help, as Core prints them.
    pub result_help: &'static str,
    /// The implementation.
    pub handler: CommandFn,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Command").field("category", &self.category).field("name", &self.name).finish_non_exhaustive()
    }
}

impl Command {
    /// A command with the given handler; arguments and help are added with
    /// the builder methods.
    pub fn new<F, Fut>(category: &'static str, name: &'static str, description: &'static str, f: F) -> Self
    where
        F: Fn(Vec<Value>, CallContext<'static>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Value, RpcError>> + Send + 'static,
    {
        Self::with_handler(
            category,
            name,
            description,
            CommandFn::Async(Arc::new(move |params, ctx| Box::pin(f(params, ctx)))),
        )
    }

    /// A command that answers without waiting (see [`CommandFn::Sync`]).
    pub fn sync<F>(category: &'static str, name: &'static str, description: &'static str, f: F) -> Self
    where
        F: Fn(Vec<Value>, &CallContext<'_>) -> Result<Value, RpcError> + Send + Sync + 'static,
    {
        Self::with_handler(category, name, description, CommandFn::Sync(Arc::new(f)))
    }

    fn with_handler(category: &'static str, name: &'static str, description: &'static str, handler: CommandFn) -> Self {
        Self { category, name, args: Vec::new(), description, result_help: "", handler }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: Arg) -> Self {
        self.args.push(arg);
        self
    }

    /// Sets the `Result:`/`Examples:` part of the help text.
    #[must_use]
    pub fn result_help(mut self, text: &'static str) -> Self {
        self.result_help = text;
        self
    }

    /// The first line of the help text: the call synopsis, Core style
    /// (`help ( "command" )`).
    #[must_use]
    pub fn synopsis(&self) -> String {
        let mut line = self.name.to_owned();
        let mut in_optional = false;
        for arg in self.args.iter().filter(|a| !a.hidden) {
            if arg.optional && !in_optional {
                line.push_str(" (");
                in_optional = true;
            }
            let name = arg.first_name();
            let shown = match arg.ty {
                ArgType::Str => format!("\"{name}\""),
                ArgType::Obj => "{...}".to_owned(),
                ArgType::Arr => "[...]".to_owned(),
                _ => name.to_owned(),
            };
            line.push(' ');
            line.push_str(&shown);
        }
        if in_optional {
            line.push_str(" )");
        }
        line
    }

    /// The full help text (`help <command>`).
    #[must_use]
    pub fn help_text(&self) -> String {
        let mut text = self.synopsis();
        text.push_str("\n\n");
        text.push_str(self.description.trim_end());
        text.push('\n');
        let shown: Vec<&Arg> = self.args.iter().filter(|a| !a.hidden).collect();
        if !shown.is_empty() {
            text.push_str("\nArguments:\n");
            for (i, arg) in shown.iter().enumerate() {
                let req = if arg.optional { "optional" } else { "required" };
                let _ = writeln!(
                    text,
                    "{}. {:<w$} ({}, {}) {}",
                    i + 1,
                    arg.first_name(),
                    arg.ty.help_name(),
                    req,
                    arg.description,
                    w = 21
                );
            }
        }
        if !self.result_help.is_empty() {
            text.push('\n');
            text.push_str(self.result_help.trim_end());
            text.push('\n');
        }
        text
    }

    /// Checks the number and JSON types of positional parameters as Core's
    /// `RPCHelpMan::HandleRequest` does.
    ///
    /// # Errors
    /// -1 with the help text for a wrong count; -3 `Wrong type passed` with
    /// every mismatch listed.
    pub fn check_params(&self, params: &[Value]) -> Result<(), RpcError> {
        let required = self.args.iter().rposition(|a| !a.optional).map_or(0, |i| i + 1);
        if params.len() < required || params.len() > self.args.len() {
            return Err(RpcError::misc(self.help_text()));
        }
        let mut mismatches = serde_json::Map::new();
        for (i, arg) in self.args.iter().enumerate() {
            let v = params.get(i).unwrap_or(&Value::Null);
            if arg.optional && v.is_null() {
                continue;
            }
            if let Some(expected) = arg.ty.expected() {
                let got = json_type_name(v);
                if got != expected {
                    mismatches.insert(
                        format!("Position {} ({})", i + 1, arg.names),
                        Value::String(format!("JSON value of type {got} is not of expected type {expected}")),
                    );
                }
            }
        }
        if mismatches.is_empty() {
            Ok(())
        } else {
            Err(RpcError::type_error(format!("Wrong type passed:\n{}", pretty4(&Value::Object(mismatches)))))
        }
    }
}

/// JSON with four-space indentation, as UniValue's `write(4)`.
pub(crate) fn pretty4(v: &Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// Maps named parameters to positions (Core's `transformNamedArguments`).
///
/// # Errors
/// Core's -8 errors for duplicate, unknown and conflicting names.
pub fn named_to_positional(args: &[Arg], named: Vec<(String, Value)>) -> Result<Vec<Value>, RpcError> {
    let mut given: Vec<(String, Option<Value>)> = Vec::with_capacity(named.len());
    for (k, v) in named {
        if given.iter().any(|(g, _)| *g == k) {
            return Err(RpcError::invalid_parameter(format!("Parameter {k} specified multiple times")));
        }
        given.push((k, Some(v)));
    }
    let mut take = |names: &str| -> Option<Value> {
        names.split('|').find_map(|n| given.iter_mut().find(|(k, v)| k == n && v.is_some()).and_then(|(_, v)| v.take()))
    };
    let mut out = Vec::new();
    let mut hole = 0usize;
    let mut initial_hole = 0usize;
    let mut initial_param: Option<&str> = None;
    for arg in args {
        match take(arg.names) {
            Some(v) => {
                out.extend(std::iter::repeat_n(Value::Null, hole));
                hole = 0;
                initial_param.get_or_insert(arg.names);
                out.push(v);
            }
            None => {
                hole += 1;
                if out.is_empty() {
                    initial_hole = hole;
                }
            }
        }
    }
    if let Some(pos) = given.iter().position(|(k, v)| k == "args" && v.is_some()) {
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
    }
    if let Some((k, _)) = given.iter().find(|(_, v)| v.is_some()) {
        return Err(RpcError::invalid_parameter(format!("Unknown named parameter {k}")));
    }
    Ok(out)
}

/// The command table, keyed by method name.
#[derive(Debug, Default, Clone)]
pub struct RpcTable {
    commands: BTreeMap<&'static str, Arc<Command>>,
}

impl RpcTable {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a command; a later command with the same name replaces it.
    pub fn add(&mut self, command: Command) {
        self.commands.insert(command.name, Arc::new(command));
    }

    /// Looks a command up by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Arc<Command>> {
        self.commands.get(name)
    }

    /// Every method name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.commands.keys().copied()
    }

    /// Core's `help` output: every visible command's synopsis grouped under
    /// `== Category ==`, or one command's full help, or the unknown-command
    /// message.
    #[must_use]
    pub fn help(&self, command: Option<&str>) -> String {
        if let Some(name) = command.filter(|c| !c.is_empty()) {
            return match self.commands.get(name) {
                // Core: the command's help text, which ends with a newline.
                Some(cmd) => cmd.help_text(),
                None => format!("help: unknown command: {name}"),
            };
        }
        let mut sorted: Vec<&Arc<Command>> = self.commands.values().filter(|c| c.category != "hidden").collect();
        sorted.sort_by(|a, b| (a.category, a.name).cmp(&(b.category, b.name)));
        let mut out = String::new();
        let mut category = "";
        for cmd in sorted {
            if cmd.category != category {
                if !category.is_empty() {
                    out.push('\n');
                }
                category = cmd.category;
                let _ = writeln!(out, "== {} ==", capitalize(category));
            }
            out.push_str(&cmd.synopsis());
            out.push('\n');
        }
        out.pop();
        out
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args() -> Vec<Arg> {
        vec![
            Arg::required("nblocks", ArgType::Num, ""),
            Arg::required("address", ArgType::Str, ""),
            Arg::optional("maxtries|tries", ArgType::Num, ""),
        ]
    }

    fn named(pairs: &[(&str, Value)]) -> Vec<(String, Value)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn named_parameters() {
        let a = args();
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
    }

    #[test]
    fn type_and_count_checks() {
        let cmd = Command::new("control", "stop", "Stop.", |_, _| async { Ok(json!(null)) })
            .arg(Arg::optional("wait", ArgType::Num, "how long to wait in ms").hidden());
        assert!(cmd.check_params(&[]).is_ok());
        assert!(cmd.check_params(&[json!(null)]).is_ok());
        let e = cmd.check_params(&[json!("x")]).unwrap_err();
        assert_eq!(e.code, -3);
        assert_eq!(
            e.message,
            "Wrong type passed:\n{\n    \"Position 1 (wait)\": \"JSON value of type string is not of expected type number\"\n}"
        );
        let e = cmd.check_params(&[json!(1), json!(2)]).unwrap_err();
        assert_eq!(e.code, -1);
        assert!(e.message.starts_with("stop\n\nStop."));
    }

    #[test]
    fn help_listing() {
        let mut t = RpcTable::new();
        t.add(Command::new("control", "uptime", "", |_, _| async { Ok(json!(0)) }));
        t.add(Command::new("control", "help", "", |_, _| async { Ok(json!(0)) }).arg(Arg::optional(
            "command",
            ArgType::Str,
            "",
        )));
        t.add(Command::new("blockchain", "getblockcount", "", |_, _| async { Ok(json!(0)) }));
        t.add(Command::new("hidden", "echo", "", |_, _| async { Ok(json!(0)) }));
        assert_eq!(t.help(None), "== Blockchain ==\ngetblockcount\n\n== Control ==\nhelp ( \"command\" )\nuptime");
        assert_eq!(t.help(Some("nope")), "help: unknown command: nope");
        assert!(t.help(Some("echo")).starts_with("echo"));
    }
}
