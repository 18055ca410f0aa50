package main

// The Store interface the routes use, and its in-memory implementation (the default): one
// store per process, shared by all goroutines behind a mutex, keeping at most
// ordersPerUser orders per user, newest first. The PostgreSQL one is in postgres.go.

import (
	"context"
	"fmt"
	"sync"
	"time"
)

const ordersPerUser = 16

// OrderItem is one order line, as stored and returned.
type OrderItem struct {
	ProductID uint64  `json:"product_id"`
	Quantity  int64   `json:"quantity"`
	Price     float64 `json:"price"`
}

// Order is a created order, as returned by POST /api/orders and GET /api/users/:id/orders.
type Order struct {
	ID        uint64      `json:"id"`
	UserID    uint64      `json:"user_id"`
	Items     []OrderItem `json:"items"`
	Total     float64     `json:"total"`
	Status    string      `json:"status"`
	CreatedAt int64       `json:"created_at"`
}

// Store is where users and orders live. Ids reaching a store are already in the
// contract's ranges (users 1..=1000000, a validated order).
type Store interface {
	// User returns the user, or nil if there is none.
	User(ctx context.Context, id int64) (*user, error)
	// OrdersOf returns the user's newest orders (at most 16), newest first.
	OrdersOf(ctx context.Context, userID uint64) ([]Order, error)
	// Create stores a new order with its items and returns it with its id.
	Create(ctx context.Context, userID uint64, items []OrderItem, total float64) (Order, error)
}

// invalidOrderError is an order that is valid JSON but cannot be stored (a 400); any
// other store error means the database failed (a 503).
type invalidOrderError struct{ reason string }

func (e *invalidOrderError) Error() string { return e.reason }

// orderStore keeps orders in memory and computes users from their id.
type orderStore struct {
	mu     sync.Mutex
	lastID uint64
	byUser map[uint64][]Order
}

func newOrderStore() *orderStore {
	return &orderStore{byUser: make(map[uint64][]Order)}
}

// User never fails: every id in range is a user.
func (s *orderStore) User(_ context.Context, id int64) (*user, error) {
	return &user{
		ID:    id,
		Name:  fmt.Sprintf("User %d", id),
		Email: fmt.Sprintf("user%d@example.com", id),
	}, nil
}

// Create assigns the next id and stores the order; id assignment and insertion share
// one lock so a user's list is always in id order.
func (s *orderStore) Create(_ context.Context, userID uint64, items []OrderItem, total float64) (Order, error) {
	order := Order{
		UserID:    userID,
		Items:     items,
		Total:     total,
		Status:    "created",
		CreatedAt: time.Now().UnixMilli(),
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastID++
	order.ID = s.lastID
	old := s.byUser[userID]
	kept := len(old)
	if kept > ordersPerUser-1 {
		kept = ordersPerUser - 1
	}
	// A fresh slice each time: readers may still hold the previous one.
	fresh := make([]Order, 0, kept+1)
	fresh = append(fresh, order)
	fresh = append(fresh, old[:kept]...)
	s.byUser[userID] = fresh
	return order, nil
}

// OrdersOf returns the user's orders, newest first. The returned slice is never
// modified afterwards, so it can be serialized without holding the lock.
func (s *orderStore) OrdersOf(_ context.Context, userID uint64) ([]Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	orders := s.byUser[userID]
	if orders == nil {
		return []Order{}, nil
	}
	return orders, nil
}
