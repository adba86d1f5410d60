//! Structured logs through `tracing`, with a level per subsystem (the module path is the
//! target: `gateway::runtime`, `gateway::ipsec`, `gateway::control`, `gateway::api`...).
//!
//! The filter comes from `log.level` in the config (`info,gateway::ipsec=debug`) or, when set,
//! the `ESPGW_LOG` environment variable. Events go to stderr, one line each: time, level,
//! target, message and fields. Nothing on the packet path logs per packet: the workers count,
//! and the control loop reports what changed (at most once per event, or rate-limited).

use tracing_subscriber::EnvFilter;

/// Checks a filter directive string; the error says what is wrong with it.
pub fn parse_filter(spec: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder().parse(spec).map_err(|e| {
        format!("`{spec}` is not a log filter ({e}); use a level (error, warn, info, debug, trace) optionally followed by target=level pairs, e.g. `info,gateway::ipsec=debug`")
    })
}

/// Installs the subscriber once per process; later calls do nothing.
pub fn init(config_level: &str) {
    let filter = match std::env::var("ESPGW_LOG") {
        Ok(env) if !env.is_empty() => parse_filter(&env).unwrap_or_else(|e| {
            eprintln!("espgw: ESPGW_LOG ignored: {e}");
            parse_filter(config_level).unwrap_or_else(|_| EnvFilter::new("info"))
        }),
        _ => parse_filter(config_level).unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_explain() {
        assert!(parse_filter("info").is_ok());
        assert!(parse_filter("warn,gateway::ipsec=debug").is_ok());
        let e = parse_filter("info,gateway::ipsec=loud").unwrap_err();
        assert!(e.contains("loud") && e.contains("target=level"), "{e}");
    }
}
