//! Each provider kind's own flags for `pdk accounts add KIND NAME …` and
//! `pdk accounts edit NAME …`, built from the kind's descriptor: a new
//! provider brings its flags with it, and nothing here names a kind.

use clap::{Arg, ArgAction, ArgMatches, Command};
use powerdeck_core::provider::kind::{Field, FieldKind, KindDescriptor, SecretNeed, SECRET};
use powerdeck_core::CoreError;
use serde_json::{Map, Value};

/// What the kind's flags said.
pub struct Given {
    /// The settings named on the command line (only those).
    pub settings: Map<String, Value>,
    pub secret_stdin: bool,
    pub secret_env: Option<String>,
    /// Edit only: fetch and pin the certificate the host presents now.
    pub trust_presented: bool,
    /// Edit only: back to the system's roots (no pin, no "accept any", no CA file).
    pub verify_tls: bool,
    /// Fetch the CA the host publishes and trust it (kinds with such a CA field).
    pub fetch_ca: bool,
    pub yes: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Add,
    Edit,
}

/// Parse `args` (what followed the kind and name) against the kind's flags.
/// `--help` prints the kind's own help and exits.
pub fn parse(kind: &KindDescriptor, mode: Mode, args: &[String]) -> Result<Given, CoreError> {
    let cmd = command(kind, mode);
    let m = cmd.try_get_matches_from(std::iter::once("pdk".to_string()).chain(args.iter().cloned())).map_err(|e| one_sentence(kind, mode, e))?;
    let mut settings = Map::new();
    for f in kind.fields {
        if let Some(v) = value(f, &m)? {
            settings.insert(f.name.to_string(), v);
        }
    }
    let flag = |id: &str| m.try_get_one::<bool>(id).ok().flatten().copied().unwrap_or(false);
    Ok(Given {
        settings,
        secret_stdin: flag("secret-stdin"),
        secret_env: m.try_get_one::<String>("secret-env").ok().flatten().cloned(),
        trust_presented: flag("trust-presented"),
        verify_tls: flag("verify-tls"),
        fetch_ca: flag("fetch-ca"),
        yes: flag("yes"),
    })
}

/// clap's error as one sentence (help is printed, and ends the program).
fn one_sentence(kind: &KindDescriptor, mode: Mode, e: clap::Error) -> CoreError {
    use clap::error::{ContextKind, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let help = match mode {
        Mode::Add => format!("pdk accounts add {} NAME --help", kind.name),
        Mode::Edit => "pdk accounts edit NAME --help".to_string(),
    };
    let arg = e.get(ContextKind::InvalidArg).map(|a| a.to_string()).unwrap_or_default();
    CoreError::Invalid(match e.kind() {
        ErrorKind::UnknownArgument => format!("{arg} is not a setting of {} accounts ({help} lists them)", kind.name),
        _ => {
            let first = e.to_string().lines().next().unwrap_or_default().trim_start_matches("error: ").to_string();
            format!("{first} ({help} lists the settings)")
        }
    })
}

fn command(kind: &KindDescriptor, mode: Mode) -> Command {
    let usage = match mode {
        Mode::Add => format!("pdk accounts add {} NAME [OPTIONS]", kind.name),
        Mode::Edit => "pdk accounts edit NAME [OPTIONS]".to_string(),
    };
    let mut cmd = Command::new("pdk").override_usage(usage).about(format!("{}: {}", kind.label, kind.summary)).disable_version_flag(true);
    if kind.secret.need != SecretNeed::None && mode == Mode::Add {
        cmd = cmd
            .arg(
                Arg::new("secret-stdin")
                    .long("secret-stdin")
                    .action(ArgAction::SetTrue)
                    .help(format!("Read the {} from standard input into the OS keychain", kind.secret.label)),
            )
            .arg(
                Arg::new("secret-env")
                    .long("secret-env")
                    .value_name("VAR")
                    .conflicts_with("secret-stdin")
                    .help(format!("Keep only the name of an environment variable that holds the {}", kind.secret.label)),
            );
    }
    for f in kind.fields {
        cmd = add_field(cmd, f, mode);
    }
    if mode == Mode::Edit && kind.tls.is_some() {
        cmd = cmd
            .arg(
                Arg::new("trust-presented")
                    .long("trust-presented")
                    .action(ArgAction::SetTrue)
                    .help("Fetch the certificate the host presents now, show its thumbprint and pin it (asks first)"),
            )
            .arg(
                Arg::new("verify-tls")
                    .long("verify-tls")
                    .action(ArgAction::SetTrue)
                    .help("Verify certificates against the system's roots again: drop a pin, 'accept any' and a CA file"),
            );
    }
    if kind.published_ca().is_some() {
        cmd = cmd.arg(
            Arg::new("fetch-ca")
                .long("fetch-ca")
                .action(ArgAction::SetTrue)
                .help("Fetch the CA certificate the host publishes, show its thumbprint and trust it for this account (asks first)"),
        );
    }
    if (mode == Mode::Edit && kind.tls.is_some()) || kind.published_ca().is_some() {
        cmd = cmd.arg(Arg::new("yes").long("yes").short('y').action(ArgAction::SetTrue).help("Do not ask before trusting the presented certificate or CA"));
    }
    cmd
}

fn add_field(cmd: Command, f: &Field, mode: Mode) -> Command {
    let flag = f.cli_flag();
    let help = if f.placeholder.is_empty() { f.help.to_string() } else { format!("{} (e.g. {})", f.help, f.placeholder) };
    match &f.kind {
        FieldKind::Bool { default, off_flag } => {
            let on = Arg::new(f.name).long(flag.clone()).action(ArgAction::SetTrue).help(help.clone());
            let off_name = off_flag.map(str::to_string).unwrap_or_else(|| format!("no-{flag}"));
            let off = Arg::new(off_name.clone()).long(off_name).action(ArgAction::SetTrue).help(format!("Turn off: {}", f.label.to_lowercase()));
            // Adding, only the flag that changes the default; editing, both.
            match (mode, default) {
                (Mode::Add, true) => cmd.arg(off),
                (Mode::Add, false) => cmd.arg(on),
                (Mode::Edit, _) => cmd.arg(on).arg(off.conflicts_with(f.name)),
            }
        }
        FieldKind::List => cmd.arg(Arg::new(f.name).long(flag).value_name("VALUE").action(ArgAction::Append).value_delimiter(',').help(help)),
        _ => cmd.arg(Arg::new(f.name).long(flag).value_name(value_name(f)).help(help)),
    }
}

fn value_name(f: &Field) -> &'static str {
    match f.kind {
        FieldKind::Url => "URL",
        FieldKind::Integer { .. } | FieldKind::Number { .. } => "N",
        FieldKind::Thumbprint => "SHA256",
        FieldKind::EnvVar => "VAR",
        FieldKind::CaFile { .. } => "FILE",
        _ => "VALUE",
    }
}

/// The JSON value a flag gave for a field, checked against its type.
fn value(f: &Field, m: &ArgMatches) -> Result<Option<Value>, CoreError> {
    let bad = |msg: String| CoreError::Invalid(format!("--{}: {msg}", f.cli_flag()));
    match &f.kind {
        FieldKind::Bool { off_flag, .. } => {
            let off_name = off_flag.map(str::to_string).unwrap_or_else(|| format!("no-{}", f.cli_flag()));
            let on = m.try_get_one::<bool>(f.name).ok().flatten().copied().unwrap_or(false);
            let off = m.try_get_one::<bool>(&off_name).ok().flatten().copied().unwrap_or(false);
            Ok(if on {
                Some(Value::Bool(true))
            } else if off {
                Some(Value::Bool(false))
            } else {
                None
            })
        }
        FieldKind::List => {
            Ok(m.get_many::<String>(f.name).map(|vs| Value::Array(vs.map(|v| Value::String(v.trim().to_string())).filter(|v| v != "").collect())))
        }
        kind => {
            let Some(raw) = m.get_one::<String>(f.name) else { return Ok(None) };
            // An empty value clears an optional setting.
            if raw.trim().is_empty() {
                return Ok(Some(Value::Null));
            }
            Ok(Some(match kind {
                FieldKind::Integer { min, max } => {
                    let n: i64 = raw.trim().parse().map_err(|_| bad(format!("'{raw}' is not a whole number")))?;
                    if !(*min..=*max).contains(&n) {
                        return Err(bad(format!("must be between {min} and {max}, not {n}")));
                    }
                    Value::from(n)
                }
                FieldKind::Number { min, max } => {
                    let n: f64 = raw.trim().parse().map_err(|_| bad(format!("'{raw}' is not a number")))?;
                    if !(n.is_finite() && *min <= n && n <= *max) {
                        return Err(bad(format!("must be between {min} and {max}, not {raw}")));
                    }
                    Value::from(n)
                }
                _ => Value::String(raw.trim().to_string()),
            }))
        }
    }
}

/// The flag a setting is given with, for messages.
fn flag_of(kind: &KindDescriptor, field: &str) -> String {
    if field == SECRET {
        return "--secret-stdin/--secret-env".into();
    }
    kind.fields.iter().find(|f| f.name == field).map(|f| format!("--{}", f.cli_flag())).unwrap_or_else(|| field.to_string())
}

/// A settings error in the CLI's words: each message with the flag it is about.
pub fn explain(e: &CoreError) -> Option<String> {
    let CoreError::InvalidSettings { kind, errors } = e else { return None };
    let descriptor = powerdeck_core::provider::registry::KINDS.iter().find(|k| k.label == *kind)?;
    let parts: Vec<String> = errors
        .iter()
        .map(|err| match &err.field {
            Some(f) => format!("{} ({})", err.message, flag_of(descriptor, f)),
            None => err.message.clone(),
        })
        .collect();
    Some(format!("invalid {kind} settings: {}", parts.join("; ")))
}

/// `pdk accounts kinds`: every kind with its settings.
pub fn describe(kind: &KindDescriptor) -> String {
    let mut out = format!("{} ({}): {}\n", kind.name, kind.label, kind.summary);
    if kind.secret.need != SecretNeed::None {
        let need = if kind.secret.need == SecretNeed::Required { "required" } else { "depends on the settings" };
        out.push_str(&format!("  --secret-stdin | --secret-env VAR   the {} ({need})\n", kind.secret.label));
    }
    for f in kind.fields {
        let flag = match &f.kind {
            FieldKind::Bool { default: true, off_flag } => format!("--{}", off_flag.map(str::to_string).unwrap_or_else(|| format!("no-{}", f.cli_flag()))),
            FieldKind::Bool { .. } => format!("--{}", f.cli_flag()),
            _ => format!("--{} {}", f.cli_flag(), value_name(f)),
        };
        let required = if f.required { " (required)" } else { "" };
        out.push_str(&format!("  {flag:<36} {}{required}\n", f.help));
    }
    out
}
