//! Process resource limits the harness depends on: enough file descriptors for every
//! connection the generator opens.

use thiserror::Error;

/// The open-file limit cannot be raised to what a run needs.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{needed} file descriptors are needed but the hard limit is {hard}; lower --connections or raise `ulimit -Hn`")]
pub struct FdLimitError {
    pub needed: u64,
    pub hard: u64,
}

/// Raises the soft open-file limit to at least `needed` (up to the hard limit).
pub fn ensure_open_files(needed: u64) -> Result<(), FdLimitError> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is a valid out-pointer for getrlimit/setrlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 || limit.rlim_cur >= needed
    {
        return Ok(());
    }
    if limit.rlim_max < needed {
        return Err(FdLimitError {
            needed,
            hard: limit.rlim_max,
        });
    }
    limit.rlim_cur = needed;
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(FdLimitError {
            needed,
            hard: limit.rlim_max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_needs_are_met_and_impossible_ones_refused() {
        assert_eq!(ensure_open_files(64), Ok(()));
        let err = ensure_open_files(u64::MAX - 1).unwrap_err();
        assert_eq!(err.needed, u64::MAX - 1);
        assert!(err.to_string().contains("--connections"));
    }
}
