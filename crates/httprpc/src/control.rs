//! The built-in commands of the `control` category (`help`, `stop`,
//! `uptime`, `getrpcinfo`) and the hidden test commands (`echo`, `echojson`,
//! `sleep`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::schema::{Example, Fallback, Param, ParamType as P, ResultDoc, ResultType as R, Schema};
use crate::table::{Command, RpcTable};

/// What `stop` answers: the client name followed by ` stopping`.
pub const STOP_REPLY: &str = "ferronode stopping";

/// The longest `sleep` accepted, so a typo cannot pin a worker for days.
const MAX_SLEEP_MS: u64 = 3_600_000;

static HELP: Schema = Schema {
    category: "control",
    name: "help",
    description: "List all commands, or get help for a specified command.\n",
    params: &[Param::new("command", P::Str, Fallback::Hint("all commands"), "The command to get help on")],
    results: &[
        ResultDoc::new(R::Str, "", "The help text"),
        ResultDoc::new(R::Any, "", "The command conversions. (Hidden in dump_all_command_conversions)").help_skip(),
    ],
    examples: &[],
};

static STOP: Schema = Schema {
    category: "control",
    name: "stop",
    description: "Request a graceful shutdown of ferronode.",
    // The hidden `wait` delays the reply (intended for testing).
    params: &[Param::new("wait", P::Num, Fallback::Omitted, "how long to wait in ms").hidden()],
    results: &[ResultDoc::new(R::Str, "", "A string with the content 'ferronode stopping'")],
    examples: &[],
};

static UPTIME: Schema = Schema {
    category: "control",
    name: "uptime",
    description: "Returns the total uptime of the server.\n",
    params: &[],
    results: &[ResultDoc::new(R::Num, "", "The number of seconds that the server has been running")],
    examples: &[Example::Cli("uptime", ""), Example::Rpc("uptime", "")],
};

static GETRPCINFO: Schema = Schema {
    category: "control",
    name: "getrpcinfo",
    description: "Returns details of the RPC server.\n",
    params: &[],
    results: &[ResultDoc::new(R::Obj, "", "").inner(&[
        ResultDoc::new(R::Arr, "active_commands", "All active commands").inner(&[ResultDoc::new(
            R::Obj,
            "",
            "Information about an active command",
        )
        .inner(&[
            ResultDoc::new(R::Str, "method", "The name of the RPC command"),
            ResultDoc::new(R::Num, "duration", "The running time in microseconds"),
        ])]),
        ResultDoc::new(R::Str, "logpath", "The complete file path to the debug log"),
    ])],
    examples: &[Example::Cli("getrpcinfo", ""), Example::Rpc("getrpcinfo", "")],
};

/// `echo`'s ten untyped arguments (Core: `STR`, `skip_type_check`).
const ECHO_PARAMS: &[Param] = &[
    Param::new("arg0", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg1", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg2", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg3", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg4", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg5", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg6", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg7", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg8", P::Str, Fallback::Omitted, "").skip_type_check(),
    Param::new("arg9", P::Str, Fallback::Omitted, "").skip_type_check(),
];

const ECHO_DESCRIPTION: &str = "Simply echo back the input arguments. This command is for testing.\n\
    \nIt will return an internal bug report when arg9='trigger_internal_bug' is passed.\n\
    \nThe difference between echo and echojson is that echojson has argument conversion enabled in the client-side table in \
    bitcoin-cli and the GUI. There is no server-side difference.";

const ECHO_RESULTS: &[ResultDoc] = &[ResultDoc::new(R::Any, "", "Returns whatever was passed in")];

static ECHO: Schema = Schema {
    category: "hidden",
    name: "echo",
    description: ECHO_DESCRIPTION,
    params: ECHO_PARAMS,
    results: ECHO_RESULTS,
    examples: &[],
};

static ECHOJSON: Schema = Schema { name: "echojson", ..ECHO };

static SLEEP: Schema = Schema {
    category: "hidden",
    name: "sleep",
    description: "Sleep for the given number of milliseconds, ignoring shutdown. This command is for testing.",
    params: &[Param::new("milliseconds", P::Num, Fallback::Required, "how long to sleep")],
    results: &[ResultDoc::new(R::Null, "", "")],
    examples: &[],
};

/// Adds the control and hidden test commands to `table`.
pub fn register_control_commands(table: &mut RpcTable) {
    table.add(Command::from_schema(&HELP, |params, ctx| async move {
        let command = params.first().and_then(Value::as_str).map(str::to_owned);
        if command.as_deref() == Some("dump_all_command_conversions") {
            // for testing only, undocumented (as in Core)
            return Ok(ctx.server().table().arg_map());
        }
        Ok(Value::String(ctx.server().table().help(command.as_deref())))
    }));
    table.add(Command::from_schema(&STOP, |params, ctx| async move {
        ctx.request_shutdown();
        // The reply is still delivered during shutdown.
        if let Some(ms) = params.first().and_then(Value::as_i64) {
            tokio::time::sleep(Duration::from_millis(u64::try_from(ms).unwrap_or(0))).await;
        }
        Ok(Value::String(STOP_REPLY.to_owned()))
    }));
    table.add(Command::from_schema_sync(&UPTIME, |_, ctx| Ok(json!(ctx.uptime().as_secs()))));
    table.add(Command::from_schema(&GETRPCINFO, |_, ctx| async move {
        let active: Vec<Value> = ctx
            .active_commands()
            .into_iter()
            .map(
                |(method, d)| json!({ "method": method, "duration": u64::try_from(d.as_micros()).unwrap_or(u64::MAX) }),
            )
            .collect();
        Ok(json!({ "active_commands": active, "logpath": ctx.log_path().display().to_string() }))
    }));
    for schema in [&ECHO, &ECHOJSON] {
        table.add(Command::from_schema(schema, |params, _| async move { echo(params) }));
    }
    table.add(Command::from_schema(&SLEEP, |params, _| async move {
        let ms = params.first().and_then(Value::as_u64).unwrap_or(0).min(MAX_SLEEP_MS);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(Value::Null)
    }));
}

/// `echo`: the arguments back, or Core's internal bug for
/// `arg9='trigger_internal_bug'`.
fn echo(params: Vec<Value>) -> Result<Value, crate::RpcError> {
    if params.get(9).and_then(Value::as_str) == Some("trigger_internal_bug") {
        return Err(crate::doccheck::internal_bug("request.params[9].get_str() != \"trigger_internal_bug\""));
    }
    Ok(Value::Array(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help_of(name: &str) -> String {
        let mut table = RpcTable::new();
        register_control_commands(&mut table);
        table.help(Some(name))
    }

    #[test]
    fn help_help_is_cores() {
        assert_eq!(
            help_of("help"),
            "help ( \"command\" )\n\nList all commands, or get help for a specified command.\n\nArguments:\n\
             1. command    (string, optional, default=all commands) The command to get help on\n\nResult:\n\
             \"str\"    (string) The help text\n"
        );
    }

    #[test]
    fn help_stop_is_cores() {
        assert_eq!(
            help_of("stop"),
            "stop\n\nRequest a graceful shutdown of ferronode.\n\nResult:\n\
             \"str\"    (string) A string with the content 'ferronode stopping'\n"
        );
    }

    #[test]
    fn help_uptime_is_cores() {
        assert_eq!(
            help_of("uptime"),
            "uptime\n\nReturns the total uptime of the server.\n\nResult:\n\
             n    (numeric) The number of seconds that the server has been running\n\nExamples:\n\
             > ferronode-cli uptime \n\
             > curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"uptime\", \"params\": []}' -H 'content-type: application/json' http://127.0.0.1:18443/\n"
        );
    }

    #[test]
    fn help_getrpcinfo_is_cores() {
        let expected = concat!(
            "getrpcinfo\n\nReturns details of the RPC server.\n\nResult:\n",
            "{                          (json object)\n",
            "  \"active_commands\" : [    (json array) All active commands\n",
            "    {                      (json object) Information about an active command\n",
            "      \"method\" : \"str\",    (string) The name of the RPC command\n",
            "      \"duration\" : n       (numeric) The running time in microseconds\n",
            "    },\n",
            "    ...\n",
            "  ],\n",
            "  \"logpath\" : \"str\"        (string) The complete file path to the debug log\n",
            "}\n",
            "\nExamples:\n",
            "> ferronode-cli getrpcinfo \n",
            "> curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"getrpcinfo\", \"params\": []}' -H 'content-type: application/json' http://127.0.0.1:18443/\n",
        );
        assert_eq!(help_of("getrpcinfo"), expected);
    }

    #[test]
    fn echo_help_and_internal_bug() {
        let help = help_of("echo");
        assert!(help.starts_with(
            "echo ( \"arg0\" \"arg1\" \"arg2\" \"arg3\" \"arg4\" \"arg5\" \"arg6\" \"arg7\" \"arg8\" \"arg9\" )\n\n\
             Simply echo back the input arguments. This command is for testing.\n\n\
             It will return an internal bug report when arg9='trigger_internal_bug' is passed.\n\n"
        ));
        assert!(help.contains("\nArguments:\n1. arg0     (string, optional)\n"));
        assert!(help.contains("\n10. arg9    (string, optional)\n\nResult:\n"));
        assert!(help.ends_with("\nResult:\nxxx    (any) Returns whatever was passed in\n"));
        let mut params = vec![Value::Null; 9];
        params.push(json!("trigger_internal_bug"));
        let e = echo(params).unwrap_err();
        assert_eq!(e.code, -1);
        assert!(e
            .message
            .starts_with("Internal bug detected: request.params[9].get_str() != \"trigger_internal_bug\"\n"));
    }

    #[test]
    fn every_schema_is_well_formed() {
        for s in [&HELP, &STOP, &UPTIME, &GETRPCINFO, &ECHO, &ECHOJSON, &SLEEP] {
            assert_eq!(s.validate(), Ok(()));
        }
    }

    #[test]
    fn dump_all_command_conversions() {
        let mut table = RpcTable::new();
        register_control_commands(&mut table);
        let map = table.arg_map();
        let rows = map.as_array().unwrap();
        assert_eq!(rows[0], json!(["echo", 0, "arg0", true]));
        assert!(rows.contains(&json!(["help", 0, "command", true])));
        assert!(rows.contains(&json!(["sleep", 0, "milliseconds", false])));
        assert!(rows.contains(&json!(["stop", 0, "wait", false])));
        assert_eq!(rows.len(), 10 + 10 + 1 + 1 + 1);
    }
}
