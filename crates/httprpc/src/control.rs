//! The built-in commands of the `control` category (`help`, `stop`,
//! `uptime`, `getrpcinfo`) and the hidden test commands (`echo`, `echojson`,
//! `sleep`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::table::{Arg, ArgType, Command, RpcTable};

/// What `stop` answers: the client name followed by ` stopping`.
pub const STOP_REPLY: &str = "ferronode stopping";

/// The longest `sleep` accepted, so a typo cannot pin a worker for days.
const MAX_SLEEP_MS: u64 = 3_600_000;

/// Adds the control and hidden test commands to `table`.
pub fn register_control_commands(table: &mut RpcTable) {
    table.add(
        Command::new(
            "control",
            "help",
            "List all commands, or get help for a specified command.",
            |params, ctx| async move {
                let command = params.first().and_then(Value::as_str).map(str::to_owned);
                Ok(Value::String(ctx.server().table().help(command.as_deref())))
            },
        )
        .arg(Arg::optional("command", ArgType::Str, "(default=all commands) The command to get help on"))
        .result_help("Result:\n\"str\"    (string) The help text"),
    );
    table.add(
        Command::new("control", "stop", "Request a graceful shutdown of ferronode.", |params, ctx| async move {
            ctx.request_shutdown();
            // The hidden `wait` delays the reply (intended for testing); the
            // reply is still delivered during shutdown.
            if let Some(ms) = params.first().and_then(Value::as_i64) {
                tokio::time::sleep(Duration::from_millis(u64::try_from(ms).unwrap_or(0))).await;
            }
            Ok(Value::String(STOP_REPLY.to_owned()))
        })
        .arg(Arg::optional("wait", ArgType::Num, "how long to wait in ms").hidden())
        .result_help("Result:\n\"str\"    (string) A string with the content 'ferronode stopping'"),
    );
    table.add(
        Command::sync("control", "uptime", "Returns the total uptime of the server.", |_, ctx| {
            Ok(json!(ctx.uptime().as_secs()))
        })
        .result_help(
            "Result:\nn    (numeric) The number of seconds that the server has been running\n\nExamples:\n> ferronode-cli uptime \n> curl --user myusername --data-binary '{\"jsonrpc\": \"2.0\", \"id\": \"curltest\", \"method\": \"uptime\", \"params\": []}' -H 'content-type: application/json' http://127.0.0.1:18443/",
        ),
    );
    table.add(
        Command::new("control", "getrpcinfo", "Returns details of the RPC server.", |_, ctx| async move {
            let active: Vec<Value> = ctx
                .active_commands()
                .into_iter()
                .map(|(method, d)| json!({ "method": method, "duration": u64::try_from(d.as_micros()).unwrap_or(u64::MAX) }))
                .collect();
            Ok(json!({ "active_commands": active, "logpath": ctx.log_path().display().to_string() }))
        })
        .result_help(
            "Result:\n{                          (json object)\n  \"active_commands\" : [    (json array) All active commands\n    {                      (json object) Information about an active command\n      \"method\" : \"str\",     (string) The name of the RPC command\n      \"duration\" : n        (numeric) The running time in microseconds\n    },\n    ...\n  ],\n  \"logpath\" : \"str\"        (string) The complete file path to the debug log\n}",
        ),
    );
    for name in ["echo", "echojson"] {
        let mut cmd = Command::new(
            "hidden",
            name,
            "Simply echo back the input arguments. This command is for testing.",
            |params, _| async move { Ok(Value::Array(params)) },
        );
        for arg in ["arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9"] {
            let ty = if name == "echo" { ArgType::Str } else { ArgType::Any };
            cmd = cmd.arg(Arg { ty: if ty == ArgType::Str { ArgType::Any } else { ty }, ..Arg::optional(arg, ty, "") });
        }
        table.add(cmd);
    }
    table.add(
        Command::new(
            "hidden",
            "sleep",
            "Sleep for the given number of milliseconds, ignoring shutdown. This command is for testing.",
            |params, _| async move {
                let ms = params.first().and_then(Value::as_u64).unwrap_or(0).min(MAX_SLEEP_MS);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(Value::Null)
            },
        )
        .arg(Arg::required("milliseconds", ArgType::Num, "how long to sleep")),
    );
}
