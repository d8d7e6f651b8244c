//! What an option is ([`OptionSpec`]), and the `-help` layout of a list of
//! them ([`options_help`]). Each program keeps its own list as data.

/// How an option may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionSpec {
    /// Name without the leading dash.
    pub name: &'static str,
    /// Help text; empty for options that are accepted but not shown.
    pub help: &'static str,
    /// Only honoured in a network section (or on the command line) when the
    /// network is not main, as Core's `NETWORK_ONLY`.
    pub network_only: bool,
    /// Category heading under `-help`.
    pub category: &'static str,
}

/// The options part of a `-help` text, as Core lays it out: a heading per
/// category, then each option's flag and its text indented below it.
/// Options without help text are left out.
#[must_use]
pub fn options_help(specs: &[OptionSpec]) -> String {
    let mut out = String::new();
    let mut category = "";
    for spec in specs.iter().filter(|s| !s.help.is_empty()) {
        if spec.category != category {
            category = spec.category;
            out.push_str(&format!("\n{category}:\n"));
        }
        let (flag, text) = match spec.help.split_once("  ") {
            Some((flag, text)) if flag.starts_with('-') => (flag.to_owned(), text),
            _ => (format!("-{}", spec.name), spec.help),
        };
        out.push_str(&format!("\n  {flag}\n       {text}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_like_core() {
        let specs = [
            OptionSpec {
                name: "?",
                help: "Print this help message and exit",
                network_only: false,
                category: "Options",
            },
            OptionSpec { name: "h", help: "", network_only: false, category: "Options" },
            OptionSpec { name: "conf", help: "-conf=<file>  Specify a file", network_only: false, category: "Options" },
            OptionSpec { name: "regtest", help: "Enter regression test mode", network_only: false, category: "Chain" },
        ];
        assert_eq!(
            options_help(&specs),
            "\nOptions:\n\n  -?\n       Print this help message and exit\n\n  -conf=<file>\n       Specify a file\n\
             \nChain:\n\n  -regtest\n       Enter regression test mode\n"
        );
    }
}
