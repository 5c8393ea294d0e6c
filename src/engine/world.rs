//! Building the actors and what they share from a scenario.

use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;

use crate::api::Strategy;
use crate::model::{
    self, Addr, Device, EdgeNode, Env, IdlePools, Load, Network, Scheduler, SessionSource, Stream,
};
use crate::scenario::Scenario;

/// Every actor of a run.
pub struct World {
    /// The session source.
    pub source: SessionSource,
    /// Devices, by id.
    pub devices: Vec<Device>,
    /// Scheduler replicas, by id.
    pub schedulers: Vec<Scheduler>,
    /// Edge nodes, by id.
    pub nodes: Vec<EdgeNode>,
}

/// The `AppId` of the simulated devices.
pub const SIMULATED_APP: crate::api::AppId = 1;

impl World {
    /// Builds the shared environment and every actor of `scenario`.
    pub fn build(scenario: &Scenario) -> (World, Env) {
        Self::build_with(scenario, true)
    }

    /// Builds the environment, the schedulers and the nodes of `scenario`,
    /// but no devices: for requests that come from outside (`ensim call`).
    pub fn build_without_devices(scenario: &Scenario) -> (World, Env) {
        Self::build_with(scenario, false)
    }

    fn build_with(scenario: &Scenario, with_devices: bool) -> (World, Env) {
        let env = build_env(scenario);
        let seed = scenario.seed;
        let fleet = &scenario.fleet;
        let devices = if with_devices {
            scenario.population.count
        } else {
            0
        };
        let devices_built = if with_devices {
            build_devices(scenario)
        } else {
            Vec::new()
        };
        let (load, idle) = match (&scenario.workload.city_groups, with_devices) {
            (_, false) => (Load::Trace, IdlePools::single(0)),
            (None, true) => (scenario.workload.load.clone(), IdlePools::single(devices)),
            (Some(groups), true) => {
                let group_of = devices_built
                    .iter()
                    .map(|d| groups.group_of_city[d.city() as usize])
                    .collect();
                (
                    scenario.workload.load.clone(),
                    IdlePools::grouped(group_of, &groups.weights),
                )
            }
        };
        let world = World {
            source: SessionSource::new(load, idle, model::stream(seed, Stream::Source, 0)),
            devices: devices_built,
            schedulers: (0..env.schedulers)
                .map(|id| {
                    Scheduler::new(
                        id,
                        fleet,
                        scenario.latency.scheduler_workers,
                        devices,
                        env.app,
                        model::stream(seed, Stream::Scheduler, u64::from(id)),
                    )
                })
                .collect(),
            nodes: (0..fleet.node_count() as u32)
                .map(|n| {
                    EdgeNode::new(
                        n,
                        fleet.node_region(n),
                        fleet.node_pods(n),
                        model::stream(seed, Stream::Node, u64::from(n)),
                    )
                })
                .collect(),
        };
        (world, env)
    }

    /// The actors that act on their own and get [`model::Msg::Init`] at time
    /// zero: the session source, if `with_source`, and the nodes.
    pub fn starters(&self, with_source: bool) -> Vec<Addr> {
        let nodes = (0..self.nodes.len() as u32).map(Addr::Node);
        with_source
            .then_some(Addr::Source)
            .into_iter()
            .chain(nodes)
            .collect()
    }

    /// Hands `msg` to the actor at `to`.
    #[inline]
    pub fn deliver(&mut self, to: Addr, msg: model::Msg, ctx: &mut model::Ctx<'_>) {
        use model::Actor;
        match to {
            Addr::Source => self.source.handle(msg, ctx),
            Addr::Device(d) => self.devices[d as usize].handle(msg, ctx),
            Addr::Scheduler(s) => self.schedulers[s as usize].handle(msg, ctx),
            Addr::Node(n) => self.nodes[n as usize].handle(msg, ctx),
        }
    }
}

fn build_env(scenario: &Scenario) -> Env {
    let lat = &scenario.latency;
    let network = Network::new(
        lat.network_base.clone(),
        lat.network_jitter.clone(),
        lat.network_ns_per_km,
        lat.scheduler_at,
        scenario
            .geo
            .cities()
            .iter()
            .map(|c| (c.latitude, c.longitude)),
        scenario.fleet.regions().iter().map(|r| (r.lat, r.lon)),
    );
    let strategies: Vec<Strategy> = scenario
        .workload
        .strategy_regions
        .iter()
        .map(|regions| Strategy {
            regions: regions.clone(),
        })
        .collect();
    Env {
        fleet: scenario.fleet.clone(),
        geo: scenario.geo.clone(),
        network,
        processing: lat.scheduler_processing.clone(),
        workers: lat.scheduler_workers,
        lock_service: lat.node_lock_service.clone(),
        max_attempts: lat.placement_attempts,
        retry_backoff: lat.placement_backoff.clone(),
        activation: lat.pod_activation.clone(),
        command_time: lat.command_time.clone(),
        security_group_limit: lat.security_group_limit,
        faults: scenario.workload.faults,
        classes: scenario
            .workload
            .classes
            .iter()
            .map(|c| c.0.clone())
            .collect(),
        app: SIMULATED_APP,
        start_strategy: if strategies.is_empty() { None } else { Some(0) },
        strategies,
        schedulers: lat.schedulers,
        routing: lat.routing,
        view_refresh: lat.view_refresh,
        city_scheduler: city_scheduler(scenario),
    }
}

/// Splits the regions west to east into one group per scheduler, and gives
/// each city the scheduler of its nearest region's group.
fn city_scheduler(scenario: &Scenario) -> Vec<u16> {
    let regions = scenario.fleet.regions();
    let n = usize::from(scenario.latency.schedulers);
    let mut by_longitude: Vec<usize> = (0..regions.len()).collect();
    by_longitude.sort_by(|&a, &b| regions[a].lon.total_cmp(&regions[b].lon).then(a.cmp(&b)));
    let mut group = vec![0u16; regions.len()];
    for (rank, &r) in by_longitude.iter().enumerate() {
        group[r] = (rank * n / regions.len().max(1)) as u16;
    }
    scenario
        .geo
        .cities()
        .iter()
        .map(|c| {
            let nearest = (0..regions.len()).min_by(|&a, &b| {
                let da = crate::geo::distance_km(
                    c.latitude,
                    c.longitude,
                    regions[a].lat,
                    regions[a].lon,
                );
                let db = crate::geo::distance_km(
                    c.latitude,
                    c.longitude,
                    regions[b].lat,
                    regions[b].lon,
                );
                da.total_cmp(&db).then(a.cmp(&b))
            });
            nearest.map_or(0, |r| group[r])
        })
        .collect()
}

/// Places each device in a city (by population) and an ISP (by share), and
/// gives it an address of that ISP in that city.
fn build_devices(scenario: &Scenario) -> Vec<Device> {
    let pop = &scenario.population;
    let mut rng = model::stream(scenario.seed, Stream::Population, 0);
    let city_pick =
        WeightedIndex::new(pop.cities.iter().map(|c| c.1)).expect("checked: some city has people");
    let isp_pick = WeightedIndex::new(pop.isp_share).expect("checked: some ISP has a share");
    let classes = &scenario.workload.classes;
    let class_pick =
        WeightedIndex::new(classes.iter().map(|c| c.1)).expect("checked: some class has a share");
    (0..pop.count)
        .map(|id| {
            let city = pop.cities[city_pick.sample(&mut rng)].0;
            let isp = crate::geo::Isp::ALL[isp_pick.sample(&mut rng)];
            let ip = scenario
                .geo
                .draw_ip(city, isp, &mut rng)
                .expect("checked: the ISP has addresses in the city");
            let class = if classes.len() == 1 {
                0
            } else {
                class_pick.sample(&mut rng) as u8
            };
            Device::new(
                id,
                ip,
                city,
                class,
                model::stream(scenario.seed, Stream::Device, u64::from(id)),
            )
        })
        .collect()
}
