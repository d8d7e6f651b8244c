//! `bitcoin.conf`: where it is (`-conf`, relative to the data directory)
//! and Core's reader for it, with `[section]`s, `section.name=` keys and
//! one level of `includeconf=`.

use std::path::{Path, PathBuf};

use crate::args::{interpret_key, interpret_value, Setting};
use crate::{datadir, Args, OptionSpec};

/// The config file the options point at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfFile {
    /// `-conf` resolved against the data directory, or
    /// `<datadir>/bitcoin.conf`.
    pub path: PathBuf,
    /// Named with `-conf`: then it must exist.
    pub required: bool,
}

impl ConfFile {
    /// Core's lookup: `-conf=<file>` (relative paths under `datadir`), by
    /// default `bitcoin.conf` in `datadir`.
    #[must_use]
    pub fn locate(args: &Args, datadir: &Path) -> Self {
        match args.get("conf").filter(|c| !c.is_empty()) {
            Some(c) => Self { path: datadir::abs(datadir, &c), required: true },
            None => Self { path: datadir.join("bitcoin.conf"), required: false },
        }
    }

    /// Reads the file into `args`, unless `-noconf`.
    ///
    /// # Errors
    /// As [`Args::read_config_file`].
    pub fn read_into(&self, args: &mut Args, specs: &[OptionSpec]) -> Result<(), String> {
        if args.is_negated("conf") {
            return Ok(());
        }
        args.read_config_file(&self.path, specs, self.required)
    }
}

impl Args {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::tests::{cli, SPECS};

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
    fn conf_file_lookup() {
        let dir = Path::new("/data");
        assert_eq!(
            ConfFile::locate(&cli(&[]).unwrap(), dir),
            ConfFile { path: dir.join("bitcoin.conf"), required: false }
        );
        let a = cli(&["-conf=other.conf"]).unwrap();
        assert_eq!(ConfFile::locate(&a, dir), ConfFile { path: dir.join("other.conf"), required: true });
        let a = cli(&["-conf=/etc/b.conf"]).unwrap();
        assert_eq!(ConfFile::locate(&a, dir).path, PathBuf::from("/etc/b.conf"));
        let mut a = cli(&["-noconf"]).unwrap();
        assert_eq!(ConfFile::locate(&a, Path::new("/nonexistent")).read_into(&mut a, SPECS), Ok(()));
    }

    #[test]
    fn includeconf_reads_one_level() {
        let dir = std::env::temp_dir().join(format!("ferronode-args-inc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bitcoin.conf"), "includeconf=inc.conf\nrpcport=1\n").unwrap();
        std::fs::write(dir.join("inc.conf"), "debug=inc\nincludeconf=deeper.conf\n").unwrap();
        let mut a = cli(&[]).unwrap();
        a.read_config_file(&dir.join("bitcoin.conf"), SPECS, true).unwrap();
        a.set_network("regtest");
        assert_eq!(a.get_all("debug"), vec!["inc"]);
        assert!(a.warnings.iter().any(|w| w.contains("ignoring -includeconf=deeper.conf")));
        let err = a.read_config_file(&dir.join("missing.conf"), SPECS, true).unwrap_err();
        assert!(err.starts_with("Error reading configuration file: specified config file"), "{err}");
        assert_eq!(a.read_config_file(&dir.join("missing.conf"), SPECS, false), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
