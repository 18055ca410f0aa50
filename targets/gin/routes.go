package main

// The Gin router: the contract's routes, request binding/validation, and JSON 404/405.

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
)

const maxUserID = 1_000_000

var integerSegment = regexp.MustCompile(`^-?[0-9]+$`)

// orderRequest is the body of POST /api/orders. Pointers make a missing field (or
// null) distinguishable from a zero value, which is valid for the ids.
type orderRequest struct {
	UserID *uint64            `json:"user_id" binding:"required"`
	Items  []orderItemRequest `json:"items" binding:"required,min=1,dive"`
}

type orderItemRequest struct {
	ProductID *uint64  `json:"product_id" binding:"required"`
	Quantity  *int64   `json:"quantity" binding:"required,min=1"`
	Price     *float64 `json:"price" binding:"required,gte=0"`
}

// user is the body of GET /api/users/:id.
type user struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

// describeBindError keeps error bodies to one line: the validator lists every failed
// field on its own line, the first is enough to tell the client what is wrong.
func describeBindError(err error) string {
	var failed validator.ValidationErrors
	if errors.As(err, &failed) && len(failed) > 0 {
		first := failed[0]
		return fmt.Sprintf("%s fails the %q rule", first.Namespace(), first.ActualTag())
	}
	return err.Error()
}

func errorBody(format string, args ...any) gin.H {
	return gin.H{"error": fmt.Sprintf(format, args...)}
}

// storeFailed answers a store error: 400 for an order the store cannot hold, 503 when the
// database failed.
func storeFailed(c *gin.Context, err error) {
	var invalid *invalidOrderError
	if errors.As(err, &invalid) {
		c.JSON(http.StatusBadRequest, errorBody("invalid order: %s", invalid.reason))
		return
	}
	c.JSON(http.StatusServiceUnavailable, errorBody("database unavailable: %s", err))
}

// newRouter builds the router; orders is the order service's client on a user service
// (ORDERS_URL set), nil otherwise, and only then are the user service's routes added.
func newRouter(store Store, orders *orderClient) *gin.Engine {
	// No logger middleware: access logging is off in the benchmark, as for every target.
	router := gin.New()
	router.Use(gin.Recovery())
	router.HandleMethodNotAllowed = true
	// Gin's default answers /health/ with an HTML 301; outside the contract's paths every
	// answer is the JSON 404.
	router.RedirectTrailingSlash = false

	router.GET("/health", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "healthy", "timestamp": time.Now().UnixMilli()})
	})
	router.GET("/api/users/:id", func(c *gin.Context) {
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
		c.JSON(http.StatusOK, found)
	})
	router.GET("/api/users/:id/orders", func(c *gin.Context) {
		id, ok := userIDParam(c)
		if !ok {
			return
		}
		orders, err := store.OrdersOf(c.Request.Context(), uint64(id))
		if err != nil {
			storeFailed(c, err)
			return
		}
		c.JSON(http.StatusOK, orders)
	})
	router.POST("/api/orders", func(c *gin.Context) {
		var req orderRequest
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, errorBody("invalid order: %s", describeBindError(err)))
			return
		}
		items, total, ok := orderItems(c, req.Items)
		if !ok {
			return
		}
		order, err := store.Create(c.Request.Context(), *req.UserID, items, total)
		if err != nil {
			storeFailed(c, err)
			return
		}
		c.JSON(http.StatusCreated, order)
	})

	if orders != nil {
		addUserServiceRoutes(router, store, orders)
	}

	router.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, errorBody("no route for %s %s", c.Request.Method, c.Request.URL.Path))
	})
	router.NoMethod(func(c *gin.Context) {
		c.JSON(http.StatusMethodNotAllowed,
			errorBody("method %s not allowed on %s", c.Request.Method, c.Request.URL.Path))
	})
	return router
}

// orderItems turns bound items into the order's items and their total. It answers the
// 400 itself and reports false when the total is not a finite number.
func orderItems(c *gin.Context, bound []orderItemRequest) ([]OrderItem, float64, bool) {
	items := make([]OrderItem, len(bound))
	total := 0.0
	for i, item := range bound {
		items[i] = OrderItem{ProductID: *item.ProductID, Quantity: *item.Quantity, Price: *item.Price}
		total += items[i].Price * float64(items[i].Quantity)
	}
	if math.IsInf(total, 0) || math.IsNaN(total) {
		c.JSON(http.StatusBadRequest, errorBody("order total (sum of price * quantity) is not a finite number"))
		return nil, 0, false
	}
	return items, total, true
}

// userIDParam parses the :id path segment, answering 400 for a non-integer and 404 for
// an integer outside 1..=maxUserID. It reports whether the handler should go on.
func userIDParam(c *gin.Context) (int64, bool) {
	raw := c.Param("id")
	// ParseInt alone would also take "+5"; the contract's integers are -?[0-9]+.
	if !integerSegment.MatchString(raw) {
		c.JSON(http.StatusBadRequest, errorBody("user id must be an integer, got %q", raw))
		return 0, false
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 || id > maxUserID {
		c.JSON(http.StatusNotFound, errorBody("user %s not found", raw))
		return 0, false
	}
	return id, true
}
