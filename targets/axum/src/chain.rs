//! Service-to-service mode: the two routes of a user service (`targets/CONTRACT.md`,
//! "Service-to-service mode"), registered only when `ORDERS_URL` is set. They call the order
//! service through the process's one [`OrdersClient`], held in their own router state so the
//! other routes keep exactly the state they have without `ORDERS_URL`.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use target_store::downstream::{Summary, UserOrder};
use target_store::hyper_client::OrdersClient;
use target_store::{order_total, Order, Store, User};

use crate::{invalid_order, parse_user_id, ApiError};

/// Set on a summary answered without the order service's list.
const X_DEGRADED: HeaderName = HeaderName::from_static("x-degraded");

/// The user service's state: its own users, and the order service's client.
#[derive(Clone)]
struct Chain<S> {
    store: S,
    orders: Arc<OrdersClient>,
}

/// The user service's routes, with their state already given, ready to merge into a
/// router of any state type.
pub fn routes<S: Store, T: Clone + Send + Sync + 'static>(
    store: S,
    orders: Arc<OrdersClient>,
) -> Router<T> {
    Router::new()
        .route("/api/users/{id}/summary", get(summary::<S>))
        .route("/api/users/{id}/orders", post(create_user_order::<S>))
        .with_state(Chain { store, orders })
}

/// The id rules, then the user from this service's own store (404 when there is none).
async fn known_user<S: Store>(store: &S, raw_id: &str) -> Result<User, ApiError> {
    let id = parse_user_id(raw_id)?;
    store
        .user(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "user not found"))
}

async fn summary<S: Store>(
    State(chain): State<Chain<S>>,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = known_user(&chain.store, &raw_id).await?;
    Ok(match chain.orders.user_orders(user.id).await {
        Ok(orders) => Json(Summary::new(user, Some(orders))).into_response(),
        Err(_) => {
            let degraded = [(X_DEGRADED, HeaderValue::from_static("true"))];
            (degraded, Json(Summary::new(user, None))).into_response()
        }
    })
}

async fn create_user_order<S: Store>(
    State(chain): State<Chain<S>>,
    Path(raw_id): Path<String>,
    payload: Result<Json<UserOrder>, JsonRejection>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    // The user comes first: an unknown user is a 404 whatever the body holds.
    let user = known_user(&chain.store, &raw_id).await?;
    let Json(body) = payload.map_err(|rejection| invalid_order(rejection.body_text()))?;
    order_total(&body.items).map_err(invalid_order)?;
    match chain.orders.create_order(user.id, &body.items).await {
        Ok(order) => Ok((StatusCode::CREATED, Json(order))),
        Err(error) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            error.message(),
        )),
    }
}
