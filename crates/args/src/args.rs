//! The parsed options, following Core's ArgsManager: the command line, and
//! the values read from `bitcoin.conf` (see [`crate::conf`]), with Core's
//! precedence.
//!
//! A value is a string or a negation; the command line wins over the config
//! file; in the config file the active network's section (`[regtest]` or
//! `regtest.name=`) wins over the top level; a single-valued option takes
//! the last command-line value but the first config value.

use std::collections::HashMap;

use crate::OptionSpec;

/// One value of an option: a string, or a negation (`-noX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Setting {
    Negated,
    Value(String),
}

/// Where a value came from, for precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    CommandLine,
    NetworkSection,
    DefaultSection,
}

/// Parsed options.
#[derive(Debug, Default, Clone)]
pub struct Args {
    command_line: HashMap<String, Vec<Setting>>,
    /// Config values keyed by (section, name); the default section is "".
    pub(crate) config: HashMap<(String, String), Vec<Setting>>,
    network: String,
    network_only: Vec<&'static str>,
    /// Warnings to log once logging is up (unknown config values, ...).
    pub warnings: Vec<String>,
}

fn interpret_bool(v: &str) -> bool {
    // Core: empty means true; otherwise the leading integer is non-zero.
    v.is_empty() || atoi(v) != 0
}

/// Core's `LocaleIndependentAtoi`: the leading integer, 0 if there is none,
/// saturated at the type's range.
#[must_use]
pub fn atoi(v: &str) -> i64 {
    let t = v.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    if end == 0 {
        return 0;
    }
    let n: i128 = digits[..end].parse().unwrap_or(i128::MAX);
    let n = if neg { -n } else { n };
    i64::try_from(n).unwrap_or(if neg { i64::MIN } else { i64::MAX })
}

/// An option name as written: `[section.][no]name`.
pub(crate) struct Key {
    pub(crate) section: String,
    pub(crate) name: String,
    pub(crate) negated: bool,
}

pub(crate) fn interpret_key(key: &str) -> Key {
    let (section, mut name) = match key.rfind('.') {
        Some(pos) => (key[..pos].to_owned(), key[pos + 1..].to_owned()),
        None => (String::new(), key.to_owned()),
    };
    let mut negated = false;
    if let Some(rest) = name.strip_prefix("no") {
        if !rest.is_empty() {
            name = rest.to_owned();
            negated = true;
        }
    }
    Key { section, name, negated }
}

pub(crate) fn interpret_value(key: &Key, value: Option<&str>, warnings: &mut Vec<String>) -> Setting {
    if key.negated {
        if let Some(v) = value {
            if !interpret_bool(v) {
                warnings.push(format!("Parsed potentially confusing double-negative -{}={v}", key.name));
                return Setting::Value("1".to_owned());
            }
        }
        return Setting::Negated;
    }
    Setting::Value(value.unwrap_or("").to_owned())
}

impl Args {
    /// Parses the command line (without the program name).
    ///
    /// # Errors
    /// Core's texts: `Invalid parameter -foo`, the unexpected-token message
    /// for a bare word, and the `-includeconf` refusal.
    pub fn parse_command_line(argv: &[String], specs: &[OptionSpec], program: &str) -> Result<Self, String> {
        let mut args =
            Self { network_only: specs.iter().filter(|s| s.network_only).map(|s| s.name).collect(), ..Self::default() };
        for raw in argv {
            if raw == "-" {
                break;
            }
            if !raw.starts_with('-') {
                return Err(format!(
                    "Command line contains unexpected token '{raw}', see {program} -h for a list of options."
                ));
            }
            let (key, value) = match raw.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (raw.as_str(), None),
            };
            let key = key.strip_prefix("--").or_else(|| key.strip_prefix('-')).unwrap_or(key);
            let info = interpret_key(key);
            if !info.section.is_empty() || !specs.iter().any(|s| s.name == info.name) {
                return Err(format!("Error parsing command line arguments: Invalid parameter {raw}"));
            }
            let setting = interpret_value(&info, value, &mut args.warnings);
            args.command_line.entry(info.name).or_default().push(setting);
        }
        if let Some(values) = args.command_line.get("includeconf") {
            if let Some(Setting::Value(v)) = values.iter().find(|s| matches!(s, Setting::Value(_))) {
                return Err(format!(
                    "Error parsing command line arguments: -includeconf cannot be used from commandline; -includeconf=\"{v}\""
                ));
            }
        }
        Ok(args)
    }

    /// Sets the network whose config section applies.
    pub fn set_network(&mut self, network: &str) {
        self.network = network.to_owned();
    }

    /// The values of `name` from one source, after the last negation.
    fn values(&self, source: Source, name: &str) -> Option<&[Setting]> {
        let v = match source {
            Source::CommandLine => self.command_line.get(name),
            Source::NetworkSection => self.config.get(&(self.network.clone(), name.to_owned())),
            Source::DefaultSection => {
                if self.network != "main" && self.network_only.contains(&name) {
                    None
                } else {
                    self.config.get(&(String::new(), name.to_owned()))
                }
            }
        };
        v.map(Vec::as_slice).filter(|v| !v.is_empty())
    }

    /// The effective single value: `None` if unset, `Some(None)` if negated.
    fn setting(&self, name: &str) -> Option<Option<&str>> {
        if let Some(v) = self.values(Source::CommandLine, name) {
            return v.last().map(to_opt);
        }
        for source in [Source::NetworkSection, Source::DefaultSection] {
            if let Some(v) = self.values(source, name) {
                return v.first().map(to_opt);
            }
        }
        None
    }

    /// Whether the option was given at all (negations included).
    #[must_use]
    pub fn is_set(&self, name: &str) -> bool {
        self.setting(name).is_some()
    }

    /// Whether the option's effective value is a negation (`-noX`).
    #[must_use]
    pub fn is_negated(&self, name: &str) -> bool {
        matches!(self.setting(name), Some(None))
    }

    /// The option's value as a string (`"0"` when negated).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<String> {
        self.setting(name).map(|v| v.unwrap_or("0").to_owned())
    }

    /// The option's value or `default`.
    #[must_use]
    pub fn get_or(&self, name: &str, default: &str) -> String {
        self.get(name).unwrap_or_else(|| default.to_owned())
    }

    /// The option as an integer (Core's `GetIntArg`).
    #[must_use]
    pub fn get_int(&self, name: &str, default: i64) -> i64 {
        match self.setting(name) {
            None => default,
            Some(None) => 0,
            Some(Some(v)) => atoi(v),
        }
    }

    /// The option as a boolean (Core's `GetBoolArg`).
    #[must_use]
    pub fn get_bool(&self, name: &str, default: bool) -> bool {
        match self.setting(name) {
            None => default,
            Some(None) => false,
            Some(Some(v)) => interpret_bool(v),
        }
    }

    /// Every value of a repeatable option, command line first, then the
    /// config (a negation drops what came before it in its source; a negation
    /// on the command line drops the config values too).
    #[must_use]
    pub fn get_all(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for source in [Source::CommandLine, Source::NetworkSection, Source::DefaultSection] {
            let Some(values) = self.values(source, name) else { continue };
            let start = values.iter().rposition(|s| *s == Setting::Negated).map_or(0, |p| p + 1);
            out.extend(values[start..].iter().filter_map(|s| match s {
                Setting::Value(v) => Some(v.clone()),
                Setting::Negated => None,
            }));
            if start > 0 && source == Source::CommandLine {
                break;
            }
        }
        out
    }
}

fn to_opt(s: &Setting) -> Option<&str> {
    match s {
        Setting::Negated => None,
        Setting::Value(v) => Some(v.as_str()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SPECS: &[OptionSpec] = &[
        OptionSpec { name: "regtest", help: "", network_only: false, category: "" },
        OptionSpec { name: "rpcport", help: "", network_only: true, category: "" },
        OptionSpec { name: "debug", help: "", network_only: false, category: "" },
        OptionSpec { name: "server", help: "", network_only: false, category: "" },
        OptionSpec { name: "rpcauth", help: "", network_only: false, category: "" },
        OptionSpec { name: "includeconf", help: "", network_only: false, category: "" },
        OptionSpec { name: "conf", help: "", network_only: false, category: "" },
        OptionSpec { name: "datadir", help: "", network_only: false, category: "" },
    ];

    pub(crate) fn cli(a: &[&str]) -> Result<Args, String> {
        let argv: Vec<String> = a.iter().map(|s| (*s).to_owned()).collect();
        Args::parse_command_line(&argv, SPECS, "ferronoded")
    }

    #[test]
    fn command_line_forms() {
        let a = cli(&["-regtest", "--rpcport=1", "-rpcport=2", "-noserver", "-debug=http", "-debug=rpc"]).unwrap();
        assert!(a.get_bool("regtest", false));
        assert_eq!(a.get_int("rpcport", 0), 2);
        assert!(!a.get_bool("server", true));
        assert!(a.is_negated("server"));
        assert_eq!(a.get_all("debug"), vec!["http", "rpc"]);
        let a = cli(&["-noserver=0"]).unwrap();
        assert!(a.get_bool("server", false));
        assert_eq!(cli(&["-foo"]).unwrap_err(), "Error parsing command line arguments: Invalid parameter -foo");
        assert_eq!(
            cli(&["-regtest.rpcport=1"]).unwrap_err(),
            "Error parsing command line arguments: Invalid parameter -regtest.rpcport=1"
        );
        assert!(cli(&["word"]).unwrap_err().contains("unexpected token 'word'"));
        assert!(cli(&["-includeconf=x"]).unwrap_err().contains("-includeconf cannot be used from commandline"));
    }

    #[test]
    fn atoi_like_core() {
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
    }
}
