//! The default engine: a plain loop that pops an event and calls its actor.

use super::{Driver, World};
use crate::model::{Ctx, Env};

/// Runs `world` until the driver's end; returns the world for inspection.
pub fn run(mut world: World, env: &Env, driver: &mut Driver) -> World {
    let mut effects = Vec::with_capacity(16);
    while let Some((now, to, msg)) = driver.next_event() {
        let mut ctx = Ctx::new(now, to, env, &mut effects);
        world.deliver(to, msg, &mut ctx);
        driver.apply(now, &mut effects);
    }
    world
}
