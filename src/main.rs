//! `espgw`: the gateway's command-line interface.
//!
//! ```text
//! espgw run -c FILE              run the gateway (needs root for DPDK)
//! espgw check-config FILE        validate a configuration and exit
//! espgw status [--json] [-c FILE | -s SOCKET]
//! espgw version
//! ```

#![forbid(unsafe_code)]

mod diagnose;
mod status_view;

use gateway::api;
use gateway::config;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const DEFAULT_CONFIG: &str = "/etc/espgw/espgw.yaml";
const DEFAULT_SOCKET: &str = "/run/espgw/espgw.sock";

const USAGE: &str = "usage:
  espgw run -c FILE                 run the gateway
  espgw check-config FILE           validate a configuration file
  espgw status [--json] [-c FILE | -s SOCKET]
                                    show ports, workers, drops and neighbours
  espgw diagnose TUNNEL [-c FILE | -s SOCKET]
                                    explain why an IKE tunnel is down or partially up: the phase,
                                    what each side offered, what to check and what to change
  espgw tunnel up|down NAME [-c FILE | -s SOCKET]
                                    down: delete the peer's IKE and Child SAs and keep it down;
                                    up: allow it again and initiate now
  espgw reload [-c FILE | -s SOCKET]
                                    re-read the running config file; apply routes and IPsec
                                    changes (unchanged SAs keep running), refuse invalid files
                                    (SIGHUP does the same)
  espgw version                     show version, DPDK and build information";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &args[1..];
    let result = match cmd.as_str() {
        "run" => cmd_run(rest),
        "check-config" => cmd_check(rest),
        "status" => cmd_status(rest),
        "reload" => cmd_reload(rest),
        "diagnose" => cmd_diagnose(rest),
        "tunnel" => cmd_tunnel(rest),
        "version" | "--version" | "-V" => {
            print_version();
            Ok(())
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command {other:?}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("espgw: {m}\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Config(e)) => {
            eprintln!("{e}");
            ExitCode::from(3)
        }
        Err(Failure::Runtime(m)) => {
            eprintln!("espgw: {m}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Config(config::ConfigError),
    Runtime(String),
}

/// Parses `-c FILE` / `--config FILE` / `--config=FILE`, `-s`, `--json` style options.
struct Opts {
    config: Option<PathBuf>,
    socket: Option<PathBuf>,
    json: bool,
    positional: Vec<String>,
}

fn parse_opts(args: &[String]) -> Result<Opts, Failure> {
    let mut o = Opts { config: None, socket: None, json: false, positional: Vec::new() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value =
            |name: &str| it.next().cloned().ok_or_else(|| Failure::Usage(format!("{name} needs a value")));
        match a.as_str() {
            "-c" | "--config" => o.config = Some(PathBuf::from(value(a)?)),
            "-s" | "--socket" => o.socket = Some(PathBuf::from(value(a)?)),
            "--json" => o.json = true,
            s if s.starts_with("--config=") => o.config = Some(PathBuf::from(&s[9..])),
            s if s.starts_with("--socket=") => o.socket = Some(PathBuf::from(&s[9..])),
            s if s.starts_with('-') => return Err(Failure::Usage(format!("unknown option {s:?}"))),
            s => o.positional.push(s.to_string()),
        }
    }
    Ok(o)
}

fn cmd_run(args: &[String]) -> Result<(), Failure> {
    let o = parse_opts(args)?;
    let path = o.config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
    let cfg = config::load(&path).map_err(Failure::Config)?;
    gateway::runtime::run(cfg, path.display().to_string()).map_err(Failure::Runtime)
}

fn cmd_check(args: &[String]) -> Result<(), Failure> {
    let o = parse_opts(args)?;
    let path = o
        .positional
        .first()
        .map(PathBuf::from)
        .or(o.config)
        .ok_or_else(|| Failure::Usage("check-config needs a FILE".into()))?;
    let cfg = config::load(&path).map_err(Failure::Config)?;
    println!(
        "{}: OK: {} port(s), {} route(s), {} worker(s) on lcore(s) {}, control socket {}",
        path.display(),
        cfg.ports.len(),
        cfg.routes.len(),
        cfg.workers.len(),
        cfg.workers.iter().map(|w| w.lcore.to_string()).collect::<Vec<_>>().join(","),
        cfg.control.socket.display()
    );
    Ok(())
}

fn cmd_status(args: &[String]) -> Result<(), Failure> {
    let o = parse_opts(args)?;
    let socket = match (o.socket, o.config) {
        (Some(s), _) => s,
        (None, Some(c)) => config::load(&c).map_err(Failure::Config)?.control.socket,
        (None, None) => PathBuf::from(DEFAULT_SOCKET),
    };
    let reply = api::request(Path::new(&socket), "status").map_err(Failure::Runtime)?;
    if o.json {
        print!("{reply}");
        return Ok(());
    }
    let status: api::Status = serde_json::from_str(&reply).map_err(|e| {
        Failure::Runtime(format!(
            "unexpected reply from espgw: {e}: {}",
            reply.chars().take(200).collect::<String>()
        ))
    })?;
    print!("{}", status_view::render(&status));
    Ok(())
}

fn cmd_diagnose(args: &[String]) -> Result<(), Failure> {
    let o = parse_opts(args)?;
    let [name] = o.positional.as_slice() else {
        return Err(Failure::Usage("diagnose needs exactly one tunnel name".into()));
    };
    let socket = match (o.socket, o.config) {
        (Some(s), _) => s,
        (None, Some(c)) => config::load(&c).map_err(Failure::Config)?.control.socket,
        (None, None) => PathBuf::from(DEFAULT_SOCKET),
    };
    let reply = api::request(Path::new(&socket), "status").map_err(Failure::Runtime)?;
    let status: api::Status = serde_json::from_str(&reply).map_err(|e| {
        Failure::Runtime(format!(
            "unexpected reply from espgw: {e}: {}",
            reply.chars().take(200).collect::<String>()
        ))
    })?;
    print!("{}", diagnose::diagnose(&status, name).map_err(Failure::Runtime)?);
    Ok(())
}

fn cmd_tunnel(args: &[String]) -> Result<(), Failure> {
    let o = parse_opts(args)?;
    let (up, name) = match o.positional.as_slice() {
        [a, n] if a == "up" => (true, n),
        [a, n] if a == "down" => (false, n),
        _ => return Err(Failure::Usage("tunnel needs up|down and a tunnel name".into())),
    };
    let socket = match (o.socket, o.config) {
        (Some(s), _) => s,
        (None, Some(c)) => config::load(&c).map_err(Failure::Config)?.control.socket,
        (None, None) => PathBuf::from(DEFAULT_SOCKET),
    };
    let reply = api::request_tunnel(Path::new(&socket), name, up).map_err(Failure::Runtime)?;
    let v: serde_json::Value = serde_json::from_str(&reply)
        .map_err(|e| Failure::Runtime(format!("unexpected reply from espgw: {e}")))?;
    match (v["ok"].as_str(), v["error"].as_str()) {
        (Some(ok), _) => {
            println!("{ok}");
            Ok(())
        }
        (_, Some(e)) => Err(Failure::Runtime(e.to_string())),
        _ => Err(Failure::Runtime(format!("unexpected reply from espgw: {reply}"))),
    }
}

fn cmd_reload(args: &[String]) -> Result<(), Failure> {
    let o = parse_opts(args)?;
    let socket = match (o.socket, o.config) {
        (Some(s), _) => s,
        (None, Some(c)) => config::load(&c).map_err(Failure::Config)?.control.socket,
        (None, None) => PathBuf::from(DEFAULT_SOCKET),
    };
    let reply = api::request(Path::new(&socket), "reload").map_err(Failure::Runtime)?;
    let v: serde_json::Value = serde_json::from_str(&reply)
        .map_err(|e| Failure::Runtime(format!("unexpected reply from espgw: {e}")))?;
    match (v.get("ok").and_then(|x| x.as_str()), v.get("error").and_then(|x| x.as_str())) {
        (Some(summary), _) => {
            println!("reloaded: {summary}");
            Ok(())
        }
        (_, Some(e)) => {
            Err(Failure::Runtime(format!("reload refused, the running configuration stays: {e}")))
        }
        _ => Err(Failure::Runtime(format!("unexpected reply from espgw: {reply}"))),
    }
}

fn print_version() {
    println!("espgw {}", env!("CARGO_PKG_VERSION"));
    println!("  git revision     {}", env!("ESPGW_GIT_REV"));
    println!("  built against    DPDK {} (pkg-config libdpdk)", env!("ESPGW_DPDK_VERSION"));
    println!("  DPDK loaded      {}", dpdk_sys::runtime_version());
    println!("  build profile    {}", env!("ESPGW_PROFILE"));
    println!("  target features  {}", env!("ESPGW_TARGET_FEATURES"));
}
