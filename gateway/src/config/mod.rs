//! espgw configuration: YAML loading, defaults and validation.
//!
//! [`load`] / [`parse`] return a fully validated [`Config`] or the first
//! problem in document order as a [`ConfigError`] that names the file, the
//! line and column, the field path and the reason:
//!
//! ```text
//! gw.yaml:12:9: ports[1].addresses[0]: invalid prefix `198.51.100.1/33`: ...
//! ```

pub mod error;
pub mod ike;
pub mod ipsec;
pub mod model;
pub mod span;
pub mod types;
pub mod validate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_ike;
#[cfg(test)]
mod tests_ipsec;
#[cfg(test)]
mod tests_vti;

use std::path::Path;

pub use error::ConfigError;
pub use ipsec::{Action, Direction, IpsecConfig, PolicyConfig, SaConfig, Secret};
pub use model::{
    Config, ControlConfig, DataplaneConfig, EalConfig, LogConfig, NeighbourConfig, PortConfig, RouteConfig,
    VtiConfig, WorkerConfig,
};
pub use types::{IpPrefix, MacAddr, PortQueue};

use error::DOCUMENT;
use model::RawConfig;
use span::SpanMap;

/// Reads and parses the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&origin, None, DOCUMENT, format!("cannot read file: {e}")))?;
    parse(&text, &origin)
}

/// Parses configuration text; `origin` names it in errors (usually the path).
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let spans = SpanMap::build(text);
    let raw: RawConfig = match serde_yaml_ng::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return Err(error::from_yaml_error(origin, &e, &spans)),
    };
    let (config, issues) = validate::validate(raw);
    // Report the issue that comes first in the document; ties keep the
    // order in which the checks ran.
    let first = issues
        .into_iter()
        .map(|issue| (spans.locate(&issue.path), issue))
        .min_by_key(|(pos, _)| pos.unwrap_or((usize::MAX, usize::MAX)));
    match first {
        None => Ok(config),
        Some((pos, issue)) => Err(ConfigError::new(origin, pos, issue.path, issue.reason)),
    }
}
