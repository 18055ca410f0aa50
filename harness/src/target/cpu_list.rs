//! CPU lists such as `"0"`, `"1,3"` or `"0-3"`, as used for pinning target processes.

use std::fmt;
use std::str::FromStr;

/// A non-empty, sorted, de-duplicated set of CPU indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

/// A CPU list that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CPU list {input:?}: {problem} (expected e.g. \"0\", \"1,3\" or \"0-3\")")]
pub struct CpuListError {
    input: String,
    problem: String,
}

/// Highest CPU index accepted; matches the kernel's default `cpu_set_t` size.
const MAX_CPU: usize = 1023;

impl CpuList {
    /// The CPU indices in ascending order.
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    /// Number of CPUs in the list.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a parsed list has at least one CPU.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for CpuList {
    type Err = CpuListError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |problem: String| CpuListError {
            input: input.to_string(),
            problem,
        };
        let parse_index = |text: &str| -> Result<usize, CpuListError> {
            let index: usize = text
                .trim()
                .parse()
                .map_err(|_| fail(format!("{:?} is not a CPU index", text.trim())))?;
            if index > MAX_CPU {
                return Err(fail(format!("CPU {index} is above {MAX_CPU}")));
            }
            Ok(index)
        };
        let mut cpus = Vec::new();
        for part in input.split(',') {
            match part.split_once('-') {
                Some((low, high)) => {
                    let (low, high) = (parse_index(low)?, parse_index(high)?);
                    if low > high {
                        return Err(fail(format!("range {low}-{high} is reversed")));
                    }
                    cpus.extend(low..=high);
                }
                None => cpus.push(parse_index(part)?),
            }
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }
}

impl fmt::Display for CpuList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self.0.iter().map(usize::to_string).collect();
        f.write_str(&text.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_lists_and_ranges() {
        assert_eq!("0".parse::<CpuList>().unwrap().cpus(), &[0]);
        assert_eq!("1,3".parse::<CpuList>().unwrap().cpus(), &[1, 3]);
        assert_eq!("0-3".parse::<CpuList>().unwrap().cpus(), &[0, 1, 2, 3]);
        assert_eq!("3,0-1,1".parse::<CpuList>().unwrap().cpus(), &[0, 1, 3]);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "a", "1,", "3-1", "-1", "1-", "5000"] {
            assert!(
                bad.parse::<CpuList>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
