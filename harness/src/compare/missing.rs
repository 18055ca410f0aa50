//! What the baseline measured and the candidate did not: a whole target, a load level, a
//! figure, or an instruction count. The candidate is untrusted input, so anything it
//! leaves out is never read as "no regression": each absence is listed and fails the
//! comparison (exit 1), like a target that stopped finishing.

use serde::Serialize;

use super::figure::Figure;

/// One thing the baseline has and the candidate lacks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    pub target: String,
    /// The load level (`64c`); `None` for the whole target or a target-wide figure.
    pub level: Option<String>,
    /// The figure; `None` for a whole target or level.
    pub figure: Option<Figure>,
    /// The counted scenario request (or `mix`) of an instruction count.
    pub request: Option<String>,
}

impl Missing {
    /// A target the candidate did not run (or did not finish, without failing).
    pub fn target(target: &str) -> Missing {
        Missing {
            target: target.to_string(),
            level: None,
            figure: None,
            request: None,
        }
    }

    /// A level the candidate did not measure.
    pub fn level(target: &str, level: String) -> Missing {
        Missing {
            level: Some(level),
            ..Missing::target(target)
        }
    }

    /// A figure the candidate has no value for, at `level` or target-wide.
    pub fn figure(target: &str, level: Option<String>, figure: Figure) -> Missing {
        Missing {
            level,
            figure: Some(figure),
            ..Missing::target(target)
        }
    }

    /// Instruction counts: of the whole target (`request` `None`) or of one request.
    pub fn count(target: &str, request: Option<String>) -> Missing {
        Missing {
            request,
            ..Missing::figure(target, None, Figure::Instructions)
        }
    }

    /// `axum`, `axum/64c`, `axum/64c p99`, `axum memory`, `axum [user] instructions`.
    pub fn label(&self) -> String {
        let mut out = self.target.clone();
        if let Some(level) = &self.level {
            out.push('/');
            out.push_str(level);
        }
        if let Some(request) = &self.request {
            out.push_str(&format!(" [{request}]"));
        }
        if let Some(figure) = self.figure {
            out.push(' ');
            out.push_str(figure.key());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_target_level_request_and_figure() {
        assert_eq!(Missing::target("axum").label(), "axum");
        assert_eq!(Missing::level("axum", "64c".into()).label(), "axum/64c");
        assert_eq!(
            Missing::figure("axum", Some("64c".into()), Figure::P99).label(),
            "axum/64c p99"
        );
        assert_eq!(
            Missing::figure("axum", None, Figure::Memory).label(),
            "axum memory"
        );
        assert_eq!(
            Missing::count("axum", Some("user".into())).label(),
            "axum [user] instructions"
        );
    }
}
