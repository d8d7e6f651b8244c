//! The RPC command table: commands are data (name, category, arguments, help
//! and a handler), added by any crate through the same API.
//!
//! A command declared with a full [`Schema`] ([`Command::from_schema`]) gets
//! Core's help text, type checks, named arguments and `-rpcdoccheck` from it.
//! The older builder ([`Command::new`], [`Arg`], [`Command::result_help`])
//! stays as a transitional layer: its help is laid out as before and its
//! results are not checked. It goes once every command has a schema (see
//! `docs/adr/0003-command-schema.md`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use ferronode_httpserver::BoxFuture;
use serde_json::Value;

/// Core's name for a JSON value's type (`uvTypeName`); its one home is
/// [`ferronode_protocol`].
pub use ferronode_protocol::json_type_name;

pub use crate::named::named_to_positional;
use crate::schema::{Fallback, Param, ParamType, Schema};
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

    /// The schema argument this legacy argument stands for.
    fn to_param(&self) -> Param {
        let fallback = if self.optional { Fallback::Omitted } else { Fallback::Required };
        let (ty, skip) = match self.ty {
            ArgType::Str => (ParamType::Str, false),
            ArgType::Num => (ParamType::Num, false),
            ArgType::Bool => (ParamType::Bool, false),
            ArgType::Obj => (ParamType::Obj, false),
            ArgType::Arr => (ParamType::Arr, false),
            ArgType::Amount => (ParamType::Amount, false),
            ArgType::Any => (ParamType::Num, true),
        };
        let param = Param::new(self.names, ty, fallback, self.description);
        let param = if skip { param.skip_type_check() } else { param };
        if self.hidden {
            param.hidden()
        } else {
            param
        }
    }
}

impl ArgType {
    fn from_param(ty: ParamType) -> Self {
        match ty {
            ParamType::Str | ParamType::StrHex => Self::Str,
            ParamType::Num => Self::Num,
            ParamType::Bool => Self::Bool,
            ParamType::Obj | ParamType::ObjNamedParams | ParamType::ObjUserKeys => Self::Obj,
            ParamType::Arr => Self::Arr,
            ParamType::Amount | ParamType::Range => Self::Amount,
        }
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
    /// The full schema; `None` for a command built with the legacy builder.
    pub schema: Option<&'static Schema>,
    /// The arguments as the server checks and maps them.
    params: Vec<Param>,
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
        Self {
            category,
            name,
            args: Vec::new(),
            description,
            result_help: "",
            handler,
            schema: None,
            params: Vec::new(),
        }
    }

    /// A command described by `schema`, with an async handler.
    pub fn from_schema<F, Fut>(schema: &'static Schema, f: F) -> Self
    where
        F: Fn(Vec<Value>, CallContext<'static>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Value, RpcError>> + Send + 'static,
    {
        Self::with_schema(schema, CommandFn::Async(Arc::new(move |params, ctx| Box::pin(f(params, ctx)))))
    }

    /// A command described by `schema` that answers without waiting.
    pub fn from_schema_sync<F>(schema: &'static Schema, f: F) -> Self
    where
        F: Fn(Vec<Value>, &CallContext<'_>) -> Result<Value, RpcError> + Send + Sync + 'static,
    {
        Self::with_schema(schema, CommandFn::Sync(Arc::new(f)))
    }

    fn with_schema(schema: &'static Schema, handler: CommandFn) -> Self {
        let args = schema
            .params
            .iter()
            .map(|p| Arg {
                names: p.names,
                ty: ArgType::from_param(p.ty),
                optional: p.is_optional(),
                hidden: p.opts.hidden,
                description: p.description,
            })
            .collect();
        Self {
            category: schema.category,
            name: schema.name,
            args,
            description: schema.description,
            result_help: "",
            handler,
            schema: Some(schema),
            params: schema.params.to_vec(),
        }
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: Arg) -> Self {
        self.params.push(arg.to_param());
        self.args.push(arg);
        self
    }

    /// The arguments as checked and mapped (the schema's, or the legacy
    /// arguments').
    #[must_use]
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Maps named parameters to positions (Core's
    /// `transformNamedArguments` over `GetArgNames`).
    ///
    /// # Errors
    /// Core's -8 errors for duplicate, unknown and conflicting names.
    pub fn named_to_positional(&self, named: Vec<(String, Value)>) -> Result<Vec<Value>, RpcError> {
        crate::named::transform(&Schema::arg_names(&self.params), named)
    }

    /// The `-rpcdoccheck` check of a result; a command without a schema
    /// is not checked.
    ///
    /// # Errors
    /// Core's internal-bug error naming the mismatches.
    pub fn check_result(&self, result: &Value) -> Result<(), RpcError> {
        match self.schema {
            Some(schema) => crate::doccheck::check_result(self.name, schema.results, result),
            None => Ok(()),
        }
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
        if let Some(schema) = self.schema {
            return schema.synopsis();
        }
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
        if let Some(schema) = self.schema {
            return schema.help_text();
        }
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
        let required = self.params.iter().rposition(|a| !a.is_optional()).map_or(0, |i| i + 1);
        if params.len() < required || params.len() > self.params.len() {
            return Err(RpcError::misc(self.help_text()));
        }
        let mut mismatches = serde_json::Map::new();
        for (i, param) in self.params.iter().enumerate() {
            if let Err(e) = param.matches(params.get(i).unwrap_or(&Value::Null)) {
                mismatches.insert(format!("Position {} ({})", i + 1, param.names), Value::String(e));
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

    /// `help dump_all_command_conversions` (Core's `CRPCTable::dumpArgMap`):
    /// `[method, position, name, is_string]` for every name of every
    /// argument of every command, hidden ones included, by method name; an
    /// options object's keys are listed at its position.
    #[must_use]
    pub fn arg_map(&self) -> Value {
        let mut out = Vec::new();
        for cmd in self.commands.values() {
            for (i, param) in cmd.params().iter().enumerate() {
                for name in param.names.split('|') {
                    out.push(serde_json::json!([cmd.name, i, name, param.ty.is_string()]));
                    if param.ty == ParamType::ObjNamedParams {
                        for inner in param.inner {
                            for inner_name in inner.names.split('|') {
                                out.push(serde_json::json!([cmd.name, i, inner_name, inner.ty.is_string()]));
                            }
                        }
                    }
                }
            }
        }
        Value::Array(out)
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
