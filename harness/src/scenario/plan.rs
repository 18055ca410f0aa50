//! Turning a scenario into what the load engine sends: one prepared request per scenario
//! request, aimed at a target's address, and the weighted plan over them. Both `run` and
//! the instruction counts (`cost`) send these, so it lives below them.

use std::net::SocketAddr;

use super::Scenario;
use crate::load::outcome::ExpectedStatus;
use crate::load::request::{Endpoint, PreparedRequest, RequestPlan};

/// The scenario's requests prepared for `addr`, in file order, and the weighted plan.
pub fn prepare(
    scenario: &Scenario,
    addr: SocketAddr,
) -> anyhow::Result<(Vec<PreparedRequest>, RequestPlan)> {
    let endpoint = Endpoint::parse(&format!("http://{addr}/"), false)?;
    let mut prepared = Vec::with_capacity(scenario.requests.len());
    for spec in &scenario.requests {
        let expect = spec
            .expect_status
            .map_or(ExpectedStatus::SuccessOrRedirect, ExpectedStatus::Exactly);
        let request = PreparedRequest::from_templates(
            &spec.method,
            &endpoint,
            spec.path.clone(),
            &spec.headers,
            spec.body.clone(),
            expect,
        )
        .map_err(|e| anyhow::anyhow!("scenario {}: request {:?}: {e}", scenario.name, spec.name))?;
        prepared.push(request);
    }
    let weighted = prepared
        .iter()
        .cloned()
        .zip(scenario.requests.iter().map(|r| r.weight))
        .collect();
    Ok((prepared, RequestPlan::weighted(weighted)))
}
