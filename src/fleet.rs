//! The fleet: regions, edge nodes, instances and pods, and their addresses.
//!
//! A node hosts container instances, each carrying pods, and whole instances
//! for the VM / bare-metal scenario. Both are units a device can hold, and
//! each has a [`PodId`]: units are numbered region by region, node by node and
//! instance by instance (a node's pods first, then its whole instances), so
//! each region, node and instance owns one contiguous run of ids. The layout
//! is immutable during a run and shared by every actor.

use crate::geo::IspSet;

/// A pod (or, in the VM scenario, a whole instance) in the fleet.
pub type PodId = u32;
/// An edge node.
pub type NodeId = u32;
/// An edge region.
pub type RegionId = u16;

/// A region as the fleet uses it.
#[derive(Clone, Debug)]
pub struct Region {
    /// The ENS region id, such as `cn-chengdu-telecom-2`.
    pub id: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// ISPs served on-net.
    pub serves: IspSet,
    /// The region's nodes are `nodes.0 .. nodes.1`.
    pub nodes: (NodeId, NodeId),
    /// The region's pods are `pods.0 .. pods.1`.
    pub pods: (PodId, PodId),
}

/// How one region is built.
#[derive(Clone, Debug)]
pub struct RegionLayout {
    /// ENS region id.
    pub id: String,
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// ISPs served on-net.
    pub serves: IspSet,
    /// Edge nodes in the region.
    pub nodes: u32,
    /// Instances on each node.
    pub instances_per_node: u32,
    /// Pods on each instance.
    pub pods_per_instance: u32,
    /// Whole instances (VM scenario) on each node.
    pub vm_instances_per_node: u32,
}

/// What kind of unit a [`PodId`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// A pod on a container instance (`Start`).
    Pod,
    /// A whole instance (`PreSchedule`).
    Instance,
}

impl UnitKind {
    /// 0 for pods, 1 for whole instances.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Address and port layout shared by all instances.
#[derive(Clone, Copy, Debug)]
pub struct PortLayout {
    /// Address of the first instance; the others follow it.
    pub first_instance_ip: u32,
    /// First port of pod 0 on every instance.
    pub first_port: u16,
    /// Ports each pod gets.
    pub ports_per_pod: u16,
}

#[derive(Clone, Copy, Debug)]
struct Instance {
    node: NodeId,
    first_pod: PodId,
    kind: UnitKind,
}

#[derive(Clone, Copy, Debug)]
struct Node {
    region: RegionId,
    pods: (PodId, PodId),
}

/// Where a pod is and how a device reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodAddress {
    /// Instance id, `i-` and 25 base-36 characters.
    pub instance_id: String,
    /// Instance address.
    pub instance_ip: String,
    /// The pod's index on its instance.
    pub index: u32,
    /// First port of the pod's range.
    pub first_port: u16,
    /// Last port of the pod's range.
    pub last_port: u16,
}

/// The whole fleet.
#[derive(Clone, Debug)]
pub struct Fleet {
    regions: Vec<Region>,
    nodes: Vec<Node>,
    instances: Vec<Instance>,
    /// Instance of each pod.
    pod_instance: Vec<u32>,
    ports: PortLayout,
}

impl Fleet {
    /// Lays out the fleet; pods are numbered in the order given.
    pub fn new(layouts: &[RegionLayout], ports: PortLayout) -> Fleet {
        let mut fleet = Fleet {
            regions: Vec::with_capacity(layouts.len()),
            nodes: Vec::new(),
            instances: Vec::new(),
            pod_instance: Vec::new(),
            ports,
        };
        for (r, layout) in layouts.iter().enumerate() {
            let first_node = fleet.nodes.len() as NodeId;
            let first_pod = fleet.pod_instance.len() as PodId;
            for _ in 0..layout.nodes {
                let node_id = fleet.nodes.len() as NodeId;
                let node_first_pod = fleet.pod_instance.len() as PodId;
                let pod_instances = (0..layout.instances_per_node)
                    .map(|_| (UnitKind::Pod, layout.pods_per_instance));
                let whole = (0..layout.vm_instances_per_node).map(|_| (UnitKind::Instance, 1));
                for (kind, units) in pod_instances.chain(whole) {
                    let inst = fleet.instances.len() as u32;
                    let first = fleet.pod_instance.len() as PodId;
                    fleet.instances.push(Instance {
                        node: node_id,
                        first_pod: first,
                        kind,
                    });
                    fleet
                        .pod_instance
                        .extend(std::iter::repeat_n(inst, units as usize));
                }
                let end = fleet.pod_instance.len() as PodId;
                fleet.nodes.push(Node {
                    region: r as RegionId,
                    pods: (node_first_pod, end),
                });
            }
            fleet.regions.push(Region {
                id: layout.id.clone(),
                lat: layout.lat,
                lon: layout.lon,
                serves: layout.serves,
                nodes: (first_node, fleet.nodes.len() as NodeId),
                pods: (first_pod, fleet.pod_instance.len() as PodId),
            });
        }
        fleet
    }

    /// Every region, by [`RegionId`].
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Number of edge nodes.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of pods.
    pub fn pod_count(&self) -> usize {
        self.pod_instance.len()
    }

    /// The pods of node `node`, as a range of ids.
    pub fn node_pods(&self, node: NodeId) -> (PodId, PodId) {
        self.nodes[node as usize].pods
    }

    /// The region of node `node`.
    pub fn node_region(&self, node: NodeId) -> RegionId {
        self.nodes[node as usize].region
    }

    /// The node that hosts `pod`.
    pub fn pod_node(&self, pod: PodId) -> NodeId {
        self.instances[self.pod_instance[pod as usize] as usize].node
    }

    /// The region that hosts `pod`.
    pub fn pod_region(&self, pod: PodId) -> RegionId {
        self.node_region(self.pod_node(pod))
    }

    /// Number of instances (container and whole).
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// The instance number that hosts `pod`.
    pub fn instance_of(&self, pod: PodId) -> u32 {
        self.pod_instance[pod as usize]
    }

    /// Whether `pod` is a pod or a whole instance.
    pub fn unit_kind(&self, pod: PodId) -> UnitKind {
        self.instances[self.pod_instance[pod as usize] as usize].kind
    }

    /// The first unit of the instance that hosts `pod`, and its unit count.
    pub fn instance_units(&self, pod: PodId) -> (PodId, u32) {
        let inst = self.pod_instance[pod as usize] as usize;
        let first = self.instances[inst].first_pod;
        let end = self
            .instances
            .get(inst + 1)
            .map_or(self.pod_instance.len() as PodId, |i| i.first_pod);
        (first, end - first)
    }

    /// The region with this id.
    pub fn find_region(&self, id: &str) -> Option<RegionId> {
        self.regions
            .iter()
            .position(|r| r.id == id)
            .map(|i| i as RegionId)
    }

    /// Instance id, address, index and ports of `pod`.
    pub fn address(&self, pod: PodId) -> PodAddress {
        let inst = self.pod_instance[pod as usize];
        let index = pod - self.instances[inst as usize].first_pod;
        let first_port = self.ports.first_port + (index as u16) * self.ports.ports_per_pod;
        PodAddress {
            instance_id: instance_id(inst),
            instance_ip: crate::geo::ip_string(self.ports.first_instance_ip.wrapping_add(inst)),
            index,
            first_port,
            last_port: first_port + self.ports.ports_per_pod - 1,
        }
    }
}

/// A stable, realistic-looking instance id for instance number `n`.
fn instance_id(n: u32) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut state = u64::from(n) ^ 0x5851_f42d_4c95_7f2d;
    let mut id = String::with_capacity(27);
    id.push_str("i-");
    for _ in 0..25 {
        state = splitmix64(state);
        id.push(DIGITS[(state % 36) as usize] as char);
    }
    id
}

/// One step of SplitMix64: a cheap, well-mixed 64-bit hash.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_regions() -> Fleet {
        let layout = |id: &str, nodes| RegionLayout {
            id: id.into(),
            lat: 30.0,
            lon: 120.0,
            serves: IspSet::ALL,
            nodes,
            instances_per_node: 2,
            pods_per_instance: 3,
            vm_instances_per_node: 0,
        };
        let ports = PortLayout {
            first_instance_ip: 0x0a00_0001,
            first_port: 10000,
            ports_per_pod: 9,
        };
        Fleet::new(&[layout("a", 1), layout("b", 2)], ports)
    }

    #[test]
    fn pods_are_numbered_region_by_region() {
        let fleet = two_regions();
        assert_eq!(fleet.pod_count(), 6 + 12);
        assert_eq!(fleet.regions()[1].pods, (6, 18));
        assert_eq!(fleet.pod_region(5), 0);
        assert_eq!(fleet.pod_region(6), 1);
        assert_eq!(fleet.pod_node(17), 2);
    }

    #[test]
    fn a_pod_address_gives_its_index_and_port_range() {
        let fleet = two_regions();
        let a = fleet.address(4); // instance 1, index 1
        assert_eq!(a.index, 1);
        assert_eq!((a.first_port, a.last_port), (10009, 10017));
        assert_eq!(a.instance_ip, "10.0.0.2");
        assert_eq!(a.instance_id.len(), 27);
        assert_eq!(a.instance_id, fleet.address(3).instance_id);
        assert_ne!(a.instance_id, fleet.address(0).instance_id);
    }

    #[test]
    fn whole_instances_follow_the_pods_of_their_node() {
        let layout = RegionLayout {
            id: "a".into(),
            lat: 30.0,
            lon: 120.0,
            serves: IspSet::ALL,
            nodes: 2,
            instances_per_node: 1,
            pods_per_instance: 2,
            vm_instances_per_node: 3,
        };
        let ports = PortLayout {
            first_instance_ip: 1,
            first_port: 80,
            ports_per_pod: 9,
        };
        let fleet = Fleet::new(&[layout], ports);
        assert_eq!(fleet.pod_count(), 10);
        assert_eq!(fleet.node_pods(1), (5, 10));
        assert_eq!(fleet.unit_kind(1), UnitKind::Pod);
        assert_eq!(fleet.unit_kind(2), UnitKind::Instance);
        assert_eq!(fleet.instance_units(3), (3, 1));
        assert_eq!(fleet.instance_units(6), (5, 2));
        assert_eq!(fleet.address(4).index, 0);
        assert_eq!(fleet.address(4).first_port, 80);
    }
}
