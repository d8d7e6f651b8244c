//! Command-line and `bitcoin.conf` parsing, following Core's ArgsManager.
//!
//! clap cannot express bitcoind's conventions (`-regtest`, `-rpcport=1`,
//! `-noX`, `--X`, repeated options, config sections), so this module
//! implements them: a value is a string or a negation; the command line wins
//! over the config file; in the config file the active network's section
//! (`[regtest]` or `regtest.name=`) wins over the top level; a single-valued
//! option takes the last command-line value but the first config value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

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

/// One value of an option: a string, or a negation (`-noX`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Setting {
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
    config: HashMap<(String, String), Vec<Setting>>,
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

struct Key {
    section: String,
    name: String,
    negated: bool,
}

fn interpret_key(key: &str) -> Key {
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

fn interpret_value(key: &Key, value: Option<&str>, warnings: &mut Vec<String>) -> Setting {
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

    /// Reads a config file (and the files it includes with `includeconf`).
    /// A missing file is not an error unless `required`.
    ///
    /// # Errors
    /// Core's parse errors, with the line number.
    pub fn read_config_file(&mut self, path: &Path, specs: &[OptionSpec], required: bool) -> Result<(), String> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
            Err(_) => {
                return Err(format!(
                    "Error reading configuration file: specified config file \"{}\" could not be opened.",
                    path.display()
                ))
            }
        };
        let includes = self.read_config_text(&text, specs)?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        for inc in includes {
            let inc_path = if Path::new(&inc).is_absolute() { PathBuf::from(&inc) } else { base.join(&inc) };
            let text = std::fs::read_to_string(&inc_path)
                .map_err(|_| format!("Failed to include configuration file {inc}"))?;
            let nested = self.read_config_text(&text, specs)?;
            for n in nested {
                self.warnings.push(format!(
                    "warning: -includeconf cannot be used from included files; ignoring -includeconf={n}"
                ));
            }
        }
        Ok(())
    }

    fn read_config_text(&mut self, text: &str, specs: &[OptionSpec]) -> Result<Vec<String>, String> {
        let mut prefix = String::new();
        let mut includes = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let linenr = i + 1;
            let line = match line.find('#') {
                Some(pos) => {
                    if line.trim_start().starts_with("rpcpassword") && line[..pos].contains('=') {
                        return Err(format!("parse error on line {linenr}, using # in rpcpassword can be ambiguous and should be avoided"));
                    }
                    &line[..pos]
                }
                None => line,
            };
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if line.starts_with('[') && line.ends_with(']') {
                prefix = format!("{}.", &line[1..line.len() - 1]);
                continue;
            }
            if line.starts_with('-') {
                return Err(format!("parse error on line {linenr}: {line}, options in configuration file must be specified without leading -"));
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!("parse error on line {linenr}: {line}"));
            };
            let full = format!("{prefix}{}", name.trim());
            let value = value.trim();
            let info = interpret_key(&full);
            if info.name == "conf" {
                return Err("conf cannot be set in the configuration file; use includeconf= if you want to include additional config files".to_owned());
            }
            if !specs.iter().any(|s| s.name == info.name) {
                self.warnings.push(format!("Ignoring unknown configuration value {full}"));
                continue;
            }
            let setting = interpret_value(&info, Some(value), &mut self.warnings);
            if info.name == "includeconf" && info.section.is_empty() {
                if let Setting::Value(v) = &setting {
                    includes.push(v.clone());
                }
                continue;
            }
            self.config.entry((info.section, info.name)).or_default().push(setting);
        }
        Ok(includes)
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
mod tests {
    use super::*;

    const SPECS: &[OptionSpec] = &[
        OptionSpec { name: "regtest", help: "", network_only: false, category: "" },
        OptionSpec { name: "rpcport", help: "", network_only: true, category: "" },
        OptionSpec { name: "debug", help: "", network_only: false, category: "" },
        OptionSpec { name: "server", help: "", network_only: false, category: "" },
        OptionSpec { name: "rpcauth", help: "", network_only: false, category: "" },
        OptionSpec { name: "includeconf", help: "", network_only: false, category: "" },
    ];

    fn cli(a: &[&str]) -> Result<Args, String> {
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
    fn config_sections_and_precedence() {
        let mut a = cli(&["-debug=cli"]).unwrap();
        let includes = a
            .read_config_text("regtest=1\nrpcport=1\ndebug=conf\nrpcauth=a:b$c\n[regtest]\nrpcport=5\nrpcport=6\nrpcauth=d:e$f\nbogus=1\n", SPECS)
            .unwrap();
        assert!(includes.is_empty());
        a.set_network("regtest");
        // network-only option from the top level is ignored off main; first config value wins
        assert_eq!(a.get_int("rpcport", 0), 5);
        // command line wins
        assert_eq!(a.get_all("debug"), vec!["cli", "conf"]);
        assert_eq!(a.get_all("rpcauth"), vec!["d:e$f", "a:b$c"]);
        assert!(a.warnings.iter().any(|w| w.contains("Ignoring unknown configuration value regtest.bogus")));
        assert!(a.read_config_text("-x=1", SPECS).unwrap_err().contains("without leading -"));
        assert!(a.read_config_text("garbage", SPECS).unwrap_err().contains("parse error on line 1"));
    }

    #[test]
    fn atoi_like_core() {
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi("-3"), -3);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
    }
}
