//! The scripting formats: summary.csv (the run's own CSV) and results.json as stored.

use super::{RenderInput, Renderer, ReportError};

/// `--format csv`: one row per target and level, as `lanebench run` writes summary.csv.
pub struct SummaryCsv;

impl Renderer for SummaryCsv {
    fn render(&self, input: &RenderInput) -> Result<Vec<u8>, ReportError> {
        input.results.summary_csv().map_err(ReportError::Csv)
    }
}

/// `--format json`: the results file byte for byte.
pub struct ResultsJson;

impl Renderer for ResultsJson {
    fn render(&self, input: &RenderInput) -> Result<Vec<u8>, ReportError> {
        Ok(input.raw_json.to_vec())
    }
}
