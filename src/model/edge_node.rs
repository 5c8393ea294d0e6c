//! The edge node: owns the true state of its pods and activates them.

use rand_pcg::Pcg64Mcg;

use super::{Actor, Addr, Ctx, Msg, Observation};
use crate::fleet::{NodeId, PodId, RegionId};

/// An edge node hosting a contiguous run of pods.
pub struct EdgeNode {
    region: RegionId,
    first_pod: PodId,
    busy: Vec<bool>,
    rng: Pcg64Mcg,
}

impl EdgeNode {
    /// Node `id` with pods `pods.0 .. pods.1`, all idle.
    pub fn new(_id: NodeId, region: RegionId, pods: (PodId, PodId), rng: Pcg64Mcg) -> EdgeNode {
        EdgeNode {
            region,
            first_pod: pods.0,
            busy: vec![false; (pods.1 - pods.0) as usize],
            rng,
        }
    }

    /// Pods that are busy now.
    pub fn busy_pods(&self) -> usize {
        self.busy.iter().filter(|&&b| b).count()
    }

    fn set_busy(&mut self, pod: PodId, busy: bool, ctx: &mut Ctx<'_>) {
        let slot = &mut self.busy[(pod - self.first_pod) as usize];
        if *slot != busy {
            *slot = busy;
            ctx.record(Observation::PodBusy {
                region: self.region,
                busy,
            });
        }
    }
}

impl Actor for EdgeNode {
    fn handle(&mut self, msg: Msg, ctx: &mut Ctx<'_>) {
        match msg {
            Msg::Activate {
                pod,
                request,
                scheduler,
                request_id,
            } => {
                self.set_busy(pod, true, ctx);
                let delay = ctx.env.activation.sample(&mut self.rng)
                    + ctx.env.network.region_delay(self.region, &mut self.rng);
                ctx.send(
                    Addr::Scheduler(scheduler),
                    delay,
                    Msg::Activated {
                        pod,
                        request,
                        request_id,
                    },
                );
            }
            Msg::Release { pod } => self.set_busy(pod, false, ctx),
            _ => {}
        }
    }
}
