package main

// The routes a user service adds (ORDERS_URL set): a user's summary with the orders its
// order service holds, and order creation forwarded to the order service.

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// userSummary is the body of GET /api/users/:id/summary, fields in the contract's order.
// Orders is nil (JSON null) on a fallback.
type userSummary struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Email    string  `json:"email"`
	Orders   []Order `json:"orders"`
	Degraded bool    `json:"degraded"`
}

// userOrderRequest is the body of POST /api/users/:id/orders. It has no user_id field, so
// one in the body is skipped unread whatever its type: the path names the user.
type userOrderRequest struct {
	Items []orderItemRequest `json:"items" binding:"required,min=1,dive"`
}

// itemLimiter is a store whose POST /api/orders refuses items the memory store accepts
// (PostgreSQL's BIGINT); the same items are refused here before calling the order service.
type itemLimiter interface {
	checkItems(items []OrderItem) error
}

func addUserServiceRoutes(router *gin.Engine, store Store, orders *orderClient) {
	router.GET("/api/users/:id/summary", func(c *gin.Context) {
		id, ok := userIDParam(c)
		if !ok {
			return
		}
		found, err := store.User(c.Request.Context(), id)
		if err != nil {
			storeFailed(c, err)
			return
		}
		if found == nil {
			c.JSON(http.StatusNotFound, errorBody("user %d not found", id))
			return
		}
		summary := userSummary{ID: found.ID, Name: found.Name, Email: found.Email}
		summary.Orders, err = orders.ordersOf(c.Request.Context(), id)
		if err != nil {
			summary.Orders = nil
			summary.Degraded = true
			c.Header("X-Degraded", "true")
		}
		c.JSON(http.StatusOK, summary)
	})

	router.POST("/api/users/:id/orders", func(c *gin.Context) {
		id, ok := userIDParam(c)
		if !ok {
			return
		}
		var req userOrderRequest
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, errorBody("invalid order: %s", describeBindError(err)))
			return
		}
		items, _, ok := orderItems(c, req.Items)
		if !ok {
			return
		}
		if limiter, limited := store.(itemLimiter); limited {
			if err := limiter.checkItems(items); err != nil {
				storeFailed(c, err)
				return
			}
		}
		created, err := orders.createOrder(c.Request.Context(), id, items)
		if err != nil {
			c.JSON(http.StatusServiceUnavailable, errorBody("orders unavailable: %s", err))
			return
		}
		c.JSON(http.StatusCreated, created)
	})
}
