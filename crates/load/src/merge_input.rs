//! What `merge` takes in, a worker's result file, and the checks it makes before it
//! adds anything up: that each worker part holds
//! figures a run could have written (a part is an untrusted file: nothing it claims
//! sizes an allocation before it is checked), and that the parts are the complete
//! segments of one run whose measured windows overlap.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::result::{LoadResult, LOAD_SCHEMA_VERSION};

/// How far apart (as a share of the run's duration) the workers' windows may start.
pub const MAX_START_SPREAD: f64 = 0.01;

/// One worker's result and the file it came from (named in every refusal).
#[derive(Debug, Clone)]
pub struct WorkerResult {
    pub path: PathBuf,
    pub result: LoadResult,
}

/// Why a set of worker results cannot be merged; names the offending file.
#[derive(Debug, thiserror::Error)]
#[error("{}: {problem}", path.display())]
pub struct MergeError {
    pub path: PathBuf,
    pub problem: String,
}

/// Reads a worker's JSON result file.
pub fn read_worker(path: &Path) -> Result<WorkerResult, MergeError> {
    let refuse = |problem: String| MergeError {
        path: path.to_path_buf(),
        problem,
    };
    let text = crate::bounds::read_text(path).map_err(|e| refuse(format!("cannot read: {e}")))?;
    let result: LoadResult = serde_json::from_str(&text)
        .map_err(|e| refuse(format!("not a lanebench load result: {e}")))?;
    check_figures(&result).map_err(refuse)?;
    Ok(WorkerResult {
        path: path.to_path_buf(),
        result,
    })
}

/// Refuses figures no run writes, before any of them sizes an allocation or enters
/// arithmetic: a file is untrusted. Times are finite, not negative and at most a year;
/// the timeline holds one point per second in order, so its length is what the file
/// really holds, and the measured window is no longer than that timeline.
pub(super) fn check_figures(r: &LoadResult) -> Result<(), String> {
    let year = crate::bounds::MAX_DURATION.as_secs_f64();
    let times = [
        ("warmup_s", r.warmup_s),
        ("duration_s", r.duration_s),
        ("generator.cpu_s", r.generator.cpu_s),
        (
            "schedule.max_send_lag_ms",
            r.schedule.as_ref().map_or(0.0, |s| s.max_send_lag_ms / 1e3),
        ),
    ];
    for (field, value) in times {
        if !(value.is_finite() && (0.0..=year).contains(&value)) {
            return Err(format!("{field} {value} is not a time from 0 to 365 days"));
        }
    }
    if let Some(rate) = r.rate {
        crate::bounds::check_rate(rate).map_err(|e| e.to_string())?;
    }
    if let Some(s) = r.segment {
        if s.count == 0 || s.index >= s.count {
            return Err(format!(
                "segment {}/{} is not a segment (I must be below N)",
                s.index, s.count
            ));
        }
    }
    if let Some(at) = r
        .timeline
        .iter()
        .enumerate()
        .position(|(i, p)| p.t != i as u64)
    {
        return Err(format!(
            "timeline point {at} is for second {}, not {at}",
            r.timeline[at].t
        ));
    }
    if r.duration_s > r.timeline.len() as f64 + 1.0 {
        return Err(format!(
            "duration_s {} is longer than its timeline of {} s",
            r.duration_s,
            r.timeline.len()
        ));
    }
    Ok(())
}

/// Refuses sets that are not the complete segments of one run.
pub(super) fn check_compatible(workers: &[WorkerResult]) -> Result<(), MergeError> {
    let first = &workers[0].result;
    if first.schema_version != LOAD_SCHEMA_VERSION {
        return Err(MergeError {
            path: workers[0].path.clone(),
            problem: format!(
                "result schema version {} is not this lanebench's {LOAD_SCHEMA_VERSION} (its histograms are in other units); merge it with the lanebench that wrote it",
                first.schema_version
            ),
        });
    }
    let count = match first.segment {
        Some(s) => s.count,
        None => {
            return Err(MergeError {
                path: workers[0].path.clone(),
                problem: "is not a segment of a split run (no --segment)".into(),
            })
        }
    };
    // Keyed by index rather than a vector of `count` slots: the count is the file's claim.
    let mut seen: BTreeMap<usize, &Path> = BTreeMap::new();
    for w in workers {
        let r = &w.result;
        let refuse = |problem: String| MergeError {
            path: w.path.clone(),
            problem,
        };
        same_settings(w, &workers[0])?;
        let segment = r
            .segment
            .ok_or_else(|| refuse("is not a segment of a split run (no --segment)".into()))?;
        if segment.count != count {
            return Err(refuse(format!(
                "segment count {} differs from {count} in {}",
                segment.count,
                workers[0].path.display()
            )));
        }
        if segment.index >= count {
            return Err(refuse(format!("segment {segment} is not below its count")));
        }
        if let Some(other) = seen.insert(segment.index, &w.path) {
            return Err(refuse(format!(
                "segment {segment} is also in {}",
                other.display()
            )));
        }
    }
    // With every index below `count` and none twice, one of 0..=len is absent unless
    // all `count` are present.
    if let Some(missing) = (0..count.min(seen.len() + 1)).find(|i| !seen.contains_key(i)) {
        return Err(MergeError {
            path: workers[0].path.clone(),
            problem: format!("segment {missing}/{count} of this run is missing from the inputs"),
        });
    }
    check_windows_overlap(workers)
}

/// Refuses a part measured with other settings than the first part: another result
/// schema or lanebench version, URL, mode or rate, warm-up or connection count.
fn same_settings(w: &WorkerResult, first_worker: &WorkerResult) -> Result<(), MergeError> {
    let (r, first) = (&w.result, &first_worker.result);
    let refuse = |problem: String| MergeError {
        path: w.path.clone(),
        problem,
    };
    let differs = |what: &str, mine: String, theirs: String| {
        refuse(format!(
            "{what} {mine} differs from {theirs} in {}",
            first_worker.path.display()
        ))
    };
    if r.schema_version != first.schema_version {
        return Err(refuse(format!(
                "result schema version {} differs from {} in {} (histograms of different versions do not add up; measure every part with one lanebench)",
                r.schema_version,
                first.schema_version,
                first_worker.path.display()
            )));
    }
    if r.lanebench_version != first.lanebench_version {
        let (a, b) = (&r.lanebench_version, &first.lanebench_version);
        return Err(differs("lanebench version", a.clone(), b.clone()));
    }
    if r.url != first.url {
        return Err(differs("url", r.url.clone(), first.url.clone()));
    }
    if r.mode != first.mode || r.rate != first.rate {
        let show = |x: &LoadResult| format!("{:?} rate {:?}", x.mode, x.rate);
        return Err(differs("mode", show(r), show(first)));
    }
    if r.warmup_s != first.warmup_s {
        let (a, b) = (r.warmup_s, first.warmup_s);
        return Err(differs("warmup_s", a.to_string(), b.to_string()));
    }
    if r.connections != first.connections {
        let (a, b) = (r.connections, first.connections);
        return Err(differs("connections", a.to_string(), b.to_string()));
    }
    Ok(())
}

/// Refuses workers whose measured windows start further apart than
/// [`MAX_START_SPREAD`] of the run's duration: their sum would not be one load.
fn check_windows_overlap(workers: &[WorkerResult]) -> Result<(), MergeError> {
    let starts = |w: &&WorkerResult| w.result.measure_start_unix_ms;
    let (Some(earliest), Some(latest)) = (
        workers.iter().min_by_key(starts),
        workers.iter().max_by_key(starts),
    ) else {
        return Ok(());
    };
    let spread_ms = latest.result.measure_start_unix_ms - earliest.result.measure_start_unix_ms;
    // (max minus min: cannot underflow)
    let duration_s = workers
        .iter()
        .map(|w| w.result.duration_s)
        .fold(0.0, f64::max);
    let allowed_ms = duration_s * 1e3 * MAX_START_SPREAD;
    if spread_ms as f64 > allowed_ms {
        return Err(MergeError {
            path: latest.path.clone(),
            problem: format!(
                "its measured window starts {spread_ms} ms after that of {}, more than {:.0}% of the {duration_s:.1} s run ({allowed_ms:.0} ms); start every worker with one --start-at",
                earliest.path.display(),
                MAX_START_SPREAD * 100.0
            ),
        });
    }
    Ok(())
}
