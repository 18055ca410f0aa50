//! Service-to-service mode: the routes of a user service (`targets/CONTRACT.md`,
//! "Service-to-service mode"), registered only when `ORDERS_URL` is set. They call the order
//! service through the process's one [`OrdersClient`], a static like the stores since hooks
//! carry no state.
//!
//! hyperlane matches routes on the path alone, so `/api/users/{id}/orders` gets one hook for
//! both its methods here: GET is the local list, exactly as without `ORDERS_URL`, POST goes to
//! the order service.

use std::sync::OnceLock;

use hyperlane::*;
use target_store::downstream::{Summary, UserOrder};
use target_store::hyper_client::OrdersClient;
use target_store::order_total;

use crate::store::{Store, User};
use crate::{answer_user_orders, set_error, set_json, set_store_error, user_id_param};

/// The process's client to the order service, made at startup by [`install`].
static ORDERS: OnceLock<OrdersClient> = OnceLock::new();

/// Makes `client` the one the routes use (the first, if called twice).
pub fn install(client: OrdersClient) {
    ORDERS.get_or_init(|| client);
}

fn orders() -> &'static OrdersClient {
    ORDERS
        .get()
        .expect("the order service's client is installed before its routes are")
}

/// The id rules, then the user from this service's own store; `None` once the 400, 404 or
/// 503 is set on the response.
async fn known_user<S: Store>(store: &S, ctx: &mut Context) -> Option<User> {
    let id = user_id_param(ctx)?;
    match store.user(id).await {
        Ok(Some(user)) => Some(user),
        Ok(None) => {
            set_error(ctx, 404, "user not found");
            None
        }
        Err(error) => {
            set_store_error(ctx, error);
            None
        }
    }
}

/// `GET /api/users/{id}/summary`.
pub struct SummaryRoute<S: 'static>(&'static S, &'static OrdersClient);

impl<S: Store> ServerHook for SummaryRoute<S> {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self(S::global(), orders())
    }

    async fn handle(self, _: &mut Stream, ctx: &mut Context) -> Status {
        if !crate::allow_method(ctx, "GET") {
            return Status::Continue;
        }
        let Some(user) = known_user(self.0, ctx).await else {
            return Status::Continue;
        };
        let orders = self.1.user_orders(user.id).await.ok();
        let degraded = orders.is_none();
        let body = serde_json::to_vec(&Summary::new(user, orders)).expect("summary serializes");
        set_json(ctx, 200, &body);
        if degraded {
            ctx.get_mut_response().set_header("x-degraded", "true");
        }
        Status::Continue
    }
}

/// `/api/users/{id}/orders` on a user service: GET as always, POST through the order service.
pub struct UserOrdersChainRoute<S: 'static>(&'static S, &'static OrdersClient);

impl<S: Store> ServerHook for UserOrdersChainRoute<S> {
    async fn new(_: &mut Stream, _: &mut Context) -> Self {
        Self(S::global(), orders())
    }

    async fn handle(self, _: &mut Stream, ctx: &mut Context) -> Status {
        let method = ctx.get_request().get_method().to_string();
        match method.as_str() {
            "GET" => answer_user_orders(self.0, ctx).await,
            "POST" => self.create(ctx).await,
            _ => {
                set_error(ctx, 405, "method not allowed");
                ctx.get_mut_response().set_header(ALLOW, "GET, POST");
            }
        }
        Status::Continue
    }
}

impl<S: Store> UserOrdersChainRoute<S> {
    async fn create(&self, ctx: &mut Context) {
        // The user comes first: an unknown user is a 404 whatever the body holds.
        let Some(user) = known_user(self.0, ctx).await else {
            return;
        };
        let body = match ctx.get_request().try_get_body_json::<UserOrder>() {
            Ok(body) => body,
            Err(error) => return set_error(ctx, 400, &format!("invalid order: {error}")),
        };
        if let Err(message) = order_total(&body.items) {
            return set_error(ctx, 400, &format!("invalid order: {message}"));
        }
        match self.1.create_order(user.id, &body.items).await {
            Ok(order) => set_json(
                ctx,
                201,
                &serde_json::to_vec(&order).expect("order serializes"),
            ),
            Err(error) => set_error(ctx, 503, &error.message()),
        }
    }
}
