//! The actix engine: every actor hosted by an actix actor.
//!
//! The driver pops the next event from the shared queue, sends it to the
//! actix actor that hosts the recipient, and awaits the effects it hands back
//! before popping the next one. Actix thus carries every message, while the
//! queue alone decides the order, so the run gives the same results as the
//! default engine. The same hosts are what a wall-clock mode will run
//! concurrently.

use std::marker::PhantomData;
use std::sync::Arc;

use actix::prelude::*;

use super::{Driver, World};
use crate::model::{self, Addr as To, Ctx, Effect, Env, Msg};
use crate::time::SimTime;

/// An actix actor hosting one model actor.
pub struct Host<A> {
    actor: Option<A>,
    env: Arc<Env>,
}

impl<A: model::Actor + Send + Unpin + 'static> Actor for Host<A> {
    type Context = Context<Self>;
}

/// Deliver `msg` at `now`; the answer is the effects.
pub struct Deliver {
    /// The instant of delivery.
    pub now: SimTime,
    /// The recipient's address.
    pub to: To,
    /// The message.
    pub msg: Msg,
}

impl Message for Deliver {
    type Result = Vec<Effect>;
}

impl<A: model::Actor + Send + Unpin + 'static> Handler<Deliver> for Host<A> {
    type Result = MessageResult<Deliver>;

    fn handle(&mut self, d: Deliver, _: &mut Context<Self>) -> Self::Result {
        let mut effects = Vec::new();
        if let Some(actor) = self.actor.as_mut() {
            let mut ctx = Ctx::new(d.now, d.to, &self.env, &mut effects);
            actor.handle(d.msg, &mut ctx);
        }
        MessageResult(effects)
    }
}

/// Hand the hosted actor back, ending the host.
pub struct TakeBack<A>(PhantomData<A>);

impl<A: Send + 'static> Message for TakeBack<A> {
    type Result = Option<A>;
}

impl<A: model::Actor + Send + Unpin + 'static> Handler<TakeBack<A>> for Host<A> {
    type Result = MessageResult<TakeBack<A>>;

    fn handle(&mut self, _: TakeBack<A>, ctx: &mut Context<Self>) -> Self::Result {
        ctx.stop();
        MessageResult(self.actor.take())
    }
}

fn host<A: model::Actor + Send + Unpin + 'static>(actor: A, env: &Arc<Env>) -> Addr<Host<A>> {
    Host {
        actor: Some(actor),
        env: env.clone(),
    }
    .start()
}

async fn take_back<A: model::Actor + Send + Unpin + 'static>(
    addr: Addr<Host<A>>,
) -> Result<A, MailboxError> {
    addr.send(TakeBack(PhantomData))
        .await?
        .ok_or(MailboxError::Closed)
}

async fn take_all<A: model::Actor + Send + Unpin + 'static>(
    addrs: Vec<Addr<Host<A>>>,
) -> Result<Vec<A>, MailboxError> {
    let mut actors = Vec::with_capacity(addrs.len());
    for a in addrs {
        actors.push(take_back(a).await?);
    }
    Ok(actors)
}

/// Runs `world` on actix until the driver's end; returns the world.
pub fn run(world: World, env: Arc<Env>, driver: &mut Driver) -> Result<World, MailboxError> {
    let system = System::new();
    system.block_on(async move {
        let source = host(world.source, &env);
        let devices: Vec<_> = world.devices.into_iter().map(|a| host(a, &env)).collect();
        let schedulers: Vec<_> = world
            .schedulers
            .into_iter()
            .map(|a| host(a, &env))
            .collect();
        let nodes: Vec<_> = world.nodes.into_iter().map(|a| host(a, &env)).collect();

        while let Some((now, to, msg)) = driver.next_event() {
            let d = Deliver { now, to, msg };
            let mut effects = match to {
                To::Source => source.send(d).await?,
                To::Device(i) => devices[i as usize].send(d).await?,
                To::Scheduler(i) => schedulers[i as usize].send(d).await?,
                To::Node(i) => nodes[i as usize].send(d).await?,
            };
            driver.apply(now, &mut effects);
        }

        Ok(World {
            source: take_back(source).await?,
            devices: take_all(devices).await?,
            schedulers: take_all(schedulers).await?,
            nodes: take_all(nodes).await?,
        })
    })
}
