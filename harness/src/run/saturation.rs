//! The saturation verdict of a level: which side limited its throughput, the server,
//! the generator, or a component beside the service (the database in database mode),
//! judged from every side's CPU use (see docs/metrics.md, "Saturation verdict").

use crate::results::{Role, Saturation};

/// Server CPU utilisation from which a level counts as server-bound.
pub const SERVER_BOUND: f64 = 0.75;
/// Generator utilisation from which a level counts as generator-bound (when the server is not).
pub const GENERATOR_BOUND: f64 = 0.90;

/// What the saturation verdict of a level is judged from.
#[derive(Debug, Clone, Default)]
pub struct SaturationInputs {
    /// Server CPU utilisation (median over repeats).
    pub server: f64,
    /// Generator CPU utilisation (median over repeats).
    pub generator: f64,
    /// Server and generator shared CPUs.
    pub shared: bool,
    /// Open loop: some repeat's send lag p99 was above its bound.
    pub send_lag_over: bool,
    /// Open loop: some repeat left planned requests unsent.
    pub unsent: bool,
    /// The components beside the service whose CPU share was read.
    pub components: Vec<ComponentLoad>,
}

/// A component's CPU use at a level, as the verdict weighs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentLoad {
    pub name: String,
    pub role: Role,
    /// Its CPU utilisation (median over repeats).
    pub utilisation: f64,
    /// It ran on (some of) the server's CPUs (2 CPUs): it and the service are judged
    /// together.
    pub shares_server: bool,
}

impl ComponentLoad {
    fn verdict(&self) -> Saturation {
        Saturation::Component {
            name: self.name.clone(),
            role: self.role,
        }
    }
}

/// Which side limited a level. A late schedule means the load asked for was not
/// offered, whatever the server did; unsent requests with an idle server mean too few
/// connections for the rate. A component with CPUs of its own is the limit when it
/// fills them; components on the server's CPUs use them up together with the service,
/// and the one that used most of them is the bottleneck.
pub fn judge_saturation(i: &SaturationInputs) -> Saturation {
    let busiest = |sharing: bool| {
        i.components
            .iter()
            .filter(|c| c.shares_server == sharing)
            .max_by(|a, b| a.utilisation.total_cmp(&b.utilisation))
    };
    let combined = i.server
        + i.components
            .iter()
            .filter(|c| c.shares_server)
            .map(|c| c.utilisation)
            .sum::<f64>();
    let own_full = busiest(false).filter(|c| c.utilisation >= SERVER_BOUND);
    let sharer_heavier = busiest(true).filter(|c| c.utilisation > i.server);
    if i.shared {
        Saturation::Shared
    } else if i.send_lag_over {
        Saturation::Generator
    } else if let Some(component) = own_full {
        component.verdict()
    } else if combined >= SERVER_BOUND {
        sharer_heavier.map_or(Saturation::Server, ComponentLoad::verdict)
    } else if i.generator >= GENERATOR_BOUND || i.unsent {
        Saturation::Generator
    } else {
        Saturation::Neither
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres(utilisation: f64, shares_server: bool) -> Vec<ComponentLoad> {
        vec![ComponentLoad {
            name: "postgres".to_string(),
            role: Role::Database,
            utilisation,
            shares_server,
        }]
    }

    fn by_postgres() -> Saturation {
        Saturation::Component {
            name: "postgres".to_string(),
            role: Role::Database,
        }
    }

    #[test]
    fn saturation_verdicts() {
        let judge = |server, generator| {
            judge_saturation(&SaturationInputs {
                server,
                generator,
                ..Default::default()
            })
        };
        assert_eq!(judge(0.95, 0.99), Saturation::Server);
        assert_eq!(judge(0.40, 0.97), Saturation::Generator);
        assert_eq!(judge(0.40, 0.30), Saturation::Neither);
        let shared = SaturationInputs {
            server: 0.99,
            generator: 0.99,
            shared: true,
            ..Default::default()
        };
        assert_eq!(judge_saturation(&shared), Saturation::Shared);
    }

    #[test]
    fn a_late_or_incomplete_schedule_is_the_generators_limit() {
        let busy_server = SaturationInputs {
            server: 0.99,
            generator: 0.2,
            ..Default::default()
        };
        let late = SaturationInputs {
            send_lag_over: true,
            ..busy_server.clone()
        };
        assert_eq!(judge_saturation(&late), Saturation::Generator);
        // Unsent requests behind a saturated server: the server's limit.
        let unsent = SaturationInputs {
            unsent: true,
            ..busy_server
        };
        assert_eq!(judge_saturation(&unsent), Saturation::Server);
        let idle_unsent = SaturationInputs {
            server: 0.3,
            ..unsent
        };
        assert_eq!(judge_saturation(&idle_unsent), Saturation::Generator);
    }

    #[test]
    fn a_database_that_used_its_cpus_is_the_bottleneck_by_name() {
        // On 2 CPUs the database shares the server's: together they fill it, and the
        // database used more of it.
        let shared = SaturationInputs {
            server: 0.35,
            components: postgres(0.6, true),
            ..Default::default()
        };
        assert_eq!(judge_saturation(&shared), by_postgres());
        let service_heavier = SaturationInputs {
            server: 0.6,
            components: postgres(0.35, true),
            ..Default::default()
        };
        assert_eq!(judge_saturation(&service_heavier), Saturation::Server);
        // With CPUs of its own, the database is the limit when it fills them.
        let own = SaturationInputs {
            server: 0.4,
            components: postgres(0.9, false),
            ..Default::default()
        };
        assert_eq!(judge_saturation(&own), by_postgres());
        let idle = SaturationInputs {
            server: 0.4,
            components: postgres(0.1, false),
            ..Default::default()
        };
        assert_eq!(judge_saturation(&idle), Saturation::Neither);
    }

    #[test]
    fn the_busiest_of_several_components_is_named() {
        // A downstream service and a database, each on CPUs of its own: the one that
        // filled its CPUs limited the service, whatever its role.
        let mut components = postgres(0.5, false);
        components.push(ComponentLoad {
            name: "orders".to_string(),
            role: Role::Downstream,
            utilisation: 0.95,
            shares_server: false,
        });
        let inputs = SaturationInputs {
            server: 0.4,
            components,
            ..Default::default()
        };
        let verdict = judge_saturation(&inputs);
        assert_eq!(
            verdict,
            Saturation::Component {
                name: "orders".to_string(),
                role: Role::Downstream
            }
        );
        assert_eq!(verdict.label(), "downstream");
    }
}
